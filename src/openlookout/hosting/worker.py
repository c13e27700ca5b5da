"""One inference unit: a process that loads the ONNX model once and answers detection requests.

Protocol over a ``multiprocessing`` pipe: the unit first sends ``("ready", info)`` or
``("failed", reason)``; then for every ``(image_bytes, width, height, want_heatmap)`` it answers
``("ok", result_dict)`` or ``("error", reason)``. ``None`` or a closed pipe (the server died) ends it.
Imports only the standard library, numpy, Pillow, onnxruntime and torch-free OpenLookout modules.
"""

from __future__ import annotations

from multiprocessing.connection import Connection

from openlookout.hosting.result import detect_image


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
            conn.send(("ok", detect_image(detector, data, width, height, colors, want_heatmap)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
