"""The resumable pretraining loop, its checkpoints and log, and the export of shipped weights.

A run lives in one folder: ``checkpoint.pt`` (model, heads, optimiser, step, configuration, time
spent), ``log.jsonl`` (one line per logged step) and, after :func:`export_weights`, the fp16
backbone state dict and its JSON record. Batches are a pure function of (seed, step), so resuming
from a checkpoint continues exactly the stream of images an uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from openlookout.ml.backbone import build_backbone, load_state_dict_file
from openlookout.ml.pretrain import SCRIPT_VERSION
from openlookout.ml.pretrain.generator import FormulaImages
from openlookout.ml.pretrain.model import PretrainNet
from openlookout.ml.pretrained import sha256_file

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
BN_SEED_OFFSET = 1_000_000  # BatchNorm re-estimation draws its images from a seed training never used


@dataclass
class TrainConfig:
    """Everything that decides the weights; stored in every checkpoint and in the record."""

    steps: int = 10_000
    batch_size: int = 128
    image_size: int = 64
    n_fractal: int = 256
    n_texture: int = 64
    depth: int = 3
    seed: int = 0
    lr: float = 0.1
    weight_decay: float = 5e-5
    warmup_steps: int = 300
    mark_weight: float = 1.0
    texture_weight: float = 0.5
    label_smoothing: float = 0.1
    fractal_weight: float = 1.0


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to zero at ``config.steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def hardware_description(device: torch.device) -> str:
    """A one-line description of where training ran."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"CPU {platform.machine()} x{os.cpu_count()} ({torch.get_num_threads()} torch threads)"


