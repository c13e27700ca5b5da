"""A JPEG tagged EXIF Orientation 6 in the mask editor (issue 14, item 3), in headless Chromium.

Today's main stored such a JPEG as 200x100 while the browser drew it turned, 100x200, onto a
200x100 canvas, so a painted mask did not line up with what the model sees. Here the stored copy
is upright: the browser decodes it at the canvas's own size, which is the model's input size, and
the white band that is on the left of the stored pixels shows on top, as a viewer shows it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from playwright.sync_api import expect, sync_playwright
from tests.console.browser import launch, screenshot
from tests.helpers.bad_images import rotated_jpeg


def test_the_mask_editor_canvas_matches_the_upright_image(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="turned")
    data, _ = rotated_jpeg(200, 100, orientation=6)
    upload = httpx.post(
        server.url + "/openlookout/v1/projects/turned/datasets/train/images",
        params={"name": "turned.jpg", "label": "anomaly"},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30.0,
    )
    assert upload.status_code == 200, upload.text
    ref = upload.json()["SourceRef"]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(15_000)
            page.goto(server.url + "/projects/turned/anomaly-types")
            page.fill("form.add-type input[name=name]", "dent")
            page.fill("form.add-type input[name=color]", "#0082c8")
            page.click("button:has-text('Add anomaly type')")
            page.goto(server.url + "/projects/turned/datasets/train/label?" + urlencode({"ref": ref}))
            expect(page.locator("#mask-editor[data-ready=yes]")).to_have_count(1)
            canvas = page.evaluate("[maskEditor.map.width, maskEditor.map.height]")
            natural = page.evaluate(
                """() => new Promise((resolve) => {
                    const img = new Image();
                    img.onload = () => resolve([img.naturalWidth, img.naturalHeight]);
                    img.src = maskEditor.config.image;
                })"""
            )
            top_left, bottom_left = page.evaluate(
                """() => {
                    const ctx = maskEditor.imageLayer.getContext("2d");
                    return [ctx.getImageData(5, 5, 1, 1).data[2], ctx.getImageData(5, 190, 1, 1).data[2]];
                }"""
            )
            screenshot(page, "label-editor-exif")
        finally:
            browser.close()
    assert canvas == [100, 200]  # the model's input size: the project's (upright) image size
    assert natural == canvas  # what the browser draws is exactly the canvas
    assert top_left > 200 and bottom_left < 150  # the band is on top: upright, as a viewer shows it
