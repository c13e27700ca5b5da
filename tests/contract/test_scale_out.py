"""Two API servers on one PostgreSQL, one S3 blob store and one Ray cluster serve the same
installation: paging tokens and ClientTokens cross servers, every job runs once, a model trained
on Ray goes on training while the server that started it restarts (which then re-attaches to
it), hosted on Ray Serve (1 to 2 replicas) it answers through both servers, stays hosted (the
same replicas) across a server restart, keeps answering while Ray replaces a killed replica, and
stops through either."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.contract.conftest import LiveServer
from tests.contract.test_models_support import (
    FAST_TRAINING,
    HEIGHT,
    WIDTH,
    classification_project,
    wait_model,
)
from tests.helpers.ray_cluster import RayCluster
from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client
from openlookout.service.model_training import training_key
from openlookout.store.tables import jobs, models

BUCKET = "scale-out-data"
OUTPUT = {"S3Location": {"Bucket": "scale-out-output", "Prefix": "runs/"}}


@pytest.fixture
def start_server(
    make_server: Any, s3: Any, fresh_postgres_url: str, ray_cluster: RayCluster
) -> Callable[..., LiveServer]:
    """Starts a server of the installation (``data_dir=`` restarts one)."""
    s3.create_bucket(Bucket="scale-out-blobs")
    s3.create_bucket(Bucket="scale-out-output")
    shared = {
        "database_url": fresh_postgres_url,
        "blob_url": "s3://scale-out-blobs/installation",
        "engine": "ray",
        "ray_address": ray_cluster.address,
        "paging_secret": "a shared secret of at least thirty-two bytes",
        **FAST_TRAINING,
    }

    def start(**overrides: Any) -> LiveServer:
        return make_server(**shared, **overrides)  # type: ignore[no-any-return]

    return start


def client(server: LiveServer) -> Any:
    return lookoutvision_client(server.url, retries={"total_max_attempts": 1})


def detect(lv: Any, image: bytes) -> dict[str, Any]:
    answer: dict[str, Any] = lv.detect_anomalies(
        ProjectName="plant", ModelVersion="1", Body=image, ContentType="image/png"
    )["DetectAnomalyResult"]
    return answer


def restart(server: LiveServer, start_server: Callable[..., LiveServer]) -> LiveServer:
    """Stop ``server`` and start it again (the same data folder, so the same node id)."""
    server.stop()
    return start_server(data_dir=server.data_dir)


def training_actor(engine: Any, model_id: int) -> Any:
    """The Ray actor running the model's training, once it exists (it is named after the model)."""
    import ray  # only with the ray extra (the ray_cluster fixture skips the test without it)

    name = engine.training_name(training_key(model_id))
    deadline = time.monotonic() + 60
    while True:
        try:
            return ray.get_actor(name, namespace=engine.options.namespace)
        except ValueError:  # not created yet
            assert time.monotonic() < deadline, "no Ray actor runs the training"
            time.sleep(0.02)


