"""The first visit after the server starts, by a deep link, runs through app.py: with a pages/
folder Streamlit's legacy page discovery would run pages/data.py alone (no sidebar, no
hardening) until some session had run app.py's navigation."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import ROOT, fresh_page, running_server, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture
def fresh_server() -> Iterator[str]:
    """app.py on its own server, visited by nobody yet."""
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with running_server(command) as url:
        yield url


def test_a_deep_link_as_the_first_visit_gets_the_whole_app(browser: Browser, fresh_server: str):
    page = fresh_page(browser)
    try:
        page.goto(f"{fresh_server}/data?ds=veterans")
        wait_for_app(page)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Patients in cohort")).to_be_visible()
        expect(sidebar.get_by_role("link", name="Survival")).to_be_visible()
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
        expect(sidebar.get_by_text("137", exact=True)).to_be_visible()  # the link's dataset
    finally:
        page.context.close()


def test_two_deep_links_at_once_after_a_start_both_get_the_whole_app(browser: Browser,
                                                                    fresh_server: str):
    """Both first runs may choose legacy discovery before either switches it off: each still
    reruns through app.py (a page run alone found no view: KeyError 'view')."""
    pages = [fresh_page(browser) for _ in range(3)]
    links = ["/survival?ds=veterans&survival.by=celltype", "/?ds=gbsg2", "/cox?ds=veterans"]
    try:
        for page, link in zip(pages, links, strict=True):
            page.goto(f"{fresh_server}{link}", wait_until="commit")
        for page in pages:
            wait_for_app(page)
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text("Patients in cohort")).to_be_visible()
            assert page.get_by_test_id("stException").count() == 0
            assert page.get_by_test_id("stAlertContentError").count() == 0
    finally:
        for page in pages:
            page.context.close()
