"""Training wall time for lfv-circuitboard end to end through the API.

Starts an in-process server (see ``detect_latency.local_server``) allowed to read the dataset
folder, imports ``train/`` and ``test/`` (normal/ and anomaly/ sub-folders) with the folder-import
extension route, then times CreateModel -> TRAINED through boto3 and prints the model's
performance. Usage:

    python benchmarks/train_circuitboard.py --dataset ../shared/datasets/lfv-circuitboard
                                            [--preset default|fast|highres]

This is a measurement, not a test: it prints figures and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_latency import clients, local_server, wait_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", type=Path, required=True, help="the lfv-circuitboard folder (train/ and test/)"
    )
    parser.add_argument("--preset", default="default", choices=["default", "fast", "highres"])
    args = parser.parse_args()
    root = args.dataset.resolve()
    with local_server({"training_preset": args.preset}, allow_local_roots=(root,)) as local:
        lv, s3 = clients(local)
        s3.create_bucket(Bucket="circuitboard-output")
        lv.create_project(ProjectName="circuitboard")
        started = time.monotonic()
        with httpx.Client(timeout=60) as http:
            for dataset_type in ("train", "test"):
                folder = root / dataset_type
                if not folder.is_dir():
                    continue
                http.post(
                    f"{local.url}/openlookout/v1/projects/circuitboard/datasets/{dataset_type}/import",
                    json={"Source": str(folder), "Labeled": True},
                ).raise_for_status()
        for dataset_type in ("train", "test"):
            while True:
                try:
                    status = lv.describe_dataset(ProjectName="circuitboard", DatasetType=dataset_type)[
                        "DatasetDescription"
                    ]
                except lv.exceptions.ResourceNotFoundException:
                    break
                if not status["Status"].endswith("IN_PROGRESS"):
                    print(f"{dataset_type}: {status['Status']} {status['ImageStats']}")
                    break
                time.sleep(0.5)
        imported = time.monotonic()
        lv.create_model(
            ProjectName="circuitboard", OutputConfig={"S3Location": {"Bucket": "circuitboard-output"}}
        )
        trained = wait_model(lv, "circuitboard", {"TRAINED", "TRAINING_FAILED"})
        ended = time.monotonic()
        print(
            f"import: {imported - started:.1f} s; training ({args.preset}): {ended - imported:.1f} s; "
            f"end to end: {ended - started:.1f} s; status {trained['Status']}"
        )
        if trained["Status"] == "TRAINED":
            print(f"performance: {trained['Performance']}")
        else:
            print(f"message: {trained.get('StatusMessage')}")


if __name__ == "__main__":
    main()
