"""Background work (dataset imports, later training): in-process workers by default."""

from openlookout.jobs.runner import FailureHook, JobHandler, JobRunner

__all__ = ["FailureHook", "JobHandler", "JobRunner"]