class Trainer:
    """Builds or resumes a run in ``run_dir`` and trains until ``config.steps`` or a time limit."""

    def __init__(
        self,
        run_dir: str | Path,
        config: TrainConfig,
        device: str = "cpu",
        init_from: str | Path | None = None,
    ) -> None:
        """``init_from`` starts a *new* run (step 0, fresh optimiser, this ``config``) from either a
        backbone state dict (e.g. the shipped weights; the heads start fresh) or another run's
        ``checkpoint.pt`` (backbone *and* heads, so a low-learning-rate continuation does not first
        have to train new heads on top of the features).
        """
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(device)
        self.step = 0
        self.wall_s = 0.0
        self.hardware: list[str] = []
        self.history: list[dict[str, Any]] = []
        ckpt_path = self.run_dir / CHECKPOINT
        state: dict[str, Any] | None = None
        if ckpt_path.is_file():
            state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
            saved = TrainConfig(**state["config"])
            # A resumed run keeps its checkpoint's configuration except the schedule's length and the
            # image size (so a run can be extended, or finished at a larger size); the record keeps the
            # history of both.
            saved.steps = config.steps
            saved.image_size = config.image_size
            config = saved
        self.config = config
        self.data = FormulaImages(config.n_fractal, config.n_texture, config.image_size, config.seed)
        self.model = PretrainNet(config.n_fractal, config.n_texture, config.depth, config.seed).to(
            self.device
        )
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for name, param in self.model.named_parameters():
            (no_decay if param.ndim <= 1 or name.endswith(".bias") else decay).append(param)
        self.optimizer = torch.optim.SGD(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.lr,
            momentum=0.9,
            nesterov=True,
        )
        if state is not None:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step = int(state["step"])
            self.wall_s = float(state["wall_s"])
            self.hardware = list(state.get("hardware", []))
            self.history = list(state.get("history", []))
        elif init_from is not None:
            origin: dict[str, Any] = {"init_from": str(init_from), "init_sha256": sha256_file(init_from)}
            source = torch.load(Path(init_from), map_location="cpu", weights_only=False)
            if isinstance(source, dict) and isinstance(source.get("model"), dict):
                self.model.load_state_dict(source["model"])
                origin.update(
                    init_step=int(source.get("step", 0)),
                    init_heads=True,
                    init_config=source.get("config"),
                    init_history=source.get("history", []),
                    init_wall_s=round(float(source.get("wall_s", 0.0)), 1),
                )
            else:
                load_state_dict_file(self.model.backbone, init_from)
            self.history.append(origin)
        here = hardware_description(self.device)
        if here not in self.hardware:
            self.hardware.append(here)

    @property
    def images_seen(self) -> int:
        return self.step * self.config.batch_size

    def save(self) -> None:
        """Write the checkpoint atomically."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "wall_s": self.wall_s,
            "config": asdict(self.config),
            "hardware": self.hardware,
            "history": self.history,
            "script_version": SCRIPT_VERSION,
        }
        tmp = self.run_dir / (CHECKPOINT + ".tmp")
        torch.save(state, tmp)
        tmp.replace(self.run_dir / CHECKPOINT)

    def _log(self, record: dict[str, Any]) -> None:
        with (self.run_dir / LOG).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def train_step(self) -> dict[str, float]:
        """One optimisation step on batch ``self.step``; returns its losses and accuracies."""
        config = self.config
        batch = self.data.batch(self.step, config.batch_size)
        images = batch.images.to(self.device, non_blocking=True)
        if self.device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        fractal_t = batch.fractal.to(self.device)
        texture_t = batch.texture.to(self.device)
        marks_t = batch.marks.to(self.device)
        lr = learning_rate(config, self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            fractal, texture, marks = self.model(images)
        fractal_loss = F.cross_entropy(fractal.float(), fractal_t, label_smoothing=config.label_smoothing)
        texture_loss = F.cross_entropy(texture.float(), texture_t, label_smoothing=config.label_smoothing)
        mark_loss = F.binary_cross_entropy_with_logits(marks.float(), marks_t, pos_weight=torch.tensor(4.0))
        loss = (
            config.fractal_weight * fractal_loss
            + config.texture_weight * texture_loss
            + config.mark_weight * mark_loss
        )
        fractal, texture = fractal.detach(), texture.detach()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        self.step += 1
        return {
            "loss": float(loss.detach()),
            "fractal_loss": float(fractal_loss.detach()),
            "texture_loss": float(texture_loss.detach()),
            "mark_loss": float(mark_loss.detach()),
            "fractal_acc": float((fractal.argmax(1) == fractal_t).float().mean()),
            "texture_acc": float((texture.argmax(1) == texture_t).float().mean()),
            "lr": lr,
        }

    def save_snapshot(self) -> Path:
        """Write the current backbone as an fp16 state dict to ``snapshots/step<N>.pt`` in the run."""
        folder = self.run_dir / "snapshots"
        folder.mkdir(exist_ok=True)
        path = folder / f"step{self.step:05d}.pt"
        torch.save(backbone_state(self.model.state_dict()), path)
        return path

    def run(
        self,
        max_minutes: float | None = None,
        log_every: int = 20,
        save_every_s: float = 300.0,
        snapshot_every: int = 0,
    ) -> None:
        """Train until ``config.steps``, ``max_minutes`` or SIGTERM; checkpoint regularly and at the end.

        ``snapshot_every`` > 0 also writes the backbone every that many steps (see
        :meth:`save_snapshot`), so checkpoints along a run can be compared in the detector.
        """
        start = time.monotonic()
        segment: dict[str, Any] = {
            "from_step": self.step,
            "image_size": self.config.image_size,
            "hardware": hardware_description(self.device),
        }
        if self.step < self.config.steps:
            self.history.append(segment)
        stop: list[int] = []
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
        try:
            self._loop(start, max_minutes, log_every, save_every_s, snapshot_every, segment, stop)
        finally:
            signal.signal(signal.SIGTERM, previous)
        self.save()

    def _loop(
        self,
        start: float,
        max_minutes: float | None,
        log_every: int,
        save_every_s: float,
        snapshot_every: int,
        segment: dict[str, Any],
        stop: list[int],
    ) -> None:
        last_save = start
        last_log = start
        window: list[dict[str, float]] = []
        while self.step < self.config.steps and not stop:
            t0 = time.monotonic()
            window.append(self.train_step())
            self.wall_s += time.monotonic() - t0
            segment["to_step"] = self.step
            now = time.monotonic()
            if self.step % log_every == 0 or self.step == self.config.steps:
                mean = {k: sum(w[k] for w in window) / len(window) for k in window[0]}
                mean.update(
                    step=self.step,
                    images_seen=self.images_seen,
                    wall_s=round(self.wall_s, 1),
                    img_per_s=round(len(window) * self.config.batch_size / max(now - last_log, 1e-9), 1),
                )
                self._log(mean)
                print(
                    json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in mean.items()}),
                    flush=True,
                )
                window = []
                last_log = now
            if snapshot_every > 0 and self.step % snapshot_every == 0:
                self.save_snapshot()
            if now - last_save > save_every_s:
                self.save()
                last_save = now
            if max_minutes is not None and now - start > max_minutes * 60:
                break


def final_loss(run_dir: Path, last: int = 10, up_to_step: int | None = None) -> float | None:
    """Mean total loss over the last ``last`` logged lines of a run (at or before ``up_to_step``)."""
    path = run_dir / LOG
    if not path.is_file():
        return None
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    if up_to_step is not None:
        lines = [x for x in lines if int(x["step"]) <= up_to_step]
    if not lines:
        return None
    tail = lines[-last:]
    return round(sum(float(x["loss"]) for x in tail) / len(tail), 4)


def backbone_state(model_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The backbone's tensors of a :class:`PretrainNet` state dict, torchvision names, floats in fp16."""
    return {
        key.removeprefix("backbone."): value.detach().cpu().half() if value.is_floating_point() else value
        for key, value in model_state.items()
        if key.startswith("backbone.") and not key.endswith("num_batches_tracked")
    }


