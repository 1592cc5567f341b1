"""Server memory per open session on a registry configured on the server (``OLIGOMET_CONFIG``).

Run from the repo root: ``python -m bench.bench_sessions_memory --copies 25 --sessions 8``.
Configures the demonstration cohort copied ``--copies`` times (25: 107,475 patients) as a
Parquet dataset, starts the app, draws one warm-up session (the dataset is loaded once per
server process, code and caches warm), then opens ``--sessions`` more Chromium contexts at
once, each on the Survival screen of the link ``--link`` (default: filtered to male patients,
60 % of the rows), and keeps them open. Prints the server's RSS before and with them, and the
MB per extra session; then the same with unfiltered links.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, sync_playwright

from bench.hosting import CHROMIUM, CHROMIUM_ARGS, registry_config, rss_mb, running_app, wait_for_app

FILTERED = "survival?ds=registry&f.sex=male"
UNFILTERED = "survival?ds=registry"


def open_session(browser: Browser, url: str) -> BrowserContext:
    """A browser context showing ``url`` until the app has drawn it (kept open)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url, timeout=300_000)
    wait_for_app(page)
    return context


def per_session(browser: Browser, pid: int, url: str, sessions: int) -> tuple[float, float]:
    """(RSS before MB, MB per session) with ``sessions`` contexts open on ``url``; closes them
    and waits for the server to end their sessions (TTL 30 s + the reaper)."""
    before = rss_mb(pid)
    contexts = [open_session(browser, url) for _ in range(sessions)]
    time.sleep(3)
    held = rss_mb(pid)
    for context in contexts:
        context.close()
    time.sleep(40)
    return before, (held - before) / sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=25)
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = registry_config(Path(folder), args.copies)
        with running_app({"OLIGOMET_CONFIG": str(config)}) as (base, pid), \
                sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            print(f"server RSS at start {rss_mb(pid):.0f} MB", flush=True)
            for link in (FILTERED, UNFILTERED):
                open_session(browser, f"{base}/{link}").close()  # warm-up: loads the dataset
            time.sleep(40)
            for link in (FILTERED, UNFILTERED):
                before, each = per_session(browser, pid, f"{base}/{link}", args.sessions)
                print(f"/{link}: {args.sessions} sessions, RSS before {before:.0f} MB, "
                      f"{each:+.1f} MB per session", flush=True)
            browser.close()


if __name__ == "__main__":
    main()
