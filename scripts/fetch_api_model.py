"""Fetch the Lookout for Vision API model (2020-11-20) and keep only its interface facts.

Current botocore no longer ships this service; release 1.40.60 is the last that does. This script
downloads that wheel from the package registry (cached under ``.cache/``), reads the model files
and writes them to ``src/openlookout/spec/data/lookoutvision/2020-11-20/`` with every
``documentation`` string removed, so the project carries the shapes, not the prose.

Usage: python scripts/fetch_api_model.py [--wheel PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

BOTOCORE_VERSION = "1.40.60"
MODEL_DIR_IN_WHEEL = "botocore/data/lookoutvision/2020-11-20/"
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "botocore-wheel"
TARGET = ROOT / "src" / "openlookout" / "spec" / "data" / "lookoutvision" / "2020-11-20"
DROPPED_KEYS = {"documentation", "documentationUrl", "examples"}


def strip_docs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip_docs(v) for k, v in node.items() if k not in DROPPED_KEYS}
    if isinstance(node, list):
        return [strip_docs(v) for v in node]
    return node


def find_wheel() -> Path:
    found = sorted(CACHE.glob(f"botocore-{BOTOCORE_VERSION}-*.whl"))
    if found:
        return found[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"botocore=={BOTOCORE_VERSION}",
         "--no-deps", "--only-binary=:all:", "-d", str(CACHE)],
        check=True,
    )
    return sorted(CACHE.glob(f"botocore-{BOTOCORE_VERSION}-*.whl"))[0]


def read_member(wheel: zipfile.ZipFile, name: str) -> Any:
    for candidate in (name, name + ".gz"):
        path = MODEL_DIR_IN_WHEEL + candidate
        if path in wheel.namelist():
            raw = wheel.read(path)
            return json.loads(gzip.decompress(raw) if candidate.endswith(".gz") else raw)
    raise SystemExit(f"{name} not found in the wheel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a botocore wheel already on disk")
    args = parser.parse_args()
    wheel_path = args.wheel or find_wheel()
    TARGET.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel_path) as wheel:
        for name in ("service-2.json", "paginators-1.json", "endpoint-rule-set-1.json"):
            data = strip_docs(read_member(wheel, name))
            out = TARGET / name
            out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
