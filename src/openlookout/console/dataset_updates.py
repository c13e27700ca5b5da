"""Applying Ground Truth lines to a dataset from a page and waiting for the update to finish.

UpdateDatasetEntries runs as a job; a page that changes labels or masks shows the result only
after the dataset has left UPDATE_IN_PROGRESS, so it waits here (briefly) before answering.
"""

from __future__ import annotations

from openlookout.console.calls import call_sync, console_context
from openlookout.errors import ValidationException
from openlookout.service.context import Runtime
from openlookout.service.datasets import wait_until_updated

UPDATE_WAIT_SECONDS = 30.0


def apply_lines(runtime: Runtime, name: str, dataset_type: str, lines: list[str]) -> None:
    """UpdateDatasetEntries with ``lines``; returns when the update is done.

    Raises ValidationException with the dataset's status message when the update fails, and when
    it is still running after ``UPDATE_WAIT_SECONDS``.
    """
    target = {"ProjectName": name, "DatasetType": dataset_type}
    call_sync(runtime, "UpdateDatasetEntries", {**target, "Changes": "\n".join(lines).encode("utf-8")})
    dataset = wait_until_updated(runtime, console_context(runtime), name, dataset_type, UPDATE_WAIT_SECONDS)
    if dataset is None:
        raise ValidationException("The update is still running; reload the page in a moment to see it.")
    if "FAILED" in dataset.status:
        raise ValidationException(dataset.status_message or "The update failed.")
