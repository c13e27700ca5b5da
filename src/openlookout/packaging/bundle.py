"""Build the edge bundle: a zip with the ONNX model, its metadata, a runner and a Greengrass recipe.

Layout of ``bundle.zip``::

    model.onnx            the exported detector
    metadata.json         model ARN, version, image size, colours, anomaly types, kind
    run_detect.py         command-line runner (prints DetectAnomalyResult JSON per image)
    edge_lib/             torch-free code copied from OpenLookout with its imports rewritten:
                          runtime.py, imageio.py, types.py (the ONNX runner) and result.py
    recipe.json           Greengrass V2 style component recipe
    README.txt

The runner imports only the standard library, onnxruntime, numpy and Pillow; ``build_bundle``
checks that no copied file still imports OpenLookout.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

_COPIED = {
    "edge_lib/runtime.py": ("openlookout.ml", "runtime.py"),
    "edge_lib/imageio.py": ("openlookout.ml", "imageio.py"),
    "edge_lib/types.py": ("openlookout.ml", "types.py"),
    "edge_lib/result.py": ("openlookout.hosting", "result.py"),
}
_IMPORT = re.compile(r"^\s*(from|import)\s+openlookout\b", re.MULTILINE)
RUNNER_NAME = "run_detect.py"


def _source(package: str, name: str) -> str:
    return (resources.files(package) / name).read_text(encoding="utf-8")


def edge_sources() -> dict[str, str]:
    """The bundle's Python files (path in the zip -> text), OpenLookout imports rewritten."""
    files: dict[str, str] = {
        "edge_lib/__init__.py": '"""Torch-free detection code copied from OpenLookout."""\n'
    }
    for target, (package, name) in _COPIED.items():
        text = (
            _source(package, name)
            .replace("from openlookout.ml.", "from edge_lib.")
            .replace("from openlookout.hosting.", "from edge_lib.")
        )
        if _IMPORT.search(text):
            raise RuntimeError(f"{package}.{name} imports OpenLookout modules the edge bundle does not carry")
        files[target] = text
    files[RUNNER_NAME] = _source("openlookout.packaging", "runner_main.py")
    return files


def recipe(
    *, component_name: str, component_version: str, description: str, artifact_uri: str, architecture: str
) -> dict[str, Any]:
    """A Greengrass V2 component recipe that unpacks the bundle and runs the detector on demand."""
    arch = {"X86_64": "amd64", "ARM64": "aarch64"}.get(architecture, architecture.lower())
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": component_name,
        "ComponentVersion": component_version,
        "ComponentDescription": description,
        "ComponentPublisher": "OpenLookout",
        "ComponentConfiguration": {"DefaultConfiguration": {"ImagePaths": ""}},
        "Manifests": [
            {
                "Platform": {"os": "linux", "architecture": arch},
                "Lifecycle": {
                    "Install": "python3 -m pip install --user onnxruntime numpy Pillow",
                    "Run": f"python3 {{artifacts:decompressedPath}}/bundle/{RUNNER_NAME} "
                    "{configuration:/ImagePaths}",
                },
                "Artifacts": [{"URI": artifact_uri, "Unarchive": "ZIP"}],
            }
        ],
    }


def build_bundle(onnx: bytes, metadata: dict[str, Any], recipe_document: dict[str, Any]) -> bytes:
    """The zip's bytes (files stored in the order above, deterministic timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=(2020, 11, 20, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)

        add("model.onnx", onnx)
        add("metadata.json", json.dumps(metadata, indent=2).encode())
        for name, text in edge_sources().items():
            add(name, text.encode())
        add("recipe.json", json.dumps(recipe_document, indent=2).encode())
        add(
            "README.txt",
            (
                "OpenLookout edge bundle\n\n"
                "pip install onnxruntime numpy Pillow\n"
                f"python {RUNNER_NAME} IMAGE [IMAGE ...] [--heatmap]\n"
            ).encode(),
        )
    return buffer.getvalue()


def unpack(bundle: bytes, folder: Path) -> Path:
    """Extract a bundle into ``folder`` (tests and the CLI); returns the folder."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        archive.extractall(folder)
    return folder
