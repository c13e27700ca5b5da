"""StartModel / StopModel and the jobs that start and stop a model's inference units.

States (spec f.2): StartModel from TRAINED or HOSTING_FAILED -> STARTING_HOSTING; the
``model.host`` job starts ``MinInferenceUnits`` units (scaling up to ``MaxInferenceUnits`` with
load) -> HOSTED, or HOSTING_FAILED with the reason. StopModel from HOSTED, STARTING_HOSTING,
HOSTING_FAILED or SYSTEM_UPDATING -> STOPPING_HOSTING; the ``model.unhost`` job stops the units
-> TRAINED.

Our decisions: StartModel on a model already HOSTED (or STARTING_HOSTING) with the same units is
a no-op that answers the current status; with different units it is a ConflictException (stop it
first, as on AWS). ``MaxInferenceUnits < MinInferenceUnits`` is a ValidationException; more units
than the ``max_inference_units`` setting (default 8) is a ServiceQuotaExceededException, and so is a
``MinInferenceUnits`` that, added to the minimums of the models already hosted, passes the
server-wide cap (``server_unit_limit``: the ``server_inference_units`` setting, else two per core
within half the memory at about 200 MB a unit). Autoscaling stays under the same cap.

Starting and stopping units runs on a thread of its own (not on the job workers, where it would
wait behind trainings). The units live where the engine puts them (``runtime.engine``: child
processes of this server, or Ray Serve replicas). A HOSTED model whose units the engine does not
run (this server restarted, or another server started it) gets them started on first use
(``ensure_deployed``) and eagerly by ``restore_hosting`` at start-up; an interrupted
STARTING_HOSTING is started again and STOPPING_HOSTING becomes TRAINED.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from openlookout.blobs.base import BlobStore
from openlookout.engine.base import Deployment
from openlookout.errors import ConflictException, ServiceQuotaExceededException, ValidationException
from openlookout.hosting.pool import HostingError
from openlookout.jobs.runner import JobRunner
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import resolve_model
from openlookout.service.models import state_conflict
from openlookout.service.states import MODEL_SERVING, MODEL_STARTABLE, MODEL_STOPPABLE, ModelStatus
from openlookout.settings import Settings
from openlookout.store import models as repo
from openlookout.store.models import ModelRow

log = logging.getLogger(__name__)

HOST_JOB = "model.host"
UNHOST_JOB = "model.unhost"


def register_jobs(runner: JobRunner) -> None:
    """Handlers for the hosting job kinds (kept so that jobs of these kinds, if queued, still run)."""
    runner.register(HOST_JOB, run_host, on_failure=on_host_failure)
    runner.register(UNHOST_JOB, run_unhost, on_failure=on_unhost_failure)


# --- handlers -------------------------------------------------------------------------------


def start_model(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    min_units = int(params["MinInferenceUnits"])
    max_units = params.get("MaxInferenceUnits")
    if min_units < 1:
        raise ValidationException("MinInferenceUnits must be at least 1.")
    if max_units is not None and int(max_units) < min_units:
        raise ValidationException(
            f"MaxInferenceUnits ({max_units}) must not be smaller than MinInferenceUnits ({min_units})."
        )
    limit = runtime.settings.max_inference_units
    if max(min_units, int(max_units or 0)) > limit:
        raise ServiceQuotaExceededException(
            f"A model can use at most {limit} inference units on this server.", quota_code="inference-units"
        )
    with runtime.db.begin() as conn:
        _, model = resolve_model(conn, ctx, project_name, str(params["ModelVersion"]))
        if model.status in (ModelStatus.HOSTED, ModelStatus.STARTING_HOSTING):
            same = model.min_inference_units == min_units and model.max_inference_units == (
                int(max_units) if max_units is not None else None
            )
            if same:
                return {"Status": model.status}
            raise state_conflict(
                project_name, model, "started again with different inference units; stop it first"
            )
        if model.status not in MODEL_STARTABLE:
            raise state_conflict(project_name, model, "started (it must be TRAINED)")
        _check_server_units(runtime, conn, model, min_units)
        changed = repo.update_model(
            conn,
            model.id,
            expect_status=[model.status],
            status=ModelStatus.STARTING_HOSTING,
            status_message=None,
            min_inference_units=min_units,
            max_inference_units=int(max_units) if max_units is not None else None,
            updated_at=time.time(),
        )
        if not changed:
            raise state_conflict(project_name, model, "started now")
    launch(runtime, run_host, model.id)
    return {"Status": ModelStatus.STARTING_HOSTING}


UNIT_MEMORY_BYTES = 200 * 1024 * 1024


def server_unit_limit(settings: Settings) -> int:
    """Inference units this server runs at most across every hosted model (see the module doc)."""
    if settings.server_inference_units > 0:
        return settings.server_inference_units
    cores = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        memory = 0
    by_memory = memory // 2 // UNIT_MEMORY_BYTES if memory > 0 else 2 * cores
    return max(2, min(2 * cores, by_memory))


def _check_server_units(runtime: Runtime, conn: Connection, model: ModelRow, min_units: int) -> None:
    """ServiceQuotaExceededException when ``min_units`` more units would pass the server-wide cap."""
    limit = runtime.engine.unit_limit()
    if limit is None:  # the cluster's resources decide
        return
    running = repo.models_in_status(conn, [*MODEL_SERVING, ModelStatus.STARTING_HOSTING])
    others = sum(m.min_inference_units or 1 for m in running if m.id != model.id)
    if others + min_units > limit:
        raise ServiceQuotaExceededException(
            f"This server runs at most {limit} inference units across all hosted models; "
            f"{others} are held by other models and this one asks for {min_units}. "
            "Stop another model or ask for fewer units.",
            quota_code="server-inference-units",
            resource_id=model.arn,
            resource_type="MODEL",
        )


def stop_model(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    project_name = str(params["ProjectName"])
    with runtime.db.begin() as conn:
        _, model = resolve_model(conn, ctx, project_name, str(params["ModelVersion"]))
        if model.status == ModelStatus.STOPPING_HOSTING:
            return {"Status": ModelStatus.STOPPING_HOSTING}
        if model.status not in MODEL_STOPPABLE:
            raise state_conflict(project_name, model, "stopped (it is not running)")
        changed = repo.update_model(
            conn,
            model.id,
            expect_status=[model.status],
            status=ModelStatus.STOPPING_HOSTING,
            status_message=None,
            updated_at=time.time(),
        )
        if not changed:
            raise state_conflict(project_name, model, "stopped now")
    launch(runtime, run_unhost, model.id)
    return {"Status": ModelStatus.STOPPING_HOSTING}


# --- background work ------------------------------------------------------------------------


def launch(runtime: Runtime, work: Any, model_id: int) -> None:
    """Run ``work(runtime, {"model_id": ...})`` on its own thread.

    Starting and stopping units takes seconds, so it does not queue behind long trainings on the
    job workers; a server stop in the middle is repaired by ``restore_hosting``.
    """
    threading.Thread(
        target=work,
        args=(runtime, {"model_id": model_id}),
        name=f"openlookout-hosting-{model_id}",
        daemon=True,
    ).start()


def run_host(runtime: Runtime, payload: dict[str, Any]) -> None:
    model_id = int(payload["model_id"])
    with runtime.db.begin() as conn:
        model = repo.get_model_by_id(conn, model_id)
    if model is None or model.status != ModelStatus.STARTING_HOSTING:
        return
    try:
        deploy(runtime, model)
    except HostingError as exc:
        if runtime.engine.closed:  # the server is stopping: the next start resumes this one
            return
        _set(
            runtime,
            model_id,
            [ModelStatus.STARTING_HOSTING],
            ModelStatus.HOSTING_FAILED,
            f"hosting failed: {exc}",
        )
        return
    hosted = _set(runtime, model_id, [ModelStatus.STARTING_HOSTING], ModelStatus.HOSTED)
    if not hosted:  # stopped or deleted meanwhile
        runtime.engine.undeploy(model_id)


def run_unhost(runtime: Runtime, payload: dict[str, Any]) -> None:
    model_id = int(payload["model_id"])
    runtime.engine.undeploy(model_id)
    _set(runtime, model_id, [ModelStatus.STOPPING_HOSTING], ModelStatus.TRAINED)


def on_host_failure(runtime: Runtime, payload: dict[str, Any], message: str) -> None:
    _set(
        runtime,
        int(payload["model_id"]),
        [ModelStatus.STARTING_HOSTING],
        ModelStatus.HOSTING_FAILED,
        f"hosting failed: {message}",
    )


def on_unhost_failure(runtime: Runtime, payload: dict[str, Any], message: str) -> None:
    runtime.engine.undeploy(int(payload["model_id"]))
    _set(runtime, int(payload["model_id"]), [ModelStatus.STOPPING_HOSTING], ModelStatus.TRAINED)


def _set(runtime: Runtime, model_id: int, expect: list[str], status: str, message: str | None = None) -> bool:
    """Move the model from one of ``expect`` to ``status``; ``message`` is a failure's reason (without
    one, StatusMessage shows the status's own sentence, see ``models.STATUS_SENTENCES``)."""
    with runtime.db.begin() as conn:
        return repo.update_model(
            conn,
            model_id,
            expect_status=expect,
            status=status,
            status_message=message,
            updated_at=time.time(),
        )


