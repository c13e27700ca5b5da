"""A real browser (headless Chromium via Playwright) drives the console: create, upload, label.

This checks the console's own JavaScript: the upload progress count (uploads run several at a
time), the per-file error list with the API's reason, and the ``a`` keyboard shortcut for
labeling. Screenshots: "projects", "project", "gallery", "gallery-labeled".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
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


def test_browser_uploads_many_files_in_parallel_and_lists_each_refusal(
    server: Any, lv: Any, tmp_path: Path
) -> None:
    files = []
    for seed in range(9):
        path = tmp_path / f"part{seed}.png"
        path.write_bytes(png_image(seed=100 + seed))
        files.append(path)
    wrong_format = tmp_path / "notes.png"
    wrong_format.write_bytes(b"these are notes, not a picture")
    wrong_size = tmp_path / "wide.png"
    wrong_size.write_bytes(png_image(width=128, height=64, seed=7))
    duplicate = tmp_path / "copy-of-part3.png"
    duplicate.write_bytes(files[3].read_bytes())
    too_large = tmp_path / "huge.png"
    too_large.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(8 * 1024 * 1024))
    files[4:4] = [wrong_format, wrong_size]
    files.append(duplicate)
    files.insert(7, too_large)
    lv.create_project(ProjectName="batch")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url + "/")
            expect(page.locator("td a", has_text="batch")).to_have_count(1)
            screenshot(page, "projects")

            page.goto(server.url + "/projects/batch")
            page.check("input[name=layout][value=separate]")
            with page.expect_navigation():
                page.click("text=Create datasets")
            expect(page.locator("tr[data-dataset=test]")).to_have_count(1)
            page.select_option("#upload select[name=label]", "normal")
            page.set_input_files("#upload input[type=file]", [str(f) for f in files])
            expect(page.locator("#upload .progress")).to_have_text("Uploaded 9 of 13 (4 failed)")
            errors = page.locator("#upload .upload-errors li")
            expect(errors).to_have_count(4)
            reasons = errors.all_inner_texts()
            screenshot(page, "project")
        finally:
            browser.close()
    by_name = {text.split(": ", 1)[0]: text.split(": ", 1)[1] for text in reasons}
    assert set(by_name) in (
        {"notes.png", "wide.png", "huge.png", "copy-of-part3.png"},
        {"notes.png", "wide.png", "huge.png", "part3.png"},
    )
    assert "128x64" in by_name["wide.png"] and "same size" in by_name["wide.png"]
    assert "same content" in (by_name.get("copy-of-part3.png") or by_name["part3.png"])
    assert len(by_name["notes.png"]) > 10
    assert str(8 * 1024 * 1024 + 8) in by_name["huge.png"] and str(8 * 1024 * 1024) in by_name["huge.png"]
    stats = lv.describe_dataset(ProjectName="batch", DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert (stats["Total"], stats["Normal"]) == (9, 9)


def test_browser_gallery_filters_multi_selects_and_links_the_labeling_page(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="shots")
    for seed in range(8):
        lv_upload = server.url + "/openlookout/v1/projects/shots/datasets/train/images"
        label = "anomaly" if seed < 3 else "normal"
        response = httpx.post(
            lv_upload,
            params={"name": f"shot{seed}.png", "label": label},
            content=png_image(seed=200 + seed, defect=label == "anomaly"),
            headers={"Content-Type": "application/octet-stream"},
        )
        response.raise_for_status()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url + "/projects/shots/datasets/train/gallery")
            expect(page.locator(".tile")).to_have_count(8)
            loaded = "() => Array.from(document.querySelectorAll('.tile img')).every(i => i.naturalWidth > 0)"
            page.wait_for_function(loaded)
            screenshot(page, "gallery")
            page.select_option("select[name=class]", "anomaly")
            with page.expect_navigation():
                page.click("form.filters button")
            expect(page.locator(".tile")).to_have_count(3)
            href = page.locator(".tile a.open").first.get_attribute("href")
            assert href is not None and href.startswith(
                "/projects/shots/datasets/train/label?ref=upload%3A%2F%2F"
            )

            boxes = page.locator(".tile input[name=ref]")
            page.click("button.select-all")
            expect(page.locator(".tile input[name=ref]:checked")).to_have_count(3)
            page.click("button.select-all")
            expect(page.locator(".tile input[name=ref]:checked")).to_have_count(0)
            boxes.nth(0).click()
            boxes.nth(2).click(modifiers=["Shift"])
            expect(page.locator(".tile input[name=ref]:checked")).to_have_count(3)
            with page.expect_navigation():
                page.keyboard.press("n")
            expect(page.locator(".tile")).to_have_count(0)
        finally:
            browser.close()
    stats = lv.describe_dataset(ProjectName="shots", DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert (stats["Normal"], stats["Anomaly"]) == (8, 0)
