"""DetectAnomalies: check the request, hand the image to the model's inference units, answer.

Order of checks: the declared content type (``image/png`` or ``image/jpeg``, else
ValidationException); the model (ResourceNotFoundException) and its state (ConflictException
unless HOSTED or SYSTEM_UPDATING); the bytes (a PNG/JPEG of the declared type that decodes in full
with the decoder training used, within the service's image limits, of exactly the model's width and
height once its EXIF orientation is applied, as at import; else ValidationException, never a 500).
Then the image goes to the model's inference units (``submit``), or is refused at once with
ThrottlingException (HTTP 429) when the model's queue already holds more than ``detect_queue_s``
seconds of work for its units. The API waits for the answer without holding a thread
(``PendingDetection.wait``); ``detect`` waits in the calling thread.
The result follows spec e.4 (see ``openlookout.hosting.result``). ``detect(..., heatmap=True)`` is
the extension used by ``/openlookout/.../detect?heatmap=true``: it adds a ``Heatmap`` PNG.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from openlookout.errors import (
    InternalServerException,
    ServiceError,
    ThrottlingException,
    ValidationException,
)
from openlookout.hosting.pool import HostingError, PoolBusy
from openlookout.imaging.admission import admit_image
from openlookout.imaging.images import ImageRejected
from openlookout.service import hosting_control
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import resolve_model
from openlookout.service.metrics import DetectObservation
from openlookout.service.states import MODEL_SERVING

CONTENT_TYPES = {"image/png": "png", "image/jpeg": "jpeg"}


def content_format(content_type: str | None) -> str:
    """``png`` or ``jpeg`` for an accepted Content-Type; ValidationException otherwise."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    found = CONTENT_TYPES.get(base)
    if found is None:
        raise ValidationException(
            f"The content type '{(content_type or '')[:100]}' is not accepted; send image/jpeg or image/png."
        )
    return found


ANSWER_TIMEOUT_S = 60.0


class PendingDetection:
    """A DetectAnomalies request accepted by a model's units: wait for it with ``result`` (blocking)
    or ``wait`` (in the event loop, holding no thread while the units work)."""

    def __init__(self, future: Future[dict[str, Any]]) -> None:
        self.future = future

    def result(self) -> dict[str, Any]:
        try:
            return self.future.result(ANSWER_TIMEOUT_S)
        except FutureTimeout:
            raise _no_answer(f"no inference unit answered within {ANSWER_TIMEOUT_S:.0f} s") from None
        except HostingError as exc:
            raise _no_answer(str(exc)) from None

    async def wait(self) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self.future), ANSWER_TIMEOUT_S)
        except TimeoutError:
            raise _no_answer(f"no inference unit answered within {ANSWER_TIMEOUT_S:.0f} s") from None
        except HostingError as exc:
            raise _no_answer(str(exc)) from None


def _no_answer(reason: str) -> InternalServerException:
    return InternalServerException(f"The model could not answer: {reason}.", retry_after_seconds=1)


def submit(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    version: str,
    content_type: str | None,
    body: bytes | None,
    *,
    heatmap: bool = False,
    observation: DetectObservation | None = None,
) -> PendingDetection:
    """Check a DetectAnomalies request and hand the image to the model's units (see the module doc);
    ThrottlingException at once when the model's queue is already deeper than its units serve in
    ``detect_queue_s`` seconds. ``observation`` learns which model the request is for (metrics)."""
    declared = content_format(content_type)
    with runtime.db.begin() as conn:
        _, model = resolve_model(conn, ctx, project_name, version)
    if observation is not None:
        observation.model(project_name, model.version)
    if model.status not in MODEL_SERVING:
        raise hosting_control.conflict_not_hosted(project_name, model)
    if not body:
        raise ValidationException("The request body is empty; send the image's bytes as the body.")
    try:
        admitted = admit_image(body, name="the image")
    except ImageRejected as exc:
        raise ValidationException(f"The image cannot be used: {exc.reason}.") from None
    info = admitted.info
    if info.format != declared:
        raise ValidationException(
            f"The image is a {info.format.upper()} but the content type says image/{declared}; "
            "they must match."
        )
    if (info.width, info.height) != (model.image_width, model.image_height):
        raise ValidationException(
            f"The image is {info.width}x{info.height} pixels; model version {model.version} was trained on "
            f"{model.image_width}x{model.image_height} images and needs that exact size."
        )
    try:
        hosting_control.ensure_deployed(runtime, model)
        future = runtime.engine.submit_detect(
            model.id, admitted.data, info.width, info.height, heatmap=heatmap
        )
        return PendingDetection(future)
    except PoolBusy as exc:
        raise ThrottlingException(f"The model is busy ({exc}); retry shortly.") from None
    except HostingError as exc:
        raise _no_answer(str(exc)) from None


def detect(
    runtime: Runtime,
    ctx: RequestContext,
    project_name: str,
    version: str,
    content_type: str | None,
    body: bytes | None,
    *,
    heatmap: bool = False,
) -> dict[str, Any]:
    """The DetectAnomalyResult members (``AnomalyMask``/``Heatmap`` as PNG bytes), waiting for them."""
    return submit(runtime, ctx, project_name, version, content_type, body, heatmap=heatmap).result()


class PendingAnswer:
    """DetectAnomalies' output members still being computed: ``await wait()`` gives them."""

    def __init__(self, detection: PendingDetection, observation: DetectObservation) -> None:
        self.detection = detection
        self.observation = observation

    async def wait(self) -> dict[str, Any]:
        try:
            result = await self.detection.wait()
        except ServiceError as exc:
            self.observation.failed(exc.code)
            raise
        self.observation.done()
        return {"DetectAnomalyResult": result}


def submit_detect_anomalies(
    runtime: Runtime, ctx: RequestContext, params: dict[str, Any], observation: DetectObservation
) -> PendingDetection:
    """DetectAnomalies' checks and submission, measured by ``observation``; the caller waits for
    the answer."""
    try:
        return submit(
            runtime,
            ctx,
            str(params["ProjectName"]),
            str(params["ModelVersion"]),
            params.get("ContentType"),
            params.get("Body"),
            observation=observation,
        )
    except ServiceError as exc:
        observation.failed(exc.code)
        raise


def start_detect_anomalies(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> PendingAnswer:
    """DetectAnomalies for the API, which awaits the answer in its event loop."""
    observation = DetectObservation(runtime.metrics, ctx.account_id)
    return PendingAnswer(submit_detect_anomalies(runtime, ctx, params, observation), observation)


def detect_anomalies(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    observation = DetectObservation(runtime.metrics, ctx.account_id)
    detection = submit_detect_anomalies(runtime, ctx, params, observation)
    try:
        result = detection.result()
    except ServiceError as exc:
        observation.failed(exc.code)
        raise
    observation.done()
    return {"DetectAnomalyResult": result}
