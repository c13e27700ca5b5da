"""Dataset states (the API model's ``DatasetStatus``) and the sentence each one shows.

A leaf module: the dataset jobs, the dataset handlers and DescribeProject all read it.
"""

from __future__ import annotations

from typing import Any

from openlookout.service import status_messages

CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_COMPLETE = "CREATE_COMPLETE"
CREATE_FAILED = "CREATE_FAILED"
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
ROLLBACK_IN_PROGRESS = "UPDATE_FAILED_ROLLBACK_IN_PROGRESS"
ROLLBACK_COMPLETE = "UPDATE_FAILED_ROLLBACK_COMPLETE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_COMPLETE = "DELETE_COMPLETE"
DELETE_FAILED = "DELETE_FAILED"

STATUS_SENTENCES = {
    CREATE_IN_PROGRESS: "Creating dataset.",
    CREATE_COMPLETE: "Dataset created.",
    CREATE_FAILED: "Dataset creation failed.",
    UPDATE_IN_PROGRESS: "Updating dataset entries.",
    UPDATE_COMPLETE: "Dataset updated.",
    ROLLBACK_IN_PROGRESS: "The update failed; restoring the previous entries.",
    ROLLBACK_COMPLETE: "The update failed; the dataset keeps its previous entries.",
    DELETE_IN_PROGRESS: "Deleting dataset.",
    DELETE_COMPLETE: "Dataset deleted.",
    DELETE_FAILED: "Dataset deletion failed.",
}


def dataset_status_message(status: str, stored: str | None) -> str:
    """The dataset's StatusMessage: the stored reason or progress, else the status's sentence."""
    return status_messages.status_message(status, stored, STATUS_SENTENCES)


def dataset_metadata(dataset_type: str, created_at: float, status: str, stored: str | None) -> dict[str, Any]:
    """The DatasetMetadata structure (CreateDataset, and each of DescribeProject's Datasets)."""
    return {
        "DatasetType": dataset_type,
        "CreationTimestamp": created_at,
        "Status": status,
        "StatusMessage": dataset_status_message(status, stored),
    }
