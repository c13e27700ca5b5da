"""A real browser (headless Chromium via Playwright) trains a model from the console.

It opens the models page, starts training through the form, watches the status turn from
TRAINING to TRAINED without any navigation (the page polls and updates itself), opens the
metrics with the precision-recall plot and one per-image result with its heatmap overlay.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect, sync_playwright
from tests.console.browser import launch, screenshot
from tests.contract.test_models_support import FAST_TRAINING, classification_project

from openlookout.client import lookoutvision_client

OUT = "console-browser-models-out"


def test_browser_trains_and_reviews_a_model(make_server: Any, s3: Any) -> None:
    server = make_server(**FAST_TRAINING)
    lv = lookoutvision_client(server.url, retries={"total_max_attempts": 1})
    s3.create_bucket(Bucket=OUT)
    classification_project(lv, s3, "widgets", "console-browser-models-data")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url + "/projects/widgets/models")
            expect(page.locator(".readiness.ready")).to_contain_text("Ready to train")
            page.fill("input[name=bucket]", OUT)
            page.fill("input[name=description]", "browser-run")
            screenshot(page, "models")
            page.click("#train button")
            page.wait_for_url("**/projects/widgets/models/1")
            status = page.locator(".model-status")
            expect(status).to_have_text("TRAINING")
            page.evaluate("window.stillThisPage = true")
            screenshot(page, "model-training")
            expect(status).to_have_text("TRAINED", timeout=180_000)
            # no navigation happened: the page updated itself, and now offers hosting and metrics
            assert page.evaluate("window.stillThisPage") is True
            expect(page.locator("#hosting button", has_text="Start hosting")).to_be_visible()
            expect(page.locator("#packaging .package-form")).to_be_visible()
            screenshot(page, "model")

            page.click("text=Metrics and test results")
            page.wait_for_url("**/models/1/metrics")
            expect(page.locator("svg.pr-plot .operating-point")).to_have_count(1)
            rows = page.locator("tr.result")
            expect(rows.first).to_be_visible()
            described = lv.describe_model(ProjectName="widgets", ModelVersion="1")["ModelDescription"]
            f1 = page.locator(".metric-f1").get_attribute("data-value")
            assert f1 is not None and abs(float(f1) - described["Performance"]["F1Score"]) < 1e-6
            screenshot(page, "model-metrics")

            rows.first.locator("a").last.click()
            page.wait_for_url("**/models/1/results/1")
            overlay = page.locator(".overlay.predicted")
            page.wait_for_function(
                "() => { const i = document.querySelector('.overlay.predicted'); "
                "return i.complete && i.naturalWidth > 0; }",
                timeout=60_000,
            )
            page.locator(".opacity").fill("80")
            expect(overlay).to_have_css("opacity", "0.8")
            screenshot(page, "model-result")
        finally:
            browser.close()
