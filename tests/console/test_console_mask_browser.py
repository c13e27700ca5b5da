"""Headless Chromium paints a mask in the labeling editor; the stored PNG holds exactly those pixels.

The expected label map is computed here from the same strokes with the editor's documented
rules (a brush of size s paints the pixels within (s - 1) / 2 of each pixel the pointer crosses;
a polygon fills the pixels whose centres lie inside it; fill replaces the 4-connected region of
equal labels), so a wrong pixel anywhere fails the test.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright
from tests.console.browser import drag_on_mask, launch, screenshot
from tests.helpers.synthetic import png_image

WIDTH, HEIGHT = 160, 120
SCRATCH, DENT = 1, 2
COLOURS = {SCRATCH: (230, 25, 75), DENT: (0, 130, 200)}


def _disc(labels: np.ndarray, cx: int, cy: int, size: int, value: int) -> None:
    radius = (size - 1) / 2
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    labels[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius * radius] = value


def _brush_stroke() -> np.ndarray:
    labels = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    for x in range(10, 61):  # size 5 along row 20, from x = 10 to 60
        _disc(labels, x, 20, 5, SCRATCH)
    return labels


def _expected() -> np.ndarray:
    labels = _brush_stroke()
    labels[60:90, 80:121] = SCRATCH  # polygon (80,60)-(120,60)-(120,90)-(80,90) as dent, then filled
    labels[20, 30] = 0  # eraser, size 1
    return labels


def _click(page: Any, x: int, y: int) -> None:
    drag_on_mask(page, [(x, y)])


def _counts(page: Any) -> dict[str, int]:
    return dict(page.evaluate("maskEditor.counts()"))


def test_browser_paints_saves_and_reloads_a_mask(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="tiles")
    upload = httpx.post(
        server.url + "/openlookout/v1/projects/tiles/datasets/train/images",
        params={"name": "tile.png", "label": "anomaly"},
        content=png_image(WIDTH, HEIGHT, seed=5, defect=True),
        headers={"Content-Type": "application/octet-stream"},
        timeout=30.0,
    )
    ref = upload.json()["SourceRef"]
    expected = _expected()
    want = {"scratch": int((expected == SCRATCH).sum())}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(server.url + "/projects/tiles/anomaly-types")
            for name, colour in (("scratch", "#e6194b"), ("dent", "#0082c8")):
                page.fill("form.add-type input[name=name]", name)
                page.fill("form.add-type input[name=color]", colour)
                page.click("button:has-text('Add anomaly type')")
                expect(page.locator(f'tr[data-type="{name}"]')).to_have_count(1)
            page.fill("form.add-type input[name=name]", "dent")
            page.click("button:has-text('Add anomaly type')")
            expect(page.locator("p.error")).to_contain_text("already has an anomaly type named dent")
            screenshot(page, "anomaly-types")

            page.goto(server.url + "/projects/tiles/datasets/train/label?" + urlencode({"ref": ref}))
            expect(page.locator("#mask-editor[data-ready=yes]")).to_have_count(1)
            # Types are listed by name: 1 dent, 2 scratch.
            page.check("input[name=anomaly-type][value='1']")
            page.keyboard.press("2")  # scratch, with the key
            page.fill(".brush-size", "5")
            drag_on_mask(page, [(10, 20), (35, 20), (60, 20)])
            assert _counts(page) == {"scratch": int(_brush_stroke().sum())}

            page.mouse.move(640, 500)
            fitted = page.evaluate("maskEditor.zoom")
            page.mouse.wheel(0, 300)  # zoom out around the pointer; painting must still land right
            assert page.evaluate("maskEditor.zoom") == pytest.approx(fitted / 1.2)
            before = page.evaluate("[maskEditor.tx, maskEditor.ty]")
            page.keyboard.down(" ")  # space + drag pans and paints nothing
            page.mouse.down()
            page.mouse.move(600, 470, steps=4)
            page.mouse.up()
            page.keyboard.up(" ")
            after = page.evaluate("[maskEditor.tx, maskEditor.ty]")
            assert after == pytest.approx([before[0] - 40, before[1] - 30])
            assert _counts(page) == {"scratch": int(_brush_stroke().sum())}
            page.keyboard.press("1")
            page.click("[data-tool=polygon]")
            for x, y in ((80, 60), (120, 60), (120, 90), (80, 90), (80, 60)):
                _click(page, x, y)
            dent_area = 41 * 30
            assert _counts(page)["dent"] == dent_area

            page.keyboard.press("2")
            page.keyboard.press("f")
            _click(page, 100, 75)
            assert "dent" not in _counts(page)
            page.keyboard.press("Control+z")
            assert _counts(page)["dent"] == dent_area
            page.keyboard.press("Control+y")
            assert "dent" not in _counts(page)

            page.click("[data-tool=eraser]")
            page.fill(".brush-size", "1")
            _click(page, 30, 20)
            assert _counts(page) == want
            assert page.evaluate("maskEditor.labelAt(30, 20)") is None
            assert page.evaluate("maskEditor.labelAt(100, 75)") == "scratch"

            page.click("button.save")
            status = page.locator("#mask-editor .status")
            expect(status).to_have_text(f"Saved: {want['scratch']} mask pixels.")

            page.reload()
            expect(page.locator("#mask-editor[data-ready=yes]")).to_have_count(1)
            assert _counts(page) == want
            assert page.evaluate("maskEditor.labelAt(12, 21)") == "scratch"
            screenshot(page, "label-editor")

            line = json.loads(
                lv.list_dataset_entries(ProjectName="tiles", DatasetType="train")["DatasetEntries"][0]
            )
            sha = line["anomaly-mask-ref"][len("upload://") :].split("/", 1)[0]
            with page.expect_navigation():
                page.keyboard.press("n")  # relabel normal: the mask goes, the editor with it
            expect(page.locator(".current-label")).to_have_text("normal")
            expect(page.locator("#mask-editor")).to_have_count(0)
        finally:
            browser.close()

    line = json.loads(lv.list_dataset_entries(ProjectName="tiles", DatasetType="train")["DatasetEntries"][0])
    assert "anomaly-mask-ref" not in line
    rgba = np.asarray(Image.open(io.BytesIO(server.runtime.blobs.get(sha))).convert("RGBA"))
    assert np.array_equal(rgba[..., 3] > 0, expected > 0)
    assert set(map(tuple, rgba[expected == SCRATCH])) == {(*COLOURS[SCRATCH], 255)}
