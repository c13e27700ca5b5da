"""Pretrain OpenLookout's resnet18 backbone on formula-generated images (resumable; CPU or CUDA).

Examples::

    # start or resume a run in runs/formula (re-running the same command resumes it)
    python scripts/pretrain_backbone.py --run-dir runs/formula --steps 20000 --max-minutes 60
    # continue from the shipped weights in a new run (fresh heads and optimiser)
    python scripts/pretrain_backbone.py --run-dir runs/next \\
        --init-from src/openlookout/ml/weights/resnet18_formula.pt
    # write the fp16 backbone and its record where the package ships them
    python scripts/pretrain_backbone.py --run-dir runs/formula --export src/openlookout/ml/weights

See docs/pretraining.md for how the shipped weights were made.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from openlookout.ml.pretrain.train import TrainConfig, Trainer, export_weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = TrainConfig()
    parser.add_argument("--run-dir", required=True, type=Path, help="folder of the checkpoint and log")
    parser.add_argument("--steps", type=int, default=defaults.steps, help="length of the whole schedule")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--fractal-categories", type=int, default=defaults.n_fractal)
    parser.add_argument("--texture-categories", type=int, default=defaults.n_texture)
    parser.add_argument("--depth", type=int, default=defaults.depth, help="backbone stages trained (3 or 4)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--fractal-weight", type=float, default=defaults.fractal_weight)
    parser.add_argument("--texture-weight", type=float, default=defaults.texture_weight)
    parser.add_argument("--mark-weight", type=float, default=defaults.mark_weight)
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start a new run from a backbone state dict or from another run's checkpoint.pt (heads too)",
    )
    parser.add_argument(
        "--snapshot-every", type=int, default=0, help="also write the fp16 backbone every N steps"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this")
    parser.add_argument("--save-every-s", type=float, default=300.0)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument(
        "--export", type=Path, default=None, help="export the backbone to this folder and exit"
    )
    parser.add_argument(
        "--export-bn-size",
        type=int,
        default=None,
        help="with --export: first re-estimate BatchNorm statistics on formula images of this size",
    )
    parser.add_argument(
        "--export-snapshot",
        type=int,
        default=None,
        help="with --export: export the run's snapshot of this step instead of its checkpoint",
    )
    args = parser.parse_args(argv)
    if args.export is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        path = export_weights(
            args.run_dir, args.export, bn_image_size=args.export_bn_size, snapshot_step=args.export_snapshot
        )
        print(json.dumps(json.loads(path.with_suffix(".json").read_text(encoding="utf-8")), indent=2))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        image_size=args.image_size,
        n_fractal=args.fractal_categories,
        n_texture=args.texture_categories,
        depth=args.depth,
        seed=args.seed,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay,
        fractal_weight=args.fractal_weight,
        texture_weight=args.texture_weight,
        mark_weight=args.mark_weight,
    )
    trainer = Trainer(args.run_dir, config, args.device, init_from=args.init_from)
    print(f"run {args.run_dir}: step {trainer.step}/{trainer.config.steps} on {args.device}", flush=True)
    trainer.run(
        max_minutes=args.max_minutes,
        log_every=args.log_every,
        save_every_s=args.save_every_s,
        snapshot_every=args.snapshot_every,
    )
    print(f"stopped at step {trainer.step}; checkpoint in {args.run_dir}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
