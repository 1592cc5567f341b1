"""Concurrent sessions clicking through the screens: errors must be zero.

Run from the repo root: ``python -m bench.bench_load --sessions 20 --seconds 120``. Starts the
app on loopback, opens ``--sessions`` browser contexts in one headless Chromium, and has each
visit the screens in turn (one navigation per step, bounded by ``--seconds``) on the default
dataset. Counts error notices (``stException``, ``stAlertContentError``), HTTP responses >= 500
and failed requests, page errors and timeouts. Prints steps, errors and step times.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from playwright.async_api import Browser, Page, async_playwright

from bench.hosting import CHROMIUM, CHROMIUM_ARGS, running_app

SCREENS = ["", "survival", "cox", "toxicity", "dose", "published", "data",
           "survival?survival.by=histology"]
READY = "[data-testid=stApp][data-test-script-state=notRunning]"
#: Per navigation and wait. 20 Chromium contexts and the server share this machine's 2 cores, so
#: a page can take over a minute to load here: the client, not the server, is the bottleneck.
STEP_TIMEOUT_MS = 180_000


class Tally:
    """Steps and errors of every session."""

    def __init__(self) -> None:
        self.step_seconds: list[float] = []
        self.errors: list[str] = []


def watch(page: Page, base: str, tally: Tally) -> None:
    page.on("response", lambda r: r.status >= 500 and tally.errors.append(f"HTTP {r.status} {r.url}"))
    # Every failed request counts (the app asks no other host: its icon is served locally),
    # but not the websocket's close and the requests a navigation aborts (net::ERR_ABORTED).
    page.on("requestfailed", lambda r: "/_stcore/stream" not in r.url
            and r.failure != "net::ERR_ABORTED"
            and tally.errors.append(f"request failed {r.url} {r.failure}"))
    page.on("pageerror", lambda e: tally.errors.append(f"page error {e}"))


async def step(page: Page, url: str, tally: Tally) -> None:
    start = time.monotonic()
    await page.goto(url, timeout=STEP_TIMEOUT_MS)
    await page.wait_for_selector(READY, timeout=STEP_TIMEOUT_MS)
    await page.wait_for_function("!document.querySelector('[data-testid=stSkeleton]')",
                                 timeout=STEP_TIMEOUT_MS)
    tally.step_seconds.append(time.monotonic() - start)
    for test_id in ("stException", "stAlertContentError"):
        found = await page.get_by_test_id(test_id).count()
        if found:
            tally.errors.append(f"{test_id} on {url}")


async def session(browser: Browser, base: str, index: int, deadline: float, tally: Tally) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch(page, base, tally)
    turn = index
    try:
        while time.monotonic() < deadline:
            try:
                await step(page, f"{base}/{SCREENS[turn % len(SCREENS)]}", tally)
            except Exception as error:  # a timeout is an error of the run, counted
                tally.errors.append(f"{type(error).__name__} on session {index}: {error}"[:300])
            turn += 1
    finally:
        await context.close()


async def run(sessions: int, seconds: float) -> Tally:
    tally = Tally()
    with running_app() as (base, _pid):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(session(browser, base, i, deadline, tally)
                                   for i in range(sessions)))
            await browser.close()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    tally = asyncio.run(run(args.sessions, args.seconds))
    times = sorted(tally.step_seconds)
    print(f"{args.sessions} sessions, {args.seconds:.0f} s: {len(times)} screens drawn, "
          f"{len(tally.errors)} errors")
    if times:
        print(f"screen time s: median {statistics.median(times):.1f}, "
              f"90th percentile {times[int(0.9 * (len(times) - 1))]:.1f}, max {times[-1]:.1f}")
    for error in tally.errors[:20]:
        print("  ", error)
    raise SystemExit(1 if tally.errors else 0)


if __name__ == "__main__":
    main()
