"""Server memory held by a closed session with a registry-sized upload, and how soon it is freed.

Run from the repo root: ``python -m bench.bench_session_memory --copies 25``. Starts the app,
opens one warm-up session (the first upload loads code and caches for good) and closes it, then
opens a session in Chromium, uploads the demonstration cohort copied ``--copies`` times (25:
107,475 patients) on the Data page, visits the Survival screen, closes the browser context, and
samples the server's RSS every second until it is back within ``--margin`` MB of what it was
before the upload. Prints MB and seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from bench.hosting import (
    CHROMIUM,
    CHROMIUM_ARGS,
    registry_csv,
    rss_mb,
    running_app,
    upload,
    wait_for_app,
)


def session_with_upload(browser: Browser, url: str, csv: Path) -> None:
    """Upload ``csv``, draw the Survival screen, close the context."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    upload(page, url, csv)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Survival").click()
    wait_for_app(page)
    context.close()


def settle(pid: int, target_mb: float, timeout_s: float,
           trace: bool = False) -> tuple[float, float]:
    """Sample RSS each second until it is at most ``target_mb``: (seconds, last MB). With
    ``trace``, print every fifth sample."""
    start = time.monotonic()
    samples = 0
    while True:
        current = rss_mb(pid)
        elapsed = time.monotonic() - start
        if trace and samples % 5 == 0:
            print(f"  {elapsed:5.0f} s {current:6.0f} MB", flush=True)
        samples += 1
        if current <= target_mb or elapsed > timeout_s:
            return elapsed, current
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=25)
    parser.add_argument("--margin", type=float, default=15.0, help="MB above the baseline")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, running_app() as (url, pid):
        csv = registry_csv(Path(folder) / "registry.csv", args.copies)
        small = registry_csv(Path(folder) / "warmup.csv", 1)
        print(f"CSV {csv.stat().st_size / 1e6:.1f} MB; server RSS at start {rss_mb(pid):.0f} MB")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            session_with_upload(browser, url, small)
            settle(pid, 0, 45)  # the warm-up session ends (TTL + reaper)
            baseline = rss_mb(pid)
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            upload(page, url, csv)
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Survival").click()
            wait_for_app(page)
            held = rss_mb(pid)
            context.close()
            seconds, after = settle(pid, baseline + args.margin, args.timeout, trace=True)
            browser.close()
    print(f"baseline {baseline:.0f} MB; with the session {held:.0f} MB "
          f"(+{held - baseline:.0f}); after closing {after:.0f} MB "
          f"(+{after - baseline:.0f}) at {seconds:.0f} s")


if __name__ == "__main__":
    main()
