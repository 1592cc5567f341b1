"""Real-browser fixtures: the app on a free port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.ports import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]
#: Clicks and waits: generous, since CI machines can be shared and loaded (a rerun can take
#: seconds there).
ACTION_TIMEOUT_MS = 60_000
expect.set_options(timeout=30_000)


@contextmanager
def running_server(command: list[str], env: dict[str, str] | None = None,
                   port: int | None = None) -> Iterator[str]:
    """A Streamlit server started by ``command`` (its options follow; the port, address and
    headless options are added) on ``port`` (default: a free loopback port); its URL once
    healthy, stopped after."""
    port = port or free_port()
    options = ["--server.headless", "true", "--server.port", str(port),
               "--server.address", "127.0.0.1"]
    process = subprocess.Popen([*command, *options], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
               "--global.developmentMode", "false", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    with running_server(command) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, for the page fixture to see a failure."""
    outcome = yield
    setattr(item, f"report_{call.when}", outcome.get_result())


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context's page; when the test fails, what the page showed is printed (the
    CI log is all there is to read) and a screenshot is written to the temp directory."""
    page = fresh_page(browser)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        describe_failure(page, request.node.name)
    page.context.close()


def fresh_page(browser: Browser) -> Page:
    """A page in a new browser context (a second user: no cookies, a new Streamlit session)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context.new_page()


def describe_failure(page: Page, name: str) -> None:
    shot = Path(tempfile.gettempdir()) / f"browser-failure-{name}.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
        state = page.get_by_test_id("stApp").get_attribute("data-test-script-state", timeout=5_000)
        text = page.get_by_test_id("stMain").inner_text(timeout=5_000)
    except PlaywrightError as error:
        print(f"could not read the page after the failure: {error}")
        return
    print(f"URL {page.url}; script state {state}; screenshot {shot}\nThe page showed:\n{text[:4000]}")


def wait_for_app(page: Page) -> None:
    """Wait until the script run has finished and nothing is still loading."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]",
                           timeout=60_000)
    page.wait_for_function("!document.querySelector('[data-testid=stSkeleton]')",
                           timeout=60_000)


def choose(page: Page, label: str, option: str, attempts: int = 3) -> None:
    """Pick ``option`` in the Streamlit selectbox whose label contains ``label``.

    The input is found by CSS, not by role: while any option list is open, react-aria hides
    everything else from the accessibility tree, and role locators find nothing. The option list
    is virtualised, so the option is typed in to filter it first; a rerun can close the list
    between typing and clicking, so the whole pick is retried until the box shows the option.
    """
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    field = box.locator("input")
    wanted = page.get_by_role("option", name=option, exact=True)
    for attempt in range(attempts):
        wait_for_app(page)
        field.click()
        field.fill(option)
        try:
            wanted.click(timeout=10_000)
            wait_for_app(page)
            expect(field).to_have_value(option, timeout=10_000)
            return
        except (PlaywrightTimeoutError, AssertionError):
            if attempt == attempts - 1:
                raise


def upload_on_data_page(page: Page, app_url: str, csv: Path) -> None:
    """Upload ``csv`` as the patients file on the Data page, keep the suggested mapping, state
    months and 0/1 event coding, load it, and wait until it is loaded."""
    page.goto(f"{app_url}/data")
    wait_for_app(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(csv))
    wait_for_app(page)
    choose(page, "Unit of the time", "months")
    choose(page, "coded?", "0/1 (0 = censored, 1 = event, 2 = competing event)")
    page.get_by_role("button", name="Validate and load").click()
    wait_for_app(page)
    expect(page.get_by_text(f"Loaded in this session: {csv.name}")).to_be_visible()


def download_report(page: Page) -> tuple[str, bytes]:
    """On the screen shown: "Prepare report (HTML)", then download it; (its URL, its bytes)."""
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Prepare report (HTML)").click()
    wait_for_app(page)
    with page.expect_download(timeout=60_000) as download:
        sidebar.get_by_role("button", name="Download report (HTML)").click()
    return download.value.url, Path(download.value.path()).read_bytes()

