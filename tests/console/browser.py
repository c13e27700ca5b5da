"""Shared pieces of the browser tests: launching Debian's Chromium headless and saving screenshots.

Screenshots go to ``$OPENLOOKOUT_TEST_ARTIFACTS/console`` (default ``test-artifacts/console`` in
the working directory, ignored by git) so a CI run can keep them as artifacts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright: Any) -> Any:
    """A headless Chromium browser (close it when done)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def artifacts_dir() -> Path:
    """Where screenshots are written (created on demand)."""
    root = Path(os.environ.get("OPENLOOKOUT_TEST_ARTIFACTS", "test-artifacts"))
    folder = root / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot of ``page`` as ``<name>.png`` and return its path."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def drag_on_mask(page: Any, points: list[tuple[int, int]]) -> None:
    """Press, move through ``points`` (image pixel coordinates) and release, over the mask editor."""

    def at(x: int, y: int) -> dict[str, float]:
        return page.evaluate("([x, y]) => maskEditor.screenPoint(x + 0.5, y + 0.5)", [x, y])

    start = at(*points[0])
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    for x, y in points[1:]:
        point = at(x, y)
        page.mouse.move(point["x"], point["y"], steps=8)
    page.mouse.up()
