"""Hosting in Chromium and over raw HTTP / websocket: downloads reach only the session (and the
browser) that made them and are freed with it; a client cannot clear the shared caches; every
response forbids framing; metrics are closed; unknown hosts are refused."""

from __future__ import annotations

import base64
import os
import random
import re
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from tests.browser.conftest import (
    ROOT,
    download_report,
    fresh_page,
    running_server,
    upload_on_data_page,
    wait_for_app,
)
from ui.hardening import REAP_INTERVAL_S

pytestmark = pytest.mark.browser

PATIENTS = 2_000
SESSION_TTL_S = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"][
    "disconnectedSessionTTL"]


def status(url: str, cookie: str = "", host: str | None = None) -> int:
    """The HTTP status of a GET of ``url`` with this Cookie header (and Host, if given)."""
    headers = {"Cookie": cookie} | ({"Host": host} if host else {})
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def cookie_header(context: BrowserContext) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())


def cohort_csv(folder: Path, first_time: str) -> Path:
    """``folder``/cohort.csv: 2,000 patients; the first is censored at the earliest time,
    ``first_time``."""
    rng = random.Random(7)
    rows = [f"P0000,{first_time},0"] + [
        f"P{i:04d},{rng.randint(100, 60000) / 1000},{rng.randint(0, 1)}" for i in range(1, PATIENTS)]
    folder.mkdir()
    path = folder / "cohort.csv"
    path.write_text("patient_id,os_months,os_event\n" + "\n".join(rows) + "\n")
    return path


def figure_x_values(report: bytes) -> set[float]:
    """Every x value of the report's plotly figures (arrays travel as base64 float64)."""
    text = report.decode().replace("\\u002f", "/")
    arrays = re.findall(r'"x":\{"dtype":"f8","bdata":"([^"]*)"', text)
    return {float(v) for data in arrays for v in np.frombuffer(base64.b64decode(data))}


def survival_report(page: Page) -> tuple[str, bytes]:
    """On the Survival screen: prepare the report, download it; (its URL, its bytes)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Survival").click()
    expect(page).to_have_url(re.compile(r"/survival"))
    wait_for_app(page)
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    return download_report(page)


def test_two_users_get_their_own_report_and_nobody_else_can_fetch_it(browser, app_url: str,
                                                                      tmp_path: Path):
    first, second = fresh_page(browser), fresh_page(browser)
    try:
        upload_on_data_page(first, app_url, cohort_csv(tmp_path / "a", "0.05"))
        upload_on_data_page(second, app_url, cohort_csv(tmp_path / "b", "0.07"))
        first_url, first_report = survival_report(first)
        second_url, second_report = survival_report(second)
        assert min(len(first_report), len(second_report)) > 1_048_576
        assert first_url != second_url
        assert 0.05 in figure_x_values(first_report) - figure_x_values(second_report)
        assert 0.07 in figure_x_values(second_report) - figure_x_values(first_report)

        first_cookies = cookie_header(first.context)
        assert status(first_url, first_cookies) == 200
        assert status(first_url) == 404  # no cookie: not the browser that made it
        assert status(first_url, cookie_header(second.context)) == 404  # another browser

        first.context.close()
        closed = time.monotonic()
        deadline = closed + SESSION_TTL_S + 2 * REAP_INTERVAL_S + 10
        while status(first_url, first_cookies) != 404:
            assert time.monotonic() < deadline, "the closed session's report is still served"
            time.sleep(0.5)
        print(f"closed session's report gone {time.monotonic() - closed:.1f} s after closing")
        assert status(second_url, cookie_header(second.context)) == 200
    finally:
        for page in (first, second):
            if not page.is_closed():
                page.context.close()


def test_every_response_forbids_framing_and_metrics_and_strange_hosts_are_refused(
        page: Page, app_url: str):
    page.goto(app_url)  # the first script run installs the HTTP guard
    wait_for_app(page)
    for path in ("/", "/_stcore/health", "/survival"):
        with urllib.request.urlopen(f"{app_url}{path}", timeout=10) as response:
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert status(f"{app_url}/_stcore/metrics") == 404
    assert status(f"{app_url}/", host="attacker.example") == 403
    assert status(f"{app_url}/", host="localhost") == 200


PROBE_APP = '''
import secrets
import streamlit as st
from ui.hardening import harden

harden()


@st.cache_resource
def shared_token() -> str:
    return secrets.token_hex(8)


st.write(f"token {shared_token()}")
'''


@pytest.fixture(scope="module")
def probe_url(tmp_path_factory) -> Iterator[str]:
    """A server (this repository's config) running an app that shows a process-wide cached
    token and installs the same hardening as app.py."""
    script = tmp_path_factory.mktemp("probe") / "probe_app.py"
    script.write_text(PROBE_APP)
    command = [sys.executable, "-m", "streamlit", "run", str(script)]
    with running_server(command, os.environ | {"PYTHONPATH": str(ROOT)}) as url:
        yield url


def shown_token(websocket) -> str:
    """Run the script over the websocket; the token it writes."""
    rerun = BackMsg()
    rerun.rerun_script.SetInParent()
    websocket.send(rerun.SerializeToString())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message = ForwardMsg()
        message.ParseFromString(websocket.recv(timeout=60))
        if message.WhichOneof("type") == "delta":
            body = message.delta.new_element.markdown.body
            if body.startswith("token "):
                return body.removeprefix("token ")
    raise TimeoutError("the probe app wrote no token")


def test_a_client_cannot_clear_every_users_cache(probe_url: str):
    stream = probe_url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(stream, subprotocols=["streamlit"], open_timeout=30) as websocket:
        before = shown_token(websocket)
        clear = BackMsg()
        clear.clear_cache = True
        websocket.send(clear.SerializeToString())
        assert shown_token(websocket) == before
    with connect(stream, subprotocols=["streamlit"], open_timeout=30) as other:
        assert shown_token(other) == before
    assert status(f"{probe_url}/_stcore/health") == 200
