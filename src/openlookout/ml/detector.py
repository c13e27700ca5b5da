"""The anomaly detector with a scikit-learn style contract.

``AnomalyDetector(...).fit(images, labels, masks=None, anomaly_types=None)`` learns, from the
training data only: a feature projection, normality models (kNN memory bank, per-position
Gaussian), a supervised head on labelled and synthetic defects, how to weight these components,
the image threshold, the score calibration and, for segmentation models, the pixel threshold.
``predict(images)`` returns one :class:`~openlookout.ml.types.Prediction` per image.

How the threshold is learned: the training set is split into folds; each fold's images are
scored by components fitted without them (out-of-fold). Those scores choose the components
(highest out-of-fold image AUROC), normalise each component map (mean and spread over held-out
normal cells), and set the threshold (F1-optimal between held-out normals and held-out
anomalies; synthetic anomalies stand in when no real ones are given). The final components are
then fitted on all training images.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openlookout.ml import calibration
from openlookout.ml.backbone import build_backbone
from openlookout.ml.features import FeatureExtractor, adapt_batchnorm, gaussian_blur, make_backbone
from openlookout.ml.imageio import resize_image, resize_mask, working_size
from openlookout.ml.scoring import (
    ScoringGraph,
    cell_targets,
    fit_bank,
    fit_gaussian,
    fit_head,
    fit_projection,
    gaussian_map,
    grid_of,
    head_logits,
    head_map,
    knn_map_chunked,
    project,
)
from openlookout.ml.synth import synthesize
from openlookout.ml.types import Prediction, confidence_from_score

log = logging.getLogger(__name__)

FORMAT = "openlookout-detector/1"

PRESETS: dict[str, dict[str, Any]] = {
    # the default: 320 px long side, 64-d features, 1024-patch bank, 3 folds (best measured)
    "default": {"image_size": 320, "feature_dim": 64, "bank_size": 1024, "cv_folds": 3},
    # fast: 256 px, 48-d features, 512-patch bank
    "fast": {"image_size": 256, "feature_dim": 48, "bank_size": 512, "cv_folds": 3},
    # highres: 512 px, 128-d features, 4096-patch bank, 5 folds (slower; not better on the
    # example sets with the current weights, see docs/detector.md)
    "highres": {"image_size": 512, "feature_dim": 128, "bank_size": 4096, "cv_folds": 5},
}


@dataclass
class _Fitted:
    bank: torch.Tensor | None
    gauss: tuple[torch.Tensor, torch.Tensor] | None
    head: tuple[torch.Tensor, torch.Tensor] | None


class AnomalyDetector:
    """Patch-feature anomaly detector (kNN bank + per-position Gaussian + supervised head).

    Hyperparameters (``None`` takes the preset's value):
      preset: ``"default"``, ``"fast"`` or ``"highres"`` (see ``PRESETS``).
      image_size: long side of the working resolution in pixels (multiple of 32).
      weights: ``"pretrained"`` (project weights, random fallback), ``"random"`` or a state dict path.
      arch: backbone architecture (``resnet18``, ``resnet34``, ``resnet50``, ``wide_resnet50_2``).
      use_backbone / use_filterbank: which patch features to use.
      components: subset of ``("knn", "gaussian", "head")`` the score may use. Default kNN only:
        it measured best across the example sets (docs/detector.md); segmentation models fit the
        head anyway, for the type mask.
      select_components: choose among them by out-of-fold AUROC (else use all): the fewest
        components whose AUROC is within ``selection_tolerance`` of the best subset's.
      feature_dim, bank_size: projection size and memory bank size.
      n_synthetic: synthetic anomalies made per normal training image.
      cv_folds: folds for out-of-fold scores; smoothing: Gaussian sigma in feature cells.
      layers: backbone stages used as features (``layer1`` adds finer, stride-4 detail).
      bn_adapt: re-estimate the backbone's BatchNorm statistics on the normal training images.
      seed: all randomness (backbone init, subsampling, synthetic anomalies).
    """

    def __init__(
        self,
        preset: str = "default",
        image_size: int | None = None,
        weights: str = "pretrained",
        arch: str = "resnet18",
        use_backbone: bool = True,
        use_filterbank: bool = True,
        components: tuple[str, ...] = ("knn",),
        select_components: bool = True,
        feature_dim: int | None = None,
        bank_size: int | None = None,
        n_synthetic: int = 1,
        cv_folds: int | None = None,
        smoothing: float = 1.0,
        bn_adapt: bool = False,
        layers: tuple[str, ...] = ("layer2", "layer3"),
        selection_tolerance: float = 0.01,
        seed: int = 0,
    ) -> None:
        self.preset = preset
        self.image_size = image_size
        self.weights = weights
        self.arch = arch
        self.use_backbone = use_backbone
        self.use_filterbank = use_filterbank
        self.components = components
        self.select_components = select_components
        self.feature_dim = feature_dim
        self.bank_size = bank_size
        self.n_synthetic = n_synthetic
        self.cv_folds = cv_folds
        self.smoothing = smoothing
        self.bn_adapt = bn_adapt
        self.layers = layers
        self.selection_tolerance = selection_tolerance
        self.seed = seed

    # -------------------------------------------------------------------- sklearn plumbing

    _PARAMS = (
        "preset",
        "image_size",
        "weights",
        "arch",
        "use_backbone",
        "use_filterbank",
        "components",
        "select_components",
        "feature_dim",
        "bank_size",
        "n_synthetic",
        "cv_folds",
        "smoothing",
        "bn_adapt",
        "layers",
        "selection_tolerance",
        "seed",
    )

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

    def working_size_for(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) this detector will work at for images of this size."""
        return working_size(height, width, int(self._setting("image_size")))

    # -------------------------------------------------------------------- fitting

    def fit(
        self,
        images: list[np.ndarray],
        labels: list[int] | np.ndarray,
        masks: list[np.ndarray | None] | None = None,
        anomaly_types: list[str] | None = None,
    ) -> AnomalyDetector:
        """Learn from RGB uint8 images, 0/1 labels, optional per-image type-index masks."""
        started = time.perf_counter()
        label_array = np.asarray(labels, dtype=np.int64)
        if len(images) != len(label_array) or len(images) == 0:
            raise ValueError("need as many labels as images, and at least one image")
        if masks is not None and len(masks) != len(images):
            raise ValueError("masks must be None or have one entry (array or None) per image")
        normal_idx = np.flatnonzero(label_array == 0)
        if normal_idx.size == 0:
            raise ValueError("fit needs at least one normal image")
        for name in self.components:
            if name not in ("knn", "gaussian", "head"):
                raise ValueError(f"unknown component {name!r}")
        rng = np.random.default_rng(self.seed)
        generator = torch.Generator().manual_seed(self.seed)

        size = self.working_size_for(*np.asarray(images[0]).shape[:2])
        grid = grid_of(size)
        arrays = [resize_image(image, size) for image in images]
        segmentation = masks is not None and any(m is not None for m in masks)
        types = list(anomaly_types or [])
        if segmentation and not types:
            types = ["anomaly"]
        n_types = len(types) if segmentation else 0
        other = n_types + 1
        n_classes = n_types + 2

        # cell targets: 0 normal, k type, other = synthetic or unknown, -1 ignore, None = MIL
        targets: list[np.ndarray | None] = []
        for i, label in enumerate(label_array):
            mask = None if masks is None else masks[i]
            if label == 0:
                targets.append(np.zeros(grid, dtype=np.int64))
            elif mask is not None and np.any(np.asarray(mask) > 0):
                mask_arr = resize_mask(np.asarray(mask), size)
                if mask_arr.max() > n_types:
                    raise ValueError(f"mask {i} has type index {mask_arr.max()} but {n_types} anomaly types")
                targets.append(cell_targets(mask_arr, grid))
            else:
                targets.append(None)
        kinds = ["normal" if lab == 0 else "anomaly" for lab in label_array]
        sources = list(range(len(arrays)))
        synth_arrays: list[np.ndarray] = []
        for i in normal_idx.tolist():
            for _ in range(self.n_synthetic):
                image, mask = synthesize(arrays[i], rng)
                synth_arrays.append(image)
                cells = cell_targets(mask.astype(np.int64), grid)
                targets.append(np.where(cells > 0, other, cells))
                kinds.append("synthetic")
                sources.append(int(i))  # source normal image

        backbone, source = (
            make_backbone(self.weights, self.arch, self.seed) if self.use_backbone else (None, "none")
        )
        extractor = FeatureExtractor(backbone, self.use_filterbank, tuple(self.layers)).eval()
        if backbone is not None and self.bn_adapt:
            normal_arrays = [arrays[i] for i in normal_idx]
            batches = [
                extractor.normalise(
                    torch.from_numpy(np.stack(normal_arrays[s : s + 8])).permute(0, 3, 1, 2).float()
                )
                for s in range(0, len(normal_arrays), 8)
            ]
            adapt_batchnorm(backbone, batches)
        dim = int(self._setting("feature_dim"))
        all_arrays = arrays + synth_arrays
        with torch.no_grad():
            raw_normal = self._extract(extractor, [all_arrays[i] for i in normal_idx])
            proj_w, proj_b = fit_projection(raw_normal, dim, 60000, generator)
            z = torch.empty(len(all_arrays), proj_w.shape[0], *grid)
            z[torch.as_tensor(normal_idx)] = project(raw_normal, proj_w, proj_b)
            del raw_normal
            rest = [i for i in range(len(all_arrays)) if kinds[i] != "normal"]
            for start in range(0, len(rest), 8):
                chunk = rest[start : start + 8]
                z[torch.as_tensor(chunk)] = project(
                    self._extract(extractor, [all_arrays[i] for i in chunk]), proj_w, proj_b
                )
        dim = proj_w.shape[0]

        enabled = [c in self.components for c in ("knn", "gaussian", "head")]
        has_head_data = any(k != "normal" for k in kinds)
        enabled[2] = enabled[2] and has_head_data
        if not any(enabled):
            enabled[0] = True
        bank_size = int(self._setting("bank_size"))

        # ---- out-of-fold component maps
        folds = self._folds(rng, label_array, kinds, sources)
        oof = torch.zeros(3, len(all_arrays), *grid)
        kind_arr = np.array(kinds)
        for fold in range(int(folds.max()) + 1 if folds.size else 0):
            train = np.flatnonzero(folds != fold)
            held = np.flatnonzero(folds == fold)
            fitted = self._fit_components(
                z, train, kind_arr, targets, enabled, bank_size, n_classes, other, generator
            )
            oof[:, held] = self._component_maps(z[torch.as_tensor(held)], fitted, enabled)
        if folds.max(initial=-1) < 1:  # a single normal image: in-sample maps, warned
            log.warning("too few normal images for held-out scores; the threshold is optimistic")
            fitted = self._fit_components(
                z,
                np.arange(len(all_arrays)),
                kind_arr,
                targets,
                enabled,
                bank_size,
                n_classes,
                other,
                generator,
            )
            oof = self._component_maps(z, fitted, enabled)

        normal_mask = torch.as_tensor(kind_arr == "normal")
        mu = torch.zeros(3)
        sd = torch.ones(3)
        for c in range(3):
            if enabled[c]:
                values = oof[c, normal_mask].flatten()
                mu[c] = values.mean()
                sd[c] = values.std().clamp_min(1e-6) if values.numel() > 1 else 1.0
        zmaps = (oof - mu[:, None, None, None]) / sd[:, None, None, None]

        real_anom = kind_arr == "anomaly"
        positives = real_anom if real_anom.any() else kind_arr == "synthetic"
        evaluated = (kind_arr == "normal") | positives
        eval_labels = positives[evaluated].astype(int)

        def image_scores(weights: torch.Tensor) -> np.ndarray:
            fused = (zmaps * weights[:, None, None, None]).sum(0)[:, None]
            return gaussian_blur(fused, self.smoothing).flatten(1).max(1).values.numpy()

        candidates = [c for c in range(3) if enabled[c]]
        subsets = [s for r in range(1, len(candidates) + 1) for s in itertools.combinations(candidates, r)]
        if not self.select_components or not positives.any():
            subsets = [tuple(candidates)]
        results: list[tuple[float, tuple[int, ...]]] = []
        for subset in subsets:
            weights = torch.zeros(3)
            weights[list(subset)] = 1.0
            auc = calibration.auroc(image_scores(weights)[evaluated], eval_labels) if positives.any() else 0.0
            results.append((0.0 if np.isnan(auc) else auc, subset))
        # Occam's rule on a small validation set: the fewest components within `selection_tolerance`
        # of the best out-of-fold AUROC (then the higher AUROC)
        top = max(auc for auc, _ in results)
        eligible = [
            (len(subset), -auc, subset) for auc, subset in results if auc >= top - self.selection_tolerance
        ]
        _, neg_auc, chosen = min(eligible)
        best = (-neg_auc, len(chosen), chosen)
        comp_w = torch.zeros(3)
        comp_w[list(chosen)] = 1.0
        scores = image_scores(comp_w)
        normal_scores = scores[kind_arr == "normal"]
        if real_anom.any():
            threshold, _ = calibration.f1_optimal_threshold(scores[evaluated], eval_labels)
            scale = calibration.fit_scale(scores[evaluated], eval_labels, threshold)
        else:
            threshold = calibration.normal_only_threshold(normal_scores)
            if positives.any():
                scale = calibration.fit_scale(scores[evaluated], eval_labels, threshold)
            else:
                scale = float(normal_scores.std()) if normal_scores.size > 1 else 1.0
        scale = max(scale, 1e-6)
        pixel_threshold = threshold
        self.cv_pixel_auroc_: float | None = None
        if segmentation:
            # never above the image threshold: an image flagged anomalous shows where
            pixel_threshold = min(
                threshold, self._pixel_threshold(zmaps, comp_w, kind_arr, targets, threshold)
            )

        # ---- final components on all training images
        use = tuple(bool(comp_w[c] > 0) for c in range(3))
        need = [use[0], use[1], use[2] or n_types > 0]
        fitted = self._fit_components(
            z, np.arange(len(all_arrays)), kind_arr, targets, need, bank_size, n_classes, other, generator
        )
        actual_bank = fitted.bank.shape[0] if fitted.bank is not None else 1
        graph = ScoringGraph(
            extractor, dim, grid, actual_bank, n_classes, n_types, (use[0], use[1], use[2]), self.smoothing
        )
        graph.proj_weight.copy_(proj_w)
        graph.proj_bias.copy_(proj_b)
        if fitted.bank is not None:
            graph.bank.copy_(fitted.bank)
            graph.bank_sq.copy_((fitted.bank * fitted.bank).sum(1))
        if fitted.gauss is not None:
            graph.gauss_mean.copy_(fitted.gauss[0])
            graph.gauss_factor.copy_(fitted.gauss[1])
        if fitted.head is not None:
            graph.head_weight.copy_(fitted.head[0])
            graph.head_bias.copy_(fitted.head[1])
        graph.comp_mu.copy_(mu)
        graph.comp_sd.copy_(sd)
        graph.comp_w.copy_(comp_w)
        graph.threshold.fill_(float(threshold))
        graph.scale.fill_(float(scale))
        graph.pixel_threshold.fill_(float(pixel_threshold))
        graph.eval()

        self.graph_ = graph
        self.input_size_ = size
        self.anomaly_types_ = types
        self.segmentation_ = bool(segmentation)
        self.weights_source_ = source
        self.components_ = tuple(("knn", "gaussian", "head")[c] for c in chosen)
        self.threshold_ = float(threshold)
        self.scale_ = float(scale)
        self.pixel_threshold_ = float(pixel_threshold)
        self.cv_auroc_ = float(best[0])
        self.oof_scores_ = calibration.sigmoid((scores - threshold) / scale)[: len(arrays)]
        self.fit_seconds_ = time.perf_counter() - started
        return self

    @staticmethod
    def _extract(extractor: FeatureExtractor, arrays: list[np.ndarray], batch: int = 4) -> torch.Tensor:
        out = []
        for start in range(0, len(arrays), batch):
            x = torch.from_numpy(np.stack(arrays[start : start + batch])).permute(0, 3, 1, 2).float()
            out.append(extractor(x))
        return torch.cat(out)

    def _folds(
        self, rng: np.random.Generator, labels: np.ndarray, kinds: list[str], sources: list[int]
    ) -> np.ndarray:
        """Fold index per image (real and synthetic); synthetic images follow their source."""
        n_real = len(labels)
        normal_idx = np.flatnonzero(labels == 0)
        k = min(int(self._setting("cv_folds")), normal_idx.size)
        folds = np.zeros(len(kinds), dtype=np.int64)
        if k < 2:
            return folds
        for group in (normal_idx, np.flatnonzero(labels != 0)):
            order = rng.permutation(group)
            folds[order] = np.arange(order.size) % k
        for i in range(n_real, len(kinds)):
            folds[i] = folds[sources[i]]
        return folds

    def _fit_components(
        self,
        z: torch.Tensor,
        train: np.ndarray,
        kinds: np.ndarray,
        targets: list[np.ndarray | None],
        enabled: list[bool],
        bank_size: int,
        n_classes: int,
        other: int,
        generator: torch.Generator,
    ) -> _Fitted:
        normals = torch.as_tensor(train[kinds[train] == "normal"])
        zn = z[normals]
        bank = fit_bank(zn, bank_size, generator) if enabled[0] or enabled[2] else None
        gauss = fit_gaussian(zn) if enabled[1] else None
        head = None
        if enabled[2]:
            rows = []
            for i in train:
                target = targets[i]
                if target is None:  # image-level anomaly: its most unusual cells are positives
                    assert bank is not None
                    unusual = knn_map_chunked(z[i : i + 1], bank)[0].numpy()
                    cut = np.quantile(unusual, 0.98)
                    target = np.where(unusual >= cut, other, -1)
                rows.append(torch.as_tensor(target))
            stacked = torch.stack(rows)
            if (stacked > 0).any():
                head = fit_head(z[torch.as_tensor(train)], stacked, n_classes, generator)
        return _Fitted(bank if enabled[0] else None, gauss, head)

    @staticmethod
    def _component_maps(z: torch.Tensor, fitted: _Fitted, enabled: list[bool]) -> torch.Tensor:
        out = torch.zeros(3, z.shape[0], z.shape[2], z.shape[3])
        if enabled[0] and fitted.bank is not None:
            out[0] = knn_map_chunked(z, fitted.bank)
        if enabled[1] and fitted.gauss is not None:
            out[1] = gaussian_map(z, *fitted.gauss)
        if enabled[2] and fitted.head is not None:
            out[2] = head_map(head_logits(z, *fitted.head))
        return out

    def _pixel_threshold(
        self,
        zmaps: torch.Tensor,
        weights: torch.Tensor,
        kinds: np.ndarray,
        targets: list[np.ndarray | None],
        fallback: float,
    ) -> float:
        """F1-optimal cell threshold on held-out maps of masked anomalies and normals."""
        fused = gaussian_blur((zmaps * weights[:, None, None, None]).sum(0)[:, None], self.smoothing)[:, 0]
        values, truth = [], []
        for i, kind in enumerate(kinds):
            target = targets[i]
            if kind == "synthetic" or target is None:
                continue
            values.append(fused[i].numpy().ravel())
            truth.append(target.ravel() != 0)  # any defect pixel in the cell counts
        if not values or not np.concatenate(truth).any():
            return fallback
        all_values, all_truth = np.concatenate(values), np.concatenate(truth)
        self.cv_pixel_auroc_ = calibration.auroc(all_values, all_truth)
        threshold, _ = calibration.f1_optimal_threshold(all_values, all_truth)
        return float(threshold)

    # -------------------------------------------------------------------- inference

    def _check_fitted(self) -> None:
        if not hasattr(self, "graph_"):
            raise RuntimeError("this AnomalyDetector is not fitted yet; call fit first")

    def predict(self, images: list[np.ndarray], batch_size: int = 4) -> list[Prediction]:
        """One Prediction per RGB uint8 image; heatmaps and type masks at ``input_size_``."""
        self._check_fitted()
        results: list[Prediction] = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                chunk = [
                    resize_image(image, self.input_size_) for image in images[start : start + batch_size]
                ]
                x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).float()
                score, flag, heatmap, type_mask = self.graph_(x)
                for j in range(x.shape[0]):
                    value = float(score[j])
                    results.append(
                        Prediction(
                            score=value,
                            is_anomalous=bool(flag[j]),
                            confidence=confidence_from_score(value),
                            heatmap=heatmap[j].numpy().astype(np.float32),
                            type_mask=type_mask[j].numpy().astype(np.int32) if self.segmentation_ else None,
                        )
                    )
        return results

    def score_samples(self, images: list[np.ndarray]) -> np.ndarray:
        """Calibrated anomaly scores (0.5 = threshold) as an array."""
        return np.array([p.score for p in self.predict(images)], dtype=np.float64)

    # -------------------------------------------------------------------- persistence

    def _config(self) -> dict[str, Any]:
        graph = self.graph_
        return {
            "format": FORMAT,
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()},
            "input_size": list(self.input_size_),
            "anomaly_types": self.anomaly_types_,
            "segmentation": self.segmentation_,
            "weights_source": self.weights_source_,
            "components": list(self.components_),
            "threshold": self.threshold_,
            "scale": self.scale_,
            "pixel_threshold": self.pixel_threshold_,
            "cv_auroc": self.cv_auroc_,
            "cv_pixel_auroc": self.cv_pixel_auroc_,
            "graph": {
                "use_backbone": graph.extractor.backbone is not None,
                "use_filterbank": graph.extractor.filterbank is not None,
                "dim": int(graph.proj_weight.shape[0]),
                "bank_size": int(graph.bank.shape[0]),
                "n_classes": int(graph.head_weight.shape[0]),
                "n_types": graph.n_types,
                "use": [graph.use_knn, graph.use_gaussian, graph.use_head],
                "sigma": graph.sigma,
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
        params = dict(config["params"])
        params["components"] = tuple(params["components"])
        params["layers"] = tuple(params.get("layers", ("layer2", "layer3")))
        detector = cls(**params)
        g = config["graph"]
        backbone = build_backbone(params["arch"], depth=3, seed=0) if g["use_backbone"] else None
        extractor = FeatureExtractor(backbone, g["use_filterbank"], tuple(params["layers"]))
        size = (int(config["input_size"][0]), int(config["input_size"][1]))
        graph = ScoringGraph(
            extractor,
            g["dim"],
            grid_of(size),
            g["bank_size"],
            g["n_classes"],
            g["n_types"],
            tuple(g["use"]),
            g["sigma"],
        )
        graph.load_state_dict(blob["state"])
        graph.eval()
        detector.graph_ = graph
        detector.input_size_ = size
        detector.anomaly_types_ = list(config["anomaly_types"])
        detector.segmentation_ = bool(config["segmentation"])
        detector.weights_source_ = str(config["weights_source"])
        detector.components_ = tuple(config["components"])
        detector.threshold_ = float(config["threshold"])
        detector.scale_ = float(config["scale"])
        detector.pixel_threshold_ = float(config["pixel_threshold"])
        detector.cv_auroc_ = float(config["cv_auroc"])
        detector.cv_pixel_auroc_ = config.get("cv_pixel_auroc")
        return detector
