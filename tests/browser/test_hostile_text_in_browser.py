"""In Chromium: crafted links and uploaded values render as text on the page, in figures, on
slides and in the report; no foreign link appears and the browser asks no other host."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import choose, download_report, upload_on_data_page, wait_for_app

pytestmark = pytest.mark.browser

EVIL_HOST = "evil.example"
IMAGE_HOST = "127.0.0.3"
EVIL_LINK = f'<a href="https://{EVIL_HOST}/x">click me</a>'
EVIL_MARKDOWN = f"[Session expired - sign in again](https://{EVIL_HOST}/login)"
EVIL_IMAGE = f"![x](http://{IMAGE_HOST}/a.png)"


def foreign_requests(page: Page, origin: str) -> list[str]:
    """A list that fills with every request the page makes to a host other than ``origin``."""
    seen: list[str] = []

    def record(request) -> None:
        url = request.url
        if url.startswith(("http:", "https:", "ws:", "wss:")) and urlsplit(url).netloc != origin:
            seen.append(url)
    page.on("request", record)
    return seen


def foreign_links(page: Page) -> list[str]:
    """Every link target in the document (HTML and SVG) that leads to a crafted host."""
    hrefs = page.evaluate("""() => Array.from(document.querySelectorAll('a'))
        .map(a => a.getAttribute('href') || a.getAttribute('xlink:href') || '')""")
    return [h for h in hrefs if EVIL_HOST in h or IMAGE_HOST in h]


def page_text(page: Page) -> str:
    """The page's text as read (the invisible word joiners that keep URLs unlinked removed)."""
    return page.evaluate("() => document.body.innerText").replace("\u2060", "")


def no_images_from(page: Page) -> None:
    sources = page.evaluate("() => Array.from(document.images).map(i => i.src)")
    assert not [s for s in sources if IMAGE_HOST in s or EVIL_HOST in s]


def test_a_crafted_link_shows_its_values_as_text(page: Page, app_url: str):
    asked = foreign_requests(page, urlsplit(app_url).netloc)
    query = "&".join([f"{quote(EVIL_MARKDOWN)}=1", f"ds={quote(EVIL_IMAGE)}",
                      f"f.histology={quote('https://' + EVIL_HOST + '/h')}"])
    page.goto(f"{app_url}/?{query}")
    wait_for_app(page)
    assert EVIL_MARKDOWN in page_text(page)  # the notice quotes it, as text
    assert not foreign_links(page)
    no_images_from(page)
    page.goto(f"{app_url}/?ds=uploaded&file={quote('https://' + EVIL_HOST + '/fixed.csv')}")
    wait_for_app(page)
    expect(page.get_by_text("This link shows a view of an uploaded file")).to_be_visible()
    assert f"https://{EVIL_HOST}/fixed.csv" in page_text(page)
    assert not foreign_links(page)
    assert not asked, asked


def hostile_csv(path: Path) -> Path:
    rows = ["patient_id,os_months,os_event,histology,note"]
    for i in range(40):
        histology = ['"' + EVIL_LINK.replace('"', '""') + '"', "adeno", EVIL_MARKDOWN][i % 3]
        rows.append(f"p{i},{1 + i},{i % 2},{histology},{EVIL_IMAGE if i % 2 else 'ok'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_uploaded_values_render_as_text_on_screen_slide_and_report(page: Page, app_url: str,
                                                                   tmp_path: Path):
    asked = foreign_requests(page, urlsplit(app_url).netloc)
    upload_on_data_page(page, app_url, hostile_csv(tmp_path / "registry.csv"))
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Survival").click()
    wait_for_app(page)
    choose(page, "Stratify by", "Histology")
    chart = page.get_by_test_id("stPlotlyChart").first
    # drawn as text, not made a link; a risk-table name wraps between words (lines join unspaced)
    expect(chart).to_contain_text(re.compile(r"click ?me"))
    expect(chart).to_contain_text(re.compile(r"<a ?href"))
    assert not foreign_links(page)
    no_images_from(page)

    report = download_report(page)[1].decode("utf-8")
    assert "click me" in report and f'<a href="https://{EVIL_HOST}' not in report

    page.get_by_test_id("stSidebar").get_by_text("Presentation mode").click()
    wait_for_app(page)
    expect(page.get_by_text("Figure 1 of 1")).to_be_visible()
    assert not foreign_links(page)
    no_images_from(page)
    assert not asked, asked