# --- units -----------------------------------------------------------------------------------


MODEL_FILES = "hosting"
_MODEL_FILE = re.compile(r"model-(\d+)\.onnx")


def model_file(runtime: Runtime, model: ModelRow) -> Path:
    """The model's ONNX file on local disk (copied from the blob store once)."""
    if not model.onnx_blob:
        raise HostingError("the model has no exported network; train it again")
    return fetch_model_file(runtime.settings.data_dir, runtime.blobs, model.id, model.onnx_blob)


def fetch_model_file(data_dir: Path, blobs: BlobStore, model_id: int, onnx_blob: str) -> Path:
    """``<data_dir>/hosting/model-<id>.onnx``, copied from the named blob ``onnx_blob`` if missing."""
    path = data_dir / MODEL_FILES / f"model-{model_id}.onnx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = blobs.get_named(onnx_blob)
        except Exception as exc:
            raise HostingError(f"the model file cannot be read from storage ({exc})") from None
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)
    return path


def local_model_files(data_dir: Path) -> dict[int, Path]:
    """The local ONNX copies ``model_file`` made, by model id."""
    folder = data_dir / MODEL_FILES
    if not folder.is_dir():
        return {}
    found: dict[int, Path] = {}
    for path in folder.iterdir():
        matched = _MODEL_FILE.fullmatch(path.name)
        if matched:
            found[int(matched.group(1))] = path
    return found


