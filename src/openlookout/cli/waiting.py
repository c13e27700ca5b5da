"""Polling DescribeDataset until an asynchronous dataset change reaches a final state."""

from __future__ import annotations

import re
import time
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from openlookout.cli.api import ApiClient
from openlookout.cli.render import stderr

_COUNTS = re.compile(r"(\d+)\s*(?:/|of)\s*(\d+)")


def import_counts(message: str | None) -> tuple[int, int] | None:
    """``(done, total)`` when a status message carries progress such as 'importing 120/500'."""
    if not message:
        return None
    found = _COUNTS.search(message)
    if found is None:
        return None
    done, total = int(found.group(1)), int(found.group(2))
    return (done, total) if total > 0 and done <= total else None


def wait_for_dataset(
    api: ApiClient,
    project: str,
    dataset_type: str,
    *,
    timeout: float = 3600.0,
    interval: float = 0.5,
) -> dict[str, Any]:
    """Poll until the dataset's status no longer ends in ``_IN_PROGRESS``; returns its description."""
    deadline = time.monotonic() + timeout
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as progress:
        task = progress.add_task(f"{project}/{dataset_type}", total=None)
        while True:
            description: dict[str, Any] = api.lv.describe_dataset(
                ProjectName=project, DatasetType=dataset_type
            )["DatasetDescription"]
            status = str(description.get("Status", ""))
            if not status.endswith("_IN_PROGRESS"):
                return description
            counts = import_counts(description.get("StatusMessage"))
            label = f"{project}/{dataset_type}: {status.lower().replace('_', ' ')}"
            if counts is not None:
                progress.update(task, description=label, completed=counts[0], total=counts[1])
            else:
                progress.update(task, description=label)
            if time.monotonic() > deadline:
                return description
            time.sleep(interval)