def recalibrate_batchnorm(
    backbone: dict[str, torch.Tensor],
    config: dict[str, Any],
    image_size: int,
    batches: int = 16,
    batch_size: int = 32,
) -> dict[str, torch.Tensor]:
    """Re-estimate a backbone's BatchNorm running statistics on formula images of ``image_size``.

    Training-mode forward passes (no gradient, no parameter change) over ``batches`` batches of the
    generator with seed ``config["seed"] + BN_SEED_OFFSET``; the statistics become the plain average
    over those batches. Only formula-generated images are used, never a user's data, so the result is
    one set of weights for every project. Returns the backbone in the form :func:`backbone_state` gives.
    """
    depth = int(config["depth"])
    model = build_backbone("resnet18", depth=depth, seed=0)
    model.load_state_dict({key: value.float() for key, value in backbone.items()}, strict=False)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over all batches
    model.train()
    data = FormulaImages(
        int(config["n_fractal"]), int(config["n_texture"]), image_size, int(config["seed"]) + BN_SEED_OFFSET
    )
    with torch.no_grad():
        for index in range(batches):
            model.forward_stages(data.batch(index, batch_size).images, [f"layer{depth}"])
    return backbone_state({f"backbone.{key}": value for key, value in model.state_dict().items()})


def _objective(config: dict[str, Any]) -> str:
    """The loss terms with their weights, e.g. ``1.0 fractal category + 0.5 texture category + ...``."""
    terms = (
        (float(config.get("fractal_weight", 1.0)), "fractal category"),
        (float(config.get("texture_weight", 0.5)), "texture category"),
        (float(config.get("mark_weight", 1.0)), "synthetic-mark localisation"),
    )
    return " + ".join(f"{weight:g} {name}" for weight, name in terms if weight > 0)


