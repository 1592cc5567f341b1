"""Concurrent sessions going through every screen: errors must be zero.

Run from the repo root: ``python -m bench.bench_load --sessions 20 --seconds 120``, or on a
registry configured on the server (``OLIGOMET_CONFIG``; the demonstration cohort copied
``--configured`` times as Parquet, 25: 107,475 patients): ``--configured 25``. Starts the app on
loopback, opens ``--sessions`` browser contexts in one headless Chromium; each opens the app
once (one Streamlit session per context, as a user) and then clicks through the screens in the
sidebar, one after another, for ``--seconds`` after its first screen drew. Counts error notices
(``stException``, ``stAlertContentError``), HTTP responses >= 500 and failed requests, page
errors and timeouts. Prints screens drawn, errors, the median and 95th percentile time per
screen, and the server's RSS (at start, peak, at the end, and after the sessions have ended).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from bench.hosting import CHROMIUM, CHROMIUM_ARGS, registry_config, rss_mb, running_app

SCREENS = ["Cohort", "Survival", "Cox model", "Toxicity", "Dose", "Published vs. this cohort",
           "Data"]
FIRST_LOAD = "first load (Cohort)"
READY = "[data-testid=stApp][data-test-script-state=notRunning]"
#: Default seconds per navigation and wait (``--step-timeout``). 20 Chromium contexts and the
#: server share this machine's 2 cores, so a page can take minutes to draw here: the clients,
#: not the server, are the bottleneck.
STEP_TIMEOUT_S = 180
#: Seconds after the contexts close until their sessions have ended (TTL 30 s + the reaper).
SESSION_END_S = 40
_DRAWN = """title => {
    const heading = document.querySelector('[data-testid=stMain] h1');
    return heading && heading.textContent.trim() === title
        && document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]')
        && !document.querySelector('[data-testid=stSkeleton]');
}"""


class Tally:
    """Screen times (by screen) and errors of every session, the server's RSS samples, and the
    milliseconds a navigation may take."""

    def __init__(self, timeout_s: float = STEP_TIMEOUT_S) -> None:
        self.timeout_ms = timeout_s * 1000
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.rss: list[float] = []


def watch(page: Page, tally: Tally) -> None:
    page.on("response", lambda r: r.status >= 500 and tally.errors.append(f"HTTP {r.status} {r.url}"))
    # Every failed request counts (the app asks no other host: its icon is served locally),
    # but not the websocket's close and the requests a navigation aborts (net::ERR_ABORTED).
    page.on("requestfailed", lambda r: "/_stcore/stream" not in r.url
            and r.failure != "net::ERR_ABORTED"
            and tally.errors.append(f"request failed {r.url} {r.failure}"))
    page.on("pageerror", lambda e: tally.errors.append(f"page error {e}"))


async def drawn(page: Page, title: str, tally: Tally, label: str, start: float) -> None:
    """Wait until screen ``title`` is drawn; record its time under ``label``; count errors."""
    await page.wait_for_function(_DRAWN, arg=title, timeout=tally.timeout_ms)
    tally.seconds[label].append(time.monotonic() - start)
    for test_id in ("stException", "stAlertContentError"):
        if await page.get_by_test_id(test_id).count():
            tally.errors.append(f"{test_id} on {title}")


async def session(browser: Browser, url: str, index: int, seconds: float, tally: Tally) -> None:
    """One user: open ``url``, then click through the screens for ``seconds`` after it drew."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch(page, tally)
    turn = index
    try:
        start = time.monotonic()
        await page.goto(url, timeout=tally.timeout_ms)
        await drawn(page, "Cohort", tally, FIRST_LOAD, start)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            title = SCREENS[turn % len(SCREENS)]
            turn += 1
            try:
                start = time.monotonic()
                await page.get_by_test_id("stSidebarNav").get_by_role(
                    "link", name=title, exact=True).click(timeout=tally.timeout_ms)
                await drawn(page, title, tally, title, start)
            except Exception as error:  # a timeout is an error of the run, counted
                tally.errors.append(f"{type(error).__name__} on session {index}: {error}"[:300])
    except Exception as error:
        tally.errors.append(f"{type(error).__name__} opening session {index}: {error}"[:300])
    finally:
        await context.close()


async def sample_rss(pid: int, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        tally.rss.append(rss_mb(pid))
        await asyncio.sleep(1)


async def run(sessions: int, seconds: float, copies: int, timeout_s: float
              ) -> tuple[Tally, float, float, float]:
    """The tally, and the server's RSS MB at start, at the end of the run, after the sessions
    have ended."""
    tally = Tally(timeout_s)
    with tempfile.TemporaryDirectory() as folder:
        env, link = {}, "/"
        if copies:
            env = {"OLIGOMET_CONFIG": str(registry_config(Path(folder), copies))}
            link = "/?ds=registry"
        with running_app(env) as (base, pid):
            start_mb = rss_mb(pid)
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(pid, tally, stop))
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                           args=CHROMIUM_ARGS)
                await asyncio.gather(*(session(browser, base + link, i, seconds, tally)
                                       for i in range(sessions)))
                end_mb = rss_mb(pid)
                await browser.close()
            await asyncio.sleep(SESSION_END_S)
            stop.set()
            await sampler
            return tally, start_mb, end_mb, rss_mb(pid)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--configured", type=int, default=0, metavar="COPIES",
                        help="a configured registry of the demo cohort copied COPIES times")
    parser.add_argument("--step-timeout", type=float, default=STEP_TIMEOUT_S,
                        help="seconds a navigation may take before it counts as an error")
    args = parser.parse_args()
    tally, start_mb, end_mb, after_mb = asyncio.run(run(args.sessions, args.seconds,
                                                        args.configured, args.step_timeout))
    drawn_count = sum(len(times) for times in tally.seconds.values())
    print(f"{args.sessions} sessions, {args.seconds:.0f} s: {drawn_count} screens drawn, "
          f"{len(tally.errors)} errors")
    print("| screen | drawn | median s | p95 s | max s |")
    print("|---|---:|---:|---:|---:|")
    for label in [FIRST_LOAD, *SCREENS]:
        times = tally.seconds.get(label)
        if times:
            print(f"| {label} | {len(times)} | {statistics.median(times):.1f} | "
                  f"{percentile(times, 0.95):.1f} | {max(times):.1f} |")
    print(f"server RSS MB: start {start_mb:.0f}, peak {max(tally.rss):.0f}, end of run "
          f"{end_mb:.0f}, {SESSION_END_S} s after the sessions closed {after_mb:.0f}")
    for error in tally.errors[:20]:
        print("  ", error)
    raise SystemExit(1 if tally.errors else 0)


if __name__ == "__main__":
    main()
