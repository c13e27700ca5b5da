"""Build and tear down the server's ``Runtime`` (database, blob store, source reader, job workers).

``build_runtime`` is the composition root: it creates the data directory, migrates the database,
installs the installation's paging secret, opens the blob store and the source reader, registers
the job kinds of the service modules and starts the workers (resuming jobs a stop interrupted).
Anything unusable at start-up (data folder, database URL or server, blob store) is reported as a
``StartupError`` whose message names the part and the reason in one line.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from openlookout.jobs.runner import JobRunner
from openlookout.service import paging
from openlookout.service.context import Runtime
from openlookout.settings import Settings
from openlookout.store import installation, migrate
from openlookout.store.db import Database

if TYPE_CHECKING:
    from openlookout.blobs.base import BlobStore
    from openlookout.sources.reader import SourceReader

log = logging.getLogger(__name__)

# (module, function) pairs: service modules that own job kinds and the function that registers
# them on a runner. Called before the workers start so interrupted jobs of those kinds resume at once.
JOB_REGISTRARS: tuple[tuple[str, str], ...] = (
    ("openlookout.service.dataset_jobs", "register_dataset_jobs"),
    ("openlookout.service.model_training", "register_model_jobs"),
    ("openlookout.service.trials", "register_trial_jobs"),
)


class StartupError(RuntimeError):
    """The server cannot start; the message says why in one line (no stack trace needed)."""


@contextmanager
def _stage(what: str) -> Iterator[None]:
    """Turn a failure while doing ``what`` into a StartupError naming it and the cause."""
    try:
        yield
    except StartupError:
        raise
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise StartupError(f"{what}: {detail}") from exc
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StartupError(f"{what}: {detail}") from exc


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def build_runtime(
    settings: Settings,
    *,
    blobs: BlobStore | None = None,
    sources: SourceReader | None = None,
) -> Runtime:
    """Everything a server needs, started. ``blobs``/``sources`` replace the real ones (tests).

    Raises ``StartupError`` with a one-line reason when something it needs is unusable.
    """
    with _stage(f"cannot create the data folder {settings.data_dir}"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    with _stage(
        f"the database URL {_redacted(url)} is not usable (use sqlite:///<file> or postgresql://...)"
    ):
        db = Database(url)
    try:
        with _stage(f"cannot prepare the database {_redacted(url)}"):
            migrate.upgrade(db)
            paging.install_secret(installation.get_or_create_secret(db), installation=db)
        if blobs is None:
            from openlookout.blobs import open_blob_store

            with _stage(f"cannot open the blob store {settings.resolved_blob_url}"):
                blobs = open_blob_store(
                    settings.resolved_blob_url, settings.s3_endpoint_url, settings.s3_region
                )
        if sources is None:
            from openlookout.sources.reader import SourceReader

            sources = SourceReader(settings, blobs=blobs)
        with _stage(f"cannot keep the server identity in {settings.data_dir}"):
            identity = node_id(settings.data_dir)
        runner = JobRunner(db, settings.workers, node_id=identity)
        runtime = Runtime(settings=settings, db=db, blobs=blobs, sources=sources, jobs=runner)
        register_job_kinds(runner)
        with _stage("cannot start the job workers"):
            runner.start(runtime)
        with _stage("cannot restore the hosted models"):
            from openlookout.service.hosting_control import restore_hosting

            restore_hosting(runtime)
    except BaseException:
        db.dispose()
        raise
    return runtime


def node_id(data_dir: Path) -> str:
    """This server's identity for job ownership, kept in ``<data_dir>/node-id`` (made on first start).

    A restarted server recognises the jobs it was running before the stop as its own and resumes
    them at once; jobs of other servers sharing the database are only taken over when stale.
    """
    path = data_dir / "node-id"
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    created = uuid.uuid4().hex
    path.write_text(created + "\n", encoding="ascii")
    return created


def register_job_kinds(runner: JobRunner) -> None:
    """Let every module in ``JOB_REGISTRARS`` register its job kinds."""
    for module_name, function_name in JOB_REGISTRARS:
        register = getattr(importlib.import_module(module_name), function_name)
        register(runner)


def close_runtime(runtime: Runtime, *, timeout: float = 30.0) -> None:
    """Stop the workers (waiting up to ``timeout`` s for running jobs) and close the database."""
    try:
        runtime.jobs.stop(timeout)
    finally:
        from openlookout.service.hosting_control import shutdown_hosting

        shutdown_hosting(runtime)  # the inference units of hosted models
        runtime.db.dispose()
