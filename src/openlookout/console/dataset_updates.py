"""Applying Ground Truth lines to a dataset from a page and waiting for the update to finish.

UpdateDatasetEntries runs as a job; a page that changes labels or masks shows the result only
after the dataset has left UPDATE_IN_PROGRESS, so it waits here (briefly) before answering.
"""

from __future__ import annotations

import time

from openlookout.console.calls import call_sync
from openlookout.errors import ValidationException
from openlookout.service.context import Runtime

UPDATE_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05


def apply_lines(runtime: Runtime, name: str, dataset_type: str, lines: list[str]) -> None:
    """UpdateDatasetEntries with ``lines``; returns when the update is done.

    Raises ValidationException with the dataset's status message when the update fails, and when
    it is still running after ``UPDATE_WAIT_SECONDS``.
    """
    target = {"ProjectName": name, "DatasetType": dataset_type}
    call_sync(runtime, "UpdateDatasetEntries", {**target, "Changes": "\n".join(lines).encode("utf-8")})
    deadline = time.monotonic() + UPDATE_WAIT_SECONDS
    while time.monotonic() < deadline:
        description = call_sync(runtime, "DescribeDataset", target)["DatasetDescription"]
        status = description["Status"]
        if status != "UPDATE_IN_PROGRESS":
            if "FAILED" in status:
                raise ValidationException(description.get("StatusMessage") or "The update failed.")
            return
        time.sleep(POLL_SECONDS)
    raise ValidationException("The update is still running; reload the page in a moment to see it.")