def deployment_of(runtime: Runtime, model: ModelRow) -> Deployment:
    """What the engine hosts for ``model``: its ONNX export and units (``HostingError`` without one)."""
    if not model.onnx_blob:
        raise HostingError("the model has no exported network; train it again")
    min_units = model.min_inference_units or 1
    return Deployment(
        model_id=model.id,
        model_blob=model.onnx_blob,
        min_units=min_units,
        max_units=max(min_units, model.max_inference_units or min_units),
        threads_per_unit=runtime.settings.inference_threads,
        colors=dict(model.colors or {}),
    )


def deploy(runtime: Runtime, model: ModelRow) -> None:
    """Start the model's units on the engine (kept when they already run)."""
    runtime.engine.deploy(deployment_of(runtime, model))


def ensure_deployed(runtime: Runtime, model: ModelRow) -> None:
    """The units of a HOSTED model, started here if the engine does not run them (a restart)."""
    if not runtime.engine.is_deployed(model.id):
        deploy(runtime, model)


def restore_hosting(runtime: Runtime) -> None:
    """At start-up: finish interrupted stops and starts, bring hosted models back (in the background)."""
    with runtime.db.begin() as conn:
        stopping = repo.models_in_status(conn, [ModelStatus.STOPPING_HOSTING])
        starting = repo.models_in_status(conn, [ModelStatus.STARTING_HOSTING])
        hosted = repo.models_in_status(conn, sorted(MODEL_SERVING))
    for model in starting:
        launch(runtime, run_host, model.id)
    for model in stopping:
        _set(runtime, model.id, [ModelStatus.STOPPING_HOSTING], ModelStatus.TRAINED)

    def bring_back() -> None:
        for model in hosted:
            try:
                deploy(runtime, model)
            except HostingError as exc:
                log.warning("hosted model %s could not be restarted: %s", model.arn, exc)

    if hosted:
        threading.Thread(target=bring_back, name="openlookout-restore-hosting", daemon=True).start()


def conflict_not_hosted(project_name: str, model: ModelRow) -> ConflictException:
    return ConflictException(
        f"Model version {model.version} of project '{project_name}' is {model.status}, not HOSTED; "
        "start it with StartModel and wait for HOSTED before detecting anomalies.",
        resource_id=model.arn,
        resource_type="MODEL",
    )
