"""Build and tear down the server's ``Runtime``: the composition root.

``build_runtime`` makes every long-lived part from one ``Settings``: it creates the data directory,
migrates the database, builds the pager with the installation's paging secret, the S3 client, the
blob store and the source reader, the hosting manager and the job runner; registers the job kinds
of the service modules (``JOB_REGISTRARS``) and starts the workers (resuming jobs a stop
interrupted) and the hosted models.
Anything unusable at start-up (data folder, database URL or server, blob store) is reported as a
``StartupError`` whose message names the part and the reason in one line.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from openlookout.blobs import open_blob_store
from openlookout.blobs.base import BlobStore
from openlookout.engine.base import Engine, Storage, StorageAddress
from openlookout.engine.local import LocalEngine
from openlookout.jobs.runner import JobRunner
from openlookout.service import (
    blob_gc,
    dataset_jobs,
    hosting_control,
    metrics_gauges,
    model_training,
    packaging,
    trial_detection,
)
from openlookout.service.context import Runtime
from openlookout.service.paging import MIN_SECRET_BYTES, Pager
from openlookout.settings import Settings
from openlookout.sources.access import parse_grants
from openlookout.sources.reader import SourceReader
from openlookout.sources.s3 import make_s3_client
from openlookout.store import installation, migrate
from openlookout.store.db import Database

log = logging.getLogger(__name__)

# Every job kind the service runs, registered before the workers start so interrupted jobs of
# those kinds resume at once. A module owning job kinds adds its registrar here.
JOB_REGISTRARS: tuple[Callable[[JobRunner], None], ...] = (
    dataset_jobs.register_jobs,
    model_training.register_jobs,
    hosting_control.register_jobs,
    packaging.register_jobs,
    trial_detection.register_jobs,
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
    with _stage("the S3 grants (--s3-allow) are not valid"):
        parse_grants(settings.s3_allow)
    with _stage(f"cannot create the data folder {settings.data_dir}"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    with _stage(
        f"the database URL {_redacted(url)} is not usable (use sqlite:///<file> or postgresql://...)"
    ):
        db = Database(url)
    engine: Engine | None = None
    try:
        with _stage(f"cannot prepare the database {_redacted(url)}"):
            migrate.upgrade(db)
            pager = Pager(_paging_secret(settings, db))
        s3 = make_s3_client(settings.s3_endpoint_url, settings.s3_region or settings.default_region)
        if blobs is None:
            with _stage(f"cannot open the blob store {settings.resolved_blob_url}"):
                blobs = open_blob_store(settings.resolved_blob_url, s3)
        if sources is None:
            sources = SourceReader(settings, blobs=blobs, s3_client=s3)
        with _stage(f"cannot keep the server identity in {settings.data_dir}"):
            identity = node_id(settings.data_dir)
        runner = JobRunner(db, settings.workers, node_id=identity)
        engine = build_engine(settings, db, Storage(blobs, s3))
        runtime = Runtime(
            settings=settings,
            db=db,
            blobs=blobs,
            sources=sources,
            jobs=runner,
            engine=engine,
            pager=pager,
            s3=s3,
        )
        runtime.metrics.watch(metrics_gauges.gauge_sources(runtime))
        register_job_kinds(runner)
        if settings.gc_interval_s > 0:
            runner.every("blob-collector", settings.gc_interval_s, collect_periodically)
        with _stage("cannot start the job workers"):
            runner.start(runtime)
        with _stage("cannot restore the hosted models"):
            hosting_control.restore_hosting(runtime)
    except BaseException:
        if engine is not None:
            engine.shutdown()
        db.dispose()
        raise
    return runtime


ENGINES = ("local", "ray")


def build_engine(settings: Settings, db: Database, storage: Storage) -> Engine:
    """The engine the ``engine`` setting names; Ray is imported only for ``ray``."""
    if settings.engine not in ENGINES:
        raise StartupError(f"unknown engine {settings.engine!r} (choose {' or '.join(ENGINES)})")
    if settings.engine == "local":
        return LocalEngine(
            storage,
            model_file=lambda d: hosting_control.fetch_model_file(
                settings.data_dir, storage.blobs, d.model_id, d.model_blob
            ),
            unit_limit=hosting_control.server_unit_limit(settings),
            max_queue_s=float(settings.detect_queue_s),
        )
    blob_url = settings.resolved_blob_url
    if not blob_url.startswith("s3://") and not settings.ray_shared_blob_dir:
        raise StartupError(
            f"--engine ray needs a blob store every Ray node reaches: use --blob-url s3://bucket/prefix, "
            f"or say that every node mounts {blob_url} at the same path (--ray-shared-blob-dir)"
        )
    if not settings.ray_address:
        raise StartupError("--engine ray needs --ray-address (auto, ray://head:10001 or head:6379)")
    try:
        from openlookout.engine.ray_engine import RayEngine, RayOptions
    except ImportError as exc:
        raise StartupError(f"--engine ray needs Ray: pip install 'openlookout[ray]' ({exc})") from exc
    options = RayOptions(
        address=settings.ray_address,
        namespace=settings.ray_namespace,
        installation=installation.installation_id(db),
        storage=StorageAddress(
            blob_url, settings.s3_endpoint_url, settings.s3_region or settings.default_region
        ),
        training_cpus=settings.ray_training_cpus,
        training_gpus=settings.ray_training_gpus,
        unit_cpus=settings.ray_unit_cpus,
        detect_queue_s=float(settings.detect_queue_s),
        unit_limit=settings.server_inference_units or None,
    )
    with _stage(f"cannot join the Ray cluster at {settings.ray_address}"):
        return RayEngine.connect(options)


def _paging_secret(settings: Settings, db: Database) -> bytes:
    """The ``paging_secret`` setting, else the random secret kept in the installation's database."""
    if not settings.paging_secret:
        return installation.get_or_create_secret(db)
    secret = settings.paging_secret.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise StartupError(f"the paging secret must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


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
    """Let every registrar in ``JOB_REGISTRARS`` register its job kinds."""
    for register in JOB_REGISTRARS:
        register(runner)


def collect_periodically(runtime: Runtime) -> None:
    """One round of the blob collector for a running server (``every`` calls it)."""
    settings = runtime.settings
    report = blob_gc.collect_garbage(
        runtime.db, runtime.blobs, grace_s=settings.gc_grace_s, data_dir=settings.data_dir
    )
    log.info("blob collector: %s", report.summary())


def collect_blobs(
    settings: Settings, *, dry_run: bool, grace_s: float | None = None
) -> blob_gc.CollectionReport:
    """One collection over the database and blob store of ``settings`` (``openlookout gc``): no
    workers, no hosted models, safe beside a running server (``service.blob_gc``)."""
    url = settings.resolved_database_url
    with _stage(f"the database URL {_redacted(url)} is not usable"):
        db = Database(url)
    try:
        with _stage(f"cannot prepare the database {_redacted(url)}"):
            migrate.upgrade(db)
        s3 = make_s3_client(settings.s3_endpoint_url, settings.s3_region or settings.default_region)
        with _stage(f"cannot open the blob store {settings.resolved_blob_url}"):
            blobs = open_blob_store(settings.resolved_blob_url, s3)
        grace = settings.gc_grace_s if grace_s is None else grace_s
        return blob_gc.collect_garbage(db, blobs, grace_s=grace, dry_run=dry_run, data_dir=settings.data_dir)
    finally:
        db.dispose()


def close_runtime(runtime: Runtime, *, timeout: float = 30.0) -> None:
    """Release the engine (local inference units stop; a cluster's trainings and units go on, and
    jobs waiting for them go back to the queue), stop the workers (waiting up to ``timeout`` s for
    running jobs) and close the database."""
    try:
        runtime.engine.shutdown()
    finally:
        try:
            runtime.jobs.stop(timeout)
        finally:
            runtime.db.dispose()
