"""A real browser (headless Chromium via Playwright) drives the console: create, upload, label.

This checks the console's own JavaScript: the upload progress count, the per-file error list
with the API's reason, and the ``a`` keyboard shortcut for labeling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect, sync_playwright
from tests.console.browser import launch, screenshot
from tests.helpers.synthetic import png_image


def test_browser_creates_project_uploads_and_labels(server: Any, lv: Any, tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(png_image(seed=3))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url + "/")
            page.fill("input[name=name]", "widgets")
            page.click("text=Create")
            page.wait_for_url("**/projects/widgets")

            page.set_input_files("#upload input[type=file]", [str(good), str(bad)])
            expect(page.locator("#upload .progress")).to_have_text("Uploaded 1 of 2 (1 failed)")
            errors = page.locator("#upload .upload-errors li")
            expect(errors).to_have_count(1)
            reason = errors.first.inner_text()
            assert reason.startswith("broken.png: ") and len(reason) > len("broken.png: ")

            page.goto(server.url + "/projects/widgets/datasets/train/gallery")
            expect(page.locator(".tile")).to_have_count(1)
            page.check(".tile input[type=checkbox]")
            with page.expect_navigation():
                page.keyboard.press("a")
            expect(page.locator(".tile.anomaly")).to_have_count(1)
            screenshot(page, "gallery-labeled")
        finally:
            browser.close()
    stats = lv.describe_dataset(ProjectName="widgets", DatasetType="train")["DatasetDescription"][
        "ImageStats"
    ]
    assert (stats["Total"], stats["Anomaly"]) == (1, 1)
