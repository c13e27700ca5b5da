"""One inference unit: a process that loads the ONNX model once and answers detection requests.

Protocol over a ``multiprocessing`` pipe: the unit first sends ``("ready", info)`` or
``("failed", reason)``; then for every ``(image_bytes, width, height, want_heatmap)`` it answers
``("ok", result_dict)`` or ``("error", reason)``. ``None`` or a closed pipe (the server died) ends it.
Imports only the standard library, numpy, Pillow, onnxruntime and torch-free OpenLookout modules.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

from openlookout.hosting.result import detect_result, heatmap_png


def detect_bytes(
    detector: Any, data: bytes, width: int, height: int, colors: dict[str, str], heatmap: bool
) -> dict[str, Any]:
    """Run ``detector`` (an ``OnnxDetector``) on image bytes and build the API result."""
    prediction = detector.predict_bytes(data)
    result = detect_result(
        is_anomalous=prediction.is_anomalous,
        confidence=prediction.confidence,
        type_mask=prediction.type_mask if detector.segmentation else None,
        width=width,
        height=height,
        anomaly_types=list(detector.anomaly_types),
        colors=colors,
    )
    if heatmap:
        result["Heatmap"] = heatmap_png(prediction.heatmap, width, height)
    return result


def serve(conn: Connection, model_path: str, threads: int, colors: dict[str, str]) -> None:
    """The unit's main loop (the target of the spawned process)."""
    try:
        from openlookout.ml.runtime import OnnxDetector

        detector = OnnxDetector(model_path, threads=threads)
    except Exception as exc:  # report why the unit cannot start, then end
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", {"input_size": list(detector.input_size), "segmentation": detector.segmentation}))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        data, width, height, want_heatmap = message
        try:
            conn.send(("ok", detect_bytes(detector, data, width, height, colors, want_heatmap)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