def test_servers_share_projects_jobs_and_a_model_on_ray(
    start_server: Callable[..., LiveServer], s3: Any
) -> None:
    first, second = start_server(), start_server()
    a, b = client(first), client(second)

    # a paging token of one server is good on the other
    for name in ("line-1", "line-2", "line-3"):
        a.create_project(ProjectName=name)
    page = a.list_projects(MaxResults=2)
    rest = b.list_projects(MaxResults=2, NextToken=page["NextToken"])
    assert [p["ProjectName"] for p in page["Projects"] + rest["Projects"]] == ["line-1", "line-2", "line-3"]

    # a ClientToken repeated on the other server replays the first answer
    classification_project(a, s3, "plant", BUCKET)
    created = a.create_model(ProjectName="plant", OutputConfig=OUTPUT, ClientToken="train-once")
    again = b.create_model(ProjectName="plant", OutputConfig=OUTPUT, ClientToken="train-once")
    assert again["ModelMetadata"]["ModelArn"] == created["ModelMetadata"]["ModelArn"]
    assert [m["ModelVersion"] for m in b.list_models(ProjectName="plant")["Models"]] == ["1"]

    # the server training it stops mid-way: the training goes on in the cluster, and the server,
    # restarted, takes the job back and waits for that same training
    model_id = created_model_id(first)
    training_actor(first.runtime.engine, model_id)
    with first.runtime.db.begin() as conn:
        owner = conn.execute(jobs.select().where(jobs.c.kind == "model.train")).one().owner
    trainer, other = (first, second) if owner == first.runtime.jobs.node_id else (second, first)
    trainer.stop()
    status = client(other).describe_model(ProjectName="plant", ModelVersion="1")["ModelDescription"]
    assert status["Status"] == "TRAINING"
    # the training's actor runs on with no server waiting for it
    training_actor(other.runtime.engine, model_id)
    trainer = start_server(data_dir=trainer.data_dir)
    first, second = trainer, other
    a, b = client(first), client(second)
    trained = wait_model(b, "plant", "1", {"TRAINED", "TRAINING_FAILED"})
    assert trained["Status"] == "TRAINED", trained.get("StatusMessage")
    with first.runtime.db.begin() as conn:
        job = conn.execute(jobs.select().where(jobs.c.kind == "model.train")).one()
    assert (job.state, job.attempts) == ("done", 2)

    assert a.start_model(ProjectName="plant", ModelVersion="1", MinInferenceUnits=1, MaxInferenceUnits=2)[
        "Status"
    ] in ("STARTING_HOSTING", "HOSTED")
    hosted = wait_model(b, "plant", "1", {"HOSTED", "HOSTING_FAILED"})
    assert hosted["Status"] == "HOSTED", hosted.get("StatusMessage")
    assert (hosted["MinInferenceUnits"], hosted["MaxInferenceUnits"]) == (1, 2)

    normal = png_image(WIDTH, HEIGHT, seed=900)
    anomalous = png_image(WIDTH, HEIGHT, seed=901, defect=True)
    assert detect(a, normal) == detect(b, normal)
    assert detect(b, normal)["IsAnomalous"] is False
    assert detect(a, anomalous)["IsAnomalous"] is True

    # a server restart leaves the model hosted on the same replicas
    engine = second.runtime.engine
    victim = engine.replica_pid(model_id)
    first = restart(first, start_server)
    a = client(first)
    assert a.describe_model(ProjectName="plant", ModelVersion="1")["ModelDescription"]["Status"] == "HOSTED"
    assert detect(a, anomalous)["IsAnomalous"] is True
    assert engine.replica_pid(model_id) == victim

    # kill a replica process: the model keeps answering (a request in the way is retried)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    answered = 0
    while answered < 5:
        assert time.monotonic() < deadline, "the model stopped answering after a replica died"
        try:
            assert detect(b if answered % 2 else a, anomalous)["IsAnomalous"] is True
            answered += 1
        except ClientError as exc:  # only while no replica is left to answer
            assert exc.response["Error"]["Code"] in ("InternalServerException", "ThrottlingException")
            time.sleep(0.5)
    assert b.describe_model(ProjectName="plant", ModelVersion="1")["ModelDescription"]["Status"] == "HOSTED"
    while engine.replica_pid(model_id) == victim:  # Ray has started a replacement
        assert time.monotonic() < deadline, "Ray did not replace the killed replica"
        time.sleep(0.5)

    assert b.stop_model(ProjectName="plant", ModelVersion="1")["Status"] == "STOPPING_HOSTING"
    assert wait_model(a, "plant", "1", {"TRAINED"})["Status"] == "TRAINED"
    with pytest.raises(ClientError) as excinfo:
        detect(a, normal)
    assert excinfo.value.response["Error"]["Code"] == "ConflictException"
    assert not first.runtime.engine.is_deployed(model_id)

    # every other job of the servers ran exactly once
    assert first.runtime.jobs.wait_idle(30) and second.runtime.jobs.wait_idle(30)
    with first.runtime.db.begin() as conn:
        rows = conn.execute(jobs.select().where(jobs.c.kind != "model.train")).all()
    assert [row.kind for row in rows] == ["dataset.import_manifest"]
    reruns = [(row.kind, row.state, row.attempts) for row in rows if (row.state, row.attempts) != ("done", 1)]
    assert reruns == []


def created_model_id(server: LiveServer) -> int:
    with server.runtime.db.begin() as conn:
        return int(conn.execute(models.select()).one().id)
