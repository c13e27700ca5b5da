"""Background jobs survive a server stop: an interrupted dataset import is re-run at the next start."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.helpers.synthetic import png_image

from openlookout.client import lookoutvision_client
from openlookout.store import jobs as job_store
from openlookout.store.tables import jobs

BUCKET = "restart-jobs"


def classification_line(uri: str, label: str) -> str:
    return json.dumps(
        {
            "source-ref": uri,
            "anomaly-label": 1 if label == "anomaly" else 0,
            "anomaly-label-metadata": {
                "class-name": label,
                "type": "groundtruth/image-classification",
                "human-annotated": "yes",
            },
        }
    )


def upload_manifest(s3: Any, count: int) -> str:
    s3.create_bucket(Bucket=BUCKET)
    lines = []
    for index in range(count):
        key = f"images/img-{index}.png"
        s3.put_object(Bucket=BUCKET, Key=key, Body=png_image(seed=index, defect=index % 2 == 1))
        lines.append(classification_line(f"s3://{BUCKET}/{key}", "anomaly" if index % 2 else "normal"))
    s3.put_object(Bucket=BUCKET, Key="train.manifest", Body="\n".join(lines).encode())
    return "train.manifest"


def wait_for_status(client: Any, project: str, wanted: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description: dict[str, Any] = client.describe_dataset(ProjectName=project, DatasetType="train")[
            "DatasetDescription"
        ]
        if description["Status"] in wanted:
            return description
        assert time.monotonic() < deadline, f"dataset stuck in {description['Status']}"
        time.sleep(0.05)


def test_an_import_interrupted_by_a_stop_completes_after_the_restart(make_server: Any, s3: Any) -> None:
    key = upload_manifest(s3, 4)
    first = make_server()
    first.runtime.jobs.stop()  # no workers: the import job stays as the "crash" left it
    client = lookoutvision_client(first.url, retries={"total_max_attempts": 1})
    client.create_project(ProjectName="resumable")
    status = client.create_dataset(
        ProjectName="resumable",
        DatasetType="train",
        DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": BUCKET, "Key": key}}},
    )["DatasetMetadata"]["Status"]
    assert status == "CREATE_IN_PROGRESS"
    with first.runtime.db.begin() as conn:
        job_ids = [row.id for row in conn.execute(jobs.select().where(jobs.c.state == job_store.QUEUED))]
        assert len(job_ids) == 1
        # a worker of this server had started it when the server died
        assert job_store.claim_job(conn, job_ids[0], first.runtime.jobs.node_id)
    first.stop()

    second = make_server(data_dir=first.data_dir)
    assert second.runtime.jobs.node_id == first.runtime.jobs.node_id  # same server, next life
    again = lookoutvision_client(second.url, retries={"total_max_attempts": 1})
    assert second.runtime.jobs.wait_idle(30)
    description = wait_for_status(again, "resumable", {"CREATE_COMPLETE", "CREATE_FAILED"})
    assert description["Status"] == "CREATE_COMPLETE", description.get("StatusMessage")
    assert description["ImageStats"] == {"Total": 4, "Labeled": 4, "Normal": 2, "Anomaly": 2}
    row = second.runtime.jobs.job(job_ids[0])
    assert row is not None and row.state == job_store.DONE and row.attempts == 2
    assert row.owner == second.runtime.jobs.node_id
