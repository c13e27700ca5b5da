"""OpenLookout edge runner: detect anomalies in images with the bundled model.

Usage: python run_detect.py IMAGE [IMAGE ...] [--heatmap]

Prints one DetectAnomalyResult JSON object per image (one per line), with ``AnomalyMask``
(segmentation models) as base64 PNG, like the DetectAnomalies API. Needs only Python 3.9+,
onnxruntime, numpy and Pillow; nothing else from OpenLookout.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from edge_lib.result import detect_image  # noqa: E402
from edge_lib.runtime import OnnxDetector  # noqa: E402


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def main(argv: list[str]) -> int:
    want_heatmap = "--heatmap" in argv
    paths = [Path(a) for a in argv if a != "--heatmap"]
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    metadata = json.loads((HERE / "metadata.json").read_text(encoding="utf-8"))
    detector = OnnxDetector(HERE / "model.onnx", threads=metadata.get("threads"))
    colors = dict(metadata.get("colors") or {})
    status = 0
    for path in paths:
        try:
            width, height = _image_size(path)
            expected = (metadata["image_width"], metadata["image_height"])
            if (width, height) != tuple(expected):
                raise ValueError(f"image is {width}x{height}; the model needs {expected[0]}x{expected[1]}")
            result = detect_image(detector, path.read_bytes(), width, height, colors, want_heatmap)
            for key in ("AnomalyMask", "Heatmap"):
                if key in result:
                    result[key] = base64.b64encode(result[key]).decode("ascii")
            print(json.dumps({"Image": str(path), "DetectAnomalyResult": result}))
        except Exception as exc:
            print(json.dumps({"Image": str(path), "Error": str(exc)}))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
