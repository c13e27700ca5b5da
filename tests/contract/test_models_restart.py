"""A server stop during training never leaves a model TRAINING: the job is re-run at the next start,
and a training interrupted too often ends TRAINING_FAILED with a message saying what to do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from tests.contract.test_models_support import FAST_TRAINING, classification_project, wait_model

from openlookout.client import lookoutvision_client
from openlookout.store import jobs as job_store
from openlookout.store.tables import jobs

BUCKET = "models-restart"
OUTPUT = {"S3Location": {"Bucket": "restart-output"}}


def start_interrupted_training(make_server: Any, s3: Any, attempts: int) -> Any:
    """A server that "died" while training model 1 (the job claimed ``attempts`` times)."""
    first = make_server(**FAST_TRAINING)
    lv = lookoutvision_client(first.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket="restart-output")
    classification_project(lv, s3, "resumed", BUCKET)
    first.runtime.jobs.stop()  # no workers: the training job stays as the crash left it
    assert (
        lv.create_model(ProjectName="resumed", OutputConfig=OUTPUT)["ModelMetadata"]["Status"] == "TRAINING"
    )
    with first.runtime.db.begin() as conn:
        job_id = conn.execute(jobs.select().where(jobs.c.kind == "model.train")).one().id
        assert job_store.claim_job(conn, job_id, first.runtime.jobs.node_id)
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(attempts=attempts))
    first.stop()
    return first


def test_training_interrupted_by_a_stop_is_run_again(make_server: Any, s3: Any) -> None:
    first = start_interrupted_training(make_server, s3, attempts=1)
    second = make_server(data_dir=first.data_dir, **FAST_TRAINING)
    lv = lookoutvision_client(second.url, retries={"total_max_attempts": 1})
    described = wait_model(lv, "resumed", "1", {"TRAINED", "TRAINING_FAILED"})
    assert described["Status"] == "TRAINED", described.get("StatusMessage")
    assert set(described["Performance"]) == {"F1Score", "Recall", "Precision"}


def test_training_interrupted_too_often_fails_with_a_message(make_server: Any, s3: Any) -> None:
    first = start_interrupted_training(make_server, s3, attempts=3)
    second = make_server(data_dir=first.data_dir, **FAST_TRAINING)
    lv = lookoutvision_client(second.url, retries={"total_max_attempts": 1})
    described = wait_model(lv, "resumed", "1", {"TRAINED", "TRAINING_FAILED"}, timeout=30)
    assert described["Status"] == "TRAINING_FAILED"
    assert "interrupted by a server restart" in described["StatusMessage"]
    # the project can train again at once (an unusable bucket keeps this one short)
    again = lv.create_model(ProjectName="resumed", OutputConfig={"S3Location": {"Bucket": "missing-bucket"}})
    assert again["ModelMetadata"]["ModelVersion"] == "2"
    assert wait_model(lv, "resumed", "2", {"TRAINING_FAILED"}, timeout=30)["Status"] == "TRAINING_FAILED"
