"""The app in a real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import wait_for_app

pytestmark = pytest.mark.browser


def sidebar_count(page: Page) -> str:
    metric = page.get_by_test_id("stSidebar").get_by_test_id("stMetricValue").first
    return metric.inner_text().strip()


def test_cohort_page_shows_the_patient_count(page: Page, app_url: str):
    page.goto(app_url)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Cohort", exact=True)).to_be_visible()
    assert sidebar_count(page) == "137"
    main_counts = page.get_by_test_id("stMain").get_by_test_id("stMetricValue")
    assert main_counts.first.inner_text().strip() == "137"
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    assert page.get_by_test_id("stException").count() == 0
