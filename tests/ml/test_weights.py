"""Backbone weights are a swappable input: random, project-pretrained, or a user state dict file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import Data
from openlookout.ml.backbone import build_backbone
from openlookout.ml.detector import AnomalyDetector
from openlookout.ml.features import make_backbone


def _write_random_resnet18(path: Path, seed: int) -> None:
    state = build_backbone("resnet18", depth=4, seed=seed).state_dict()
    state["fc.weight"] = torch.randn(1000, 512)  # torchvision files carry a head; it is ignored
    state["fc.bias"] = torch.zeros(1000)
    torch.save(state, path)


def test_user_state_dict_file_is_loaded(tmp_path: Path, train_set: Data) -> None:
    path = tmp_path / "resnet18.pth"
    _write_random_resnet18(path, seed=123)
    model, source = make_backbone(str(path))
    assert source == "file"
    reference = build_backbone("resnet18", depth=4, seed=123).state_dict()
    assert torch.equal(model.state_dict()["layer3.1.conv2.weight"], reference["layer3.1.conv2.weight"])
    default, _ = make_backbone("random")
    assert not torch.equal(default.state_dict()["conv1.weight"], model.state_dict()["conv1.weight"])

    images, labels, _ = train_set
    detector = AnomalyDetector(preset="fast", image_size=64, weights=str(path)).fit(images, labels)
    assert detector.weights_source_ == "file"
    detector.save(tmp_path / "d.pt")
    loaded = AnomalyDetector.load(tmp_path / "d.pt")
    assert loaded.predict(images[:1])[0].score == detector.predict(images[:1])[0].score


def test_bad_weights_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError):
        make_backbone(str(path))


def test_pretrained_falls_back_or_loads() -> None:
    model, source = make_backbone("pretrained")
    assert source in {"pretrained", "random"}
    assert np.isfinite(model.state_dict()["conv1.weight"].numpy()).all()
