"""Headless Chromium visits the console pages the other browser tests do not reach (the three
deletion confirmations and a refusal) and saves a screenshot of each, so every page has one under
test-artifacts/console/."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect, sync_playwright
from tests.console.browser import launch, screenshot


def test_confirmation_and_refusal_pages_render_in_a_browser(server: Any, lv: Any) -> None:
    lv.create_project(ProjectName="tidy")
    lv.create_dataset(ProjectName="tidy", DatasetType="train")
    pages = {
        "project-delete": ("/projects/tidy/delete", "Delete project"),
        "dataset-delete": ("/projects/tidy/datasets/train/delete", "Delete the train dataset"),
        "model-delete": ("/projects/tidy/models/1/delete", "Delete model"),
    }
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            for name, (path, button) in pages.items():
                page.goto(server.url + path)
                expect(page.locator("button.danger")).to_have_text(button)
                screenshot(page, name)
            page.goto(server.url + "/projects/missing")
            expect(page.locator("p.error")).to_contain_text("Project 'missing' does not exist")
            screenshot(page, "refusal")
        finally:
            browser.close()
