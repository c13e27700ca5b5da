"""Headless Chromium runs a trial detection from the console: start, wait, review by keyboard, add.

Checks the trial pages' own JavaScript: live progress above a review grid that fills as results arrive, the
``c`` / ``n`` / ``a`` shortcuts on the focused image with focus moving on, the running count on
the add button, and adding the verified images to the train dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect, sync_playwright
from tests.console.browser import launch, screenshot
from tests.console.test_console_trials import new_images, trained_server


def test_browser_runs_a_trial_and_adds_verified_images(make_server: Callable[..., Any], s3: Any) -> None:
    server, lv = trained_server(make_server, s3, "pumps")
    folder = server.local_root / "incoming"
    new_images(folder)
    before = lv.describe_dataset(ProjectName="pumps", DatasetType="train")["DatasetDescription"]["ImageStats"]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(15_000)
            page.goto(server.url + "/projects/pumps/trials")
            page.select_option("select[name=model]", "1")
            page.fill("input[name=source]", str(folder))
            page.fill("input[name=name]", "morning shift")
            page.click("text=Start trial")
            page.wait_for_url("**/projects/pumps/trials/*")

            # the progress section reloads the page into the review grid when the trial ends
            tiles = page.locator(".trial-tile.reviewable")
            expect(tiles).to_have_count(2, timeout=60_000)
            expect(page.locator(".trial-tile.has-error .trial-error")).to_contain_text("cannot be used:")
            add_button = page.locator("button.add-verified")
            expect(add_button).to_have_text("Add 0 verified images to the train dataset")

            first, second = tiles.nth(0), tiles.nth(1)
            first_prediction = first.get_attribute("data-predicted")
            second_prediction = second.get_attribute("data-predicted")
            assert {first_prediction, second_prediction} == {"normal", "anomaly"}

            first.click(position={"x": 20, "y": 20})
            page.keyboard.press("c")  # confirm the first prediction; the focus moves on
            expect(first).to_have_attribute("data-verdict", str(first_prediction))
            expect(second).to_be_focused()
            corrected = "normal" if second_prediction == "anomaly" else "anomaly"
            page.keyboard.press(corrected[0])  # correct the second one
            expect(second).to_have_attribute("data-verdict", corrected)
            expect(second.locator(".verdict")).to_have_text(f"verified {corrected} (corrected)")
            expect(first.locator(".verdict")).to_have_text(f"verified {first_prediction}")
            expect(add_button).to_have_text("Add 2 verified images to the train dataset")
            page.keyboard.press("ArrowLeft")
            expect(first).to_be_focused()
            screenshot(page, "trial-review")

            add_button.click()
            expect(page.locator(".trial-notice")).to_contain_text("Added 2 images to the train dataset.")
            expect(page.locator(".trial-tile.added")).to_have_count(2)
            expect(page.locator(".added-count")).to_have_text("2")

            page.goto(server.url + "/projects/pumps/trials")
            row = page.locator("table.trials tbody tr")
            expect(row).to_have_count(1)
            expect(row.locator(".trial-status")).to_contain_text("COMPLETED")
            expect(row.locator(".added")).to_have_text("2")
            screenshot(page, "trials")
        finally:
            browser.close()
    after = lv.describe_dataset(ProjectName="pumps", DatasetType="train")["DatasetDescription"]["ImageStats"]
    assert after["Total"] == before["Total"] + 2
    labels = [first_prediction, corrected]
    assert after["Anomaly"] == before["Anomaly"] + labels.count("anomaly")
    assert after["Normal"] == before["Normal"] + labels.count("normal")
