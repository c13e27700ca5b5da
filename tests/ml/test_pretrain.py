"""Formula-driven pretraining: deterministic images, a resumable run, and the shipped weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from openlookout.ml.backbone import build_backbone
from openlookout.ml.pretrain.generator import FormulaImages
from openlookout.ml.pretrain.ifs import search_categories
from openlookout.ml.pretrain.train import TrainConfig, Trainer, export_weights
from openlookout.ml.pretrained import (
    RECORD_FILE,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    load_pretrained,
    sha256_file,
    shipped_weights_info,
)

CONV = "layer1.0.conv1.weight"


def test_categories_are_deterministic_and_contractive() -> None:
    first = search_categories(6, seed=11)
    again = search_categories(6, seed=11)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, search_categories(6, seed=12))
    for maps in first:
        used = maps[np.abs(maps).sum(1) > 0]
        assert 2 <= len(used) <= 4
        assert np.linalg.svd(used[:, :4].reshape(-1, 2, 2), compute_uv=False).max() < 1.0


def test_formula_images_regenerate_exactly() -> None:
    a = FormulaImages(n_fractal=5, n_texture=8, size=32, seed=3).batch(7, 6)
    b = FormulaImages(n_fractal=5, n_texture=8, size=32, seed=3).batch(7, 6)
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.fractal, b.fractal) and torch.equal(a.texture, b.texture)
    assert torch.equal(a.marks, b.marks)
    assert a.images.shape == (6, 3, 32, 32) and a.marks.shape == (6, 1, 4, 4)
    assert torch.isfinite(a.images).all()
    other = FormulaImages(n_fractal=5, n_texture=8, size=32, seed=3).batch(8, 6)
    assert not torch.equal(a.images, other.images)


def test_run_resumes_and_exports(tmp_path: Path) -> None:
    config = TrainConfig(steps=2, batch_size=4, image_size=32, n_fractal=4, n_texture=4, warmup_steps=1)
    Trainer(tmp_path / "run", config).run()
    config.steps = 3
    resumed = Trainer(tmp_path / "run", config)
    assert resumed.step == 2
    resumed.run()
    assert resumed.step == 3
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log] == [2, 3]
    export_weights(tmp_path / "run", tmp_path / "weights")
    record = json.loads((tmp_path / "weights" / RECORD_FILE).read_text())
    assert record["steps"] == 3 and record["images_seen"] == 12 and record["seed"] == 0
    model = build_backbone(depth=3, seed=5)
    assert load_pretrained(model, tmp_path / "weights")
    follow = Trainer(tmp_path / "next", config, init_from=tmp_path / "weights" / WEIGHTS_FILE)
    assert torch.equal(follow.model.backbone.state_dict()[CONV], model.state_dict()[CONV])
    assert follow.history[0]["init_sha256"] == record["sha256"]


def test_continuation_from_a_checkpoint_snapshot_export_and_batchnorm(tmp_path: Path) -> None:
    small = {"batch_size": 4, "image_size": 32, "n_fractal": 4, "n_texture": 4, "warmup_steps": 1}
    Trainer(tmp_path / "parent", TrainConfig(steps=2, **small)).run()
    parent = torch.load(tmp_path / "parent" / "checkpoint.pt", map_location="cpu", weights_only=False)
    config = TrainConfig(steps=2, lr=0.01, fractal_weight=0.0, texture_weight=0.0, **small)
    child = Trainer(tmp_path / "child", config, init_from=tmp_path / "parent" / "checkpoint.pt")
    assert child.step == 0 and child.history[0]["init_step"] == 2 and child.history[0]["init_heads"]
    assert torch.equal(child.model.state_dict()["mark_head.1.weight"], parent["model"]["mark_head.1.weight"])
    child.run(log_every=1, snapshot_every=1)
    assert (tmp_path / "child" / "snapshots" / "step00001.pt").is_file()
    export_weights(
        tmp_path / "child", tmp_path / "w", snapshot_step=1, bn_image_size=48, bn_batches=1, bn_batch_size=2
    )
    record = json.loads((tmp_path / "w" / RECORD_FILE).read_text())
    assert record["steps"] == 1 and record["steps_total"] == 3 and record["images_seen_total"] == 12
    assert record["history"][-1]["to_step"] == 1
    assert record["objective"] == "1 synthetic-mark localisation"
    assert record["batchnorm"]["image_size"] == 48
    snapshot = torch.load(tmp_path / "child" / "snapshots" / "step00001.pt", weights_only=True)
    exported = torch.load(tmp_path / "w" / WEIGHTS_FILE, weights_only=True)
    assert torch.equal(snapshot["layer1.0.conv1.weight"], exported["layer1.0.conv1.weight"])
    assert not torch.equal(snapshot["bn1.running_mean"], exported["bn1.running_mean"])
    assert load_pretrained(build_backbone(depth=3), tmp_path / "w")


def test_shipped_weights_hash_and_load(tmp_path: Path) -> None:
    info = shipped_weights_info()
    if info is None:
        pytest.skip("no shipped weights in this checkout")
    path = WEIGHTS_DIR / WEIGHTS_FILE
    assert path.stat().st_size <= 25 * 2**20
    assert sha256_file(path) == info["sha256"]
    for key in ("script_version", "seed", "steps", "images_seen", "hardware", "wall_time_s"):
        assert key in info
    for depth in (2, 3):
        model = build_backbone(depth=depth, seed=0)
        before = model.state_dict()[CONV].clone()
        assert load_pretrained(model)
        assert not torch.equal(before, model.state_dict()[CONV])
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_backbone(depth=3, seed=0)
    load_pretrained(model)
    assert torch.equal(model.state_dict()["layer2.0.conv1.weight"], state["layer2.0.conv1.weight"].float())

    corrupt = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, corrupt)
    data = bytearray((corrupt / WEIGHTS_FILE).read_bytes())
    data[-100] ^= 0xFF
    (corrupt / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        load_pretrained(build_backbone(depth=3), corrupt)


def test_no_shipped_weights_returns_false(tmp_path: Path) -> None:
    assert shipped_weights_info(tmp_path) is None
    assert load_pretrained(build_backbone(depth=3), tmp_path) is False