def _lineage(state: dict[str, Any]) -> dict[str, Any]:
    """Steps, images and training seconds including every run this one was initialised from."""
    steps = int(state["step"])
    images = steps * int(state["config"]["batch_size"])
    wall_s = float(state["wall_s"])
    for entry in state.get("history", []):
        if "init_step" in entry:
            steps += int(entry["init_step"])
            images += int(entry["init_step"]) * int((entry.get("init_config") or {}).get("batch_size", 0))
            wall_s += float(entry.get("init_wall_s", 0.0))
    return {"steps_total": steps, "images_seen_total": images, "wall_time_s_total": round(wall_s, 1)}


def export_weights(
    run_dir: str | Path,
    out_dir: str | Path,
    name: str = "resnet18_formula",
    bn_image_size: int | None = None,
    bn_batches: int = 16,
    bn_batch_size: int = 32,
    snapshot_step: int | None = None,
) -> Path:
    """Write the backbone of ``run_dir``'s checkpoint as an fp16 state dict plus its JSON record.

    ``bn_image_size``: re-estimate the BatchNorm statistics on formula images of that size first
    (:func:`recalibrate_batchnorm`); the record says so. ``snapshot_step``: export the run's
    ``snapshots/step<N>.pt`` instead of the checkpoint's weights; the record's step, images, wall time
    (from the log line of that step) and history are cut back to step N.
    """
    run = Path(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = torch.load(run / CHECKPOINT, map_location="cpu", weights_only=False)
    config = state["config"]
    if snapshot_step is None:
        backbone = backbone_state(state["model"])
    else:
        backbone = torch.load(
            run / "snapshots" / f"step{snapshot_step:05d}.pt", map_location="cpu", weights_only=True
        )
        logged = [json.loads(x) for x in (run / LOG).read_text(encoding="utf-8").splitlines() if x.strip()]
        at_step = [x for x in logged if int(x["step"]) == snapshot_step]
        if not at_step or snapshot_step > int(state["step"]):
            raise ValueError(f"{run}: no logged step {snapshot_step} up to the checkpoint's step")
        history = []
        for entry in state.get("history", []):
            if "from_step" in entry and int(entry["from_step"]) >= snapshot_step:
                continue
            if "to_step" in entry and int(entry["to_step"]) > snapshot_step:
                entry = {**entry, "to_step": snapshot_step}
            history.append(entry)
        state = {**state, "step": snapshot_step, "wall_s": float(at_step[-1]["wall_s"]), "history": history}
    batchnorm: dict[str, Any] | None = None
    if bn_image_size is not None:
        backbone = recalibrate_batchnorm(backbone, config, bn_image_size, bn_batches, bn_batch_size)
        batchnorm = {
            "recalibrated_on": "formula images",
            "image_size": bn_image_size,
            "images": bn_batches * bn_batch_size,
            "generator_seed": int(config["seed"]) + BN_SEED_OFFSET,
        }
    weights = out / f"{name}.pt"
    torch.save(backbone, weights)
    record = {
        "arch": "resnet18",
        "stages": [f"layer{i}" for i in range(1, int(config["depth"]) + 1)],
        "sha256": sha256_file(weights),
        "dtype": "float16",
        "script": "scripts/pretrain_backbone.py",
        "script_version": state.get("script_version", SCRIPT_VERSION),
        "seed": config["seed"],
        "steps": state["step"],
        "batch_size": config["batch_size"],
        "images_seen": int(state["step"]) * int(config["batch_size"]),
        "image_size": config["image_size"],
        "fractal_categories": config["n_fractal"],
        "texture_categories": config["n_texture"],
        "objective": _objective(config),
        "hardware": state.get("hardware", []),
        "history": state.get("history", []),
        "wall_time_s": round(float(state["wall_s"]), 1),
        "final_loss": final_loss(run, up_to_step=int(state["step"])),
        "config": config,
        "batchnorm": batchnorm,
        **_lineage(state),
        "torch_version": torch.__version__,
    }
    (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return weights
