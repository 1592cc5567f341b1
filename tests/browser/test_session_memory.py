"""A closed session's objects (its AppSession, session state, upload) are freed in the server
once its reconnection time is over, without waiting for another session to run."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, fresh_page, running_server, upload_on_data_page
from tests.browser.test_hosting import cohort_csv
from ui.hardening import REAP_INTERVAL_S

pytestmark = pytest.mark.browser

#: Shorter than the hosted 30 s to keep the test short; the reaper path is the same.
TTL_S = 10


class Probe:
    """Asks the probe thread of tests/browser/session_probe_server.py what is alive."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def alive(self) -> dict:
        reply = self.folder / "answer.json"
        reply.unlink(missing_ok=True)
        (self.folder / "ask").touch()
        deadline = time.monotonic() + 30
        while not reply.exists():
            assert time.monotonic() < deadline, "the server's probe did not answer"
            time.sleep(0.1)
        return json.loads(reply.read_text())


@pytest.fixture
def probed_app(tmp_path: Path) -> Iterator[tuple[str, Probe]]:
    """app.py on a free port, this repository's config but a TTL of ``TTL_S``, with a probe."""
    folder = tmp_path / "probe"
    folder.mkdir()
    command = [sys.executable, str(ROOT / "tests" / "browser" / "session_probe_server.py"),
               "--server.disconnectedSessionTTL", str(TTL_S)]
    with running_server(command, os.environ | {"SESSION_PROBE_DIR": str(folder)}) as url:
        yield url, Probe(folder)


def test_a_closed_sessions_objects_are_freed_after_its_ttl(browser, probed_app, tmp_path: Path):
    url, probe = probed_app
    page = fresh_page(browser)
    try:
        upload_on_data_page(page, url, cohort_csv(tmp_path / "upload", "0.05"))
        alive = probe.alive()
        assert len(alive["app_sessions"]) == 1 and alive["session_states"] == 1, alive
        assert alive["uploaded_cohorts"] >= 1, alive
    finally:
        page.context.close()
    closed = time.monotonic()
    deadline = closed + TTL_S + 2 * REAP_INTERVAL_S + 10
    while any((alive := probe.alive()).values()):
        assert time.monotonic() < deadline, f"the closed session is still alive: {alive}"
        time.sleep(1)
    print(f"closed session's objects freed {time.monotonic() - closed:.1f} s after closing")
