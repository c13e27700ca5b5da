"""The backbone weights that OpenLookout pretrains itself and ships as package data.

The weights come from formula-driven pretraining (see ``openlookout.ml.pretrain`` and
``docs/pretraining.md``): no natural images and no downloads were involved. They live in
``openlookout/ml/weights/`` as an fp16 torchvision-format state dict beside a JSON record of how
they were made; the record holds the file's SHA-256, which is checked on every load.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from openlookout.ml.backbone import ResNetFeatures

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(str(resources.files("openlookout.ml") / "weights"))
WEIGHTS_FILE = "resnet18_formula.pt"
RECORD_FILE = "resnet18_formula.json"
ARCH = "resnet18"


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shipped_weights_info(weights_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The record of how the shipped weights were made, or ``None`` when none are shipped."""
    folder = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    record = folder / RECORD_FILE
    if not record.is_file() or not (folder / WEIGHTS_FILE).is_file():
        return None
    info = json.loads(record.read_text(encoding="utf-8"))
    if not isinstance(info, dict):
        raise ValueError(f"{record}: not a JSON object")
    return info


def shipped_weights_path(weights_dir: str | Path | None = None) -> Path | None:
    """Path of the shipped weights file after its hash was verified; ``None`` if none are shipped."""
    folder = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    info = shipped_weights_info(folder)
    if info is None:
        return None
    path = folder / WEIGHTS_FILE
    expected = str(info.get("sha256", ""))
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(f"{path}: SHA-256 {actual} does not match the recorded {expected or '(none)'}")
    return path


def load_pretrained(model: ResNetFeatures, weights_dir: str | Path | None = None) -> bool:
    """Load the shipped resnet18 weights into ``model`` (any depth: the stages it has).

    Returns ``False`` when no shipped weights exist; raises ``ValueError`` when the file's hash
    differs from the recorded one or the model is not a resnet18. Stages the model has but the file
    lacks (``layer4`` when only three stages ship) keep their initialisation, with a warning.
    """
    path = shipped_weights_path(weights_dir)
    if path is None:
        return False
    info = shipped_weights_info(weights_dir) or {}
    arch = str(info.get("arch", ARCH))
    own = model.state_dict()
    if arch != ARCH or "layer1.0.conv1.weight" not in own:
        raise ValueError(f"the shipped weights are for {arch}; the model is not a matching ResNet")
    state = torch.load(path, map_location="cpu", weights_only=True)
    cleaned: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key in own:
            if tuple(own[key].shape) != tuple(value.shape):
                raise ValueError(
                    f"{path}: {key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}"
                )
            cleaned[key] = value.to(own[key].dtype)
    shipped_stages = {key.split(".")[0] for key in state}
    missing = [
        key
        for key in own
        if key not in cleaned
        and not key.endswith("num_batches_tracked")
        and key.split(".")[0] in shipped_stages
    ]
    if missing:
        raise ValueError(f"{path}: lacks {len(missing)} parameters the model needs, first {missing[0]}")
    untouched = sorted({key.split(".")[0] for key in own} - shipped_stages)
    if untouched:
        log.warning(
            "shipped weights have no %s: those stages keep their initialisation", ", ".join(untouched)
        )
    model.load_state_dict(cleaned, strict=False)
    return True
