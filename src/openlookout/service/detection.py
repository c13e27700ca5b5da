"""DetectAnomalies: check the request, hand the image to the model's inference units, answer.

Order of checks: the declared content type (``image/png`` or ``image/jpeg``, else
ValidationException); the model (ResourceNotFoundException) and its state (ConflictException
unless HOSTED or SYSTEM_UPDATING); the bytes (a PNG/JPEG of the declared type that decodes in full
with the decoder training used, within the service's image limits, of exactly the model's width and
height once its EXIF orientation is applied, as at import; else ValidationException, never a 500).
The result follows spec e.4 (see ``openlookout.hosting.result``). ``detect(..., heatmap=True)`` is
the extension used by ``/openlookout/.../detect?heatmap=true``: it adds a ``Heatmap`` PNG.
"""

from __future__ import annotations

from typing import Any

from openlookout.errors import InternalServerException, ThrottlingException, ValidationException
from openlookout.hosting.pool import HostingError, PoolBusy
from openlookout.imaging.admission import admit_image
from openlookout.imaging.images import ImageRejected
from openlookout.service import hosting_control
from openlookout.service.context import RequestContext, Runtime
from openlookout.service.lookups import resolve_model
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
    """The DetectAnomalyResult members (``AnomalyMask``/``Heatmap`` as PNG bytes)."""
    declared = content_format(content_type)
    with runtime.db.begin() as conn:
        _, model = resolve_model(conn, ctx, project_name, version)
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
        pool = hosting_control.pool_for(runtime, model)
        return pool.detect(admitted.data, info.width, info.height, heatmap=heatmap)
    except PoolBusy as exc:
        raise ThrottlingException(f"The model is busy ({exc}); retry shortly.") from None
    except HostingError as exc:
        raise InternalServerException(f"The model could not answer: {exc}.", retry_after_seconds=1) from None


def detect_anomalies(runtime: Runtime, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    result = detect(
        runtime,
        ctx,
        str(params["ProjectName"]),
        str(params["ModelVersion"]),
        params.get("ContentType"),
        params.get("Body"),
    )
    return {"DetectAnomalyResult": result}
