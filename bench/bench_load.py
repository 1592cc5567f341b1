"""Concurrent sessions going through every screen: errors must be zero.

Run from the repo root: ``python -m bench.bench_load`` (20 sessions, 120 s, on a registry
configured on the server: the demonstration cohort copied ``--configured`` times as Parquet,
default 25: 107,475 patients; ``--configured 0`` for the bundled data).

The users are ``--sessions`` Streamlit sessions driven over Streamlit's own WebSocket protocol
(:mod:`bench.protocol_client`): each opens the link ``/?ds=registry`` once, then goes through
the screens in turn (Cohort, Survival, Cox model, Toxicity, Dose, Published, Data, each session
starting at a different one), and after every round changes the Study filter in the sidebar
(one study after another, then none), so that the screens compute anew, for ``--seconds``;
``--think`` seconds between screens (default 0: every user clicks again as soon as a screen
has drawn, the worst case).
A screen's time runs from the request to the server's "script finished": the server's work and
its messages, without a browser's drawing. ``--browsers N`` adds N headless Chromium users
clicking the sidebar at the same time, whose times include drawing (what a user waits for
while the others work). Counts exceptions and error notices on any screen, runs that did not
finish, timeouts and dropped connections (and, for browsers, HTTP >= 500, failed requests and
page errors). Prints the median and 95th percentile time per screen, and the server's RSS (at
start, peak, at the end, and after the sessions have ended).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from bench.hosting import CHROMIUM, CHROMIUM_ARGS, registry_config, rss_mb, running_app
from tests.protocol import ProtocolSession, ScreenRun

#: The screens by title, and the url path of each (the sidebar's links).
SCREENS = {"Cohort": "", "Survival": "survival", "Cox model": "cox", "Toxicity": "toxicity",
           "Dose": "dose", "Published vs. this cohort": "published", "Data": "data"}
FIRST_LOAD = "first load (Cohort)"
#: Default seconds a screen may take before it counts as an error (``--step-timeout``).
STEP_TIMEOUT_S = 180
#: Seconds after the clients close until their sessions have ended (TTL 30 s + the reaper).
SESSION_END_S = 40
#: The study filter's label in the sidebar, and its choices in the demonstration cohort.
STUDY_FILTER = "Study"
_DRAWN = """title => {
    const heading = document.querySelector('[data-testid=stMain] h1');
    return heading && heading.textContent.trim() === title
        && document.querySelector('[data-testid=stApp][data-test-script-state=notRunning]')
        && !document.querySelector('[data-testid=stSkeleton]');
}"""


class Tally:
    """Screen times in seconds (by kind of user and screen), errors, the server's RSS samples
    (MB), and the seconds a screen may take."""

    def __init__(self, timeout_s: float = STEP_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.rss: list[float] = []
        self.received_bytes = 0


# ---------------------------------------------------------------------------------------------
# users over the protocol
# ---------------------------------------------------------------------------------------------


def count(run: ScreenRun, title: str, label: str, tally: Tally, who: str) -> None:
    """Record a protocol run's time under ``label``, and its errors."""
    tally.received_bytes += run.received_bytes
    if run.status == "finished":
        tally.seconds[("protocol", label)].append(run.seconds)
    if title not in run.headings and run.status == "finished":
        tally.errors.append(f"{who}: {title} drew no '{title}' heading")
    tally.errors.extend(f"{who}: {title}: {e}" for e in run.exceptions + run.error_notices)
    if run.status != "finished":
        tally.errors.append(f"{who}: {title}: run {run.status}")


def study_choices(studies: list[str], turn: int) -> list[str]:
    """The study filter for round ``turn``: one study after another, then none."""
    return [studies[turn % (len(studies) + 1)]] if turn % (len(studies) + 1) < len(studies) else []


async def protocol_user(base: str, link: str, index: int, seconds: float, tally: Tally,
                        think_s: float = 0.0) -> None:
    """One user over the protocol: open ``link``, go through the screens for ``seconds``,
    changing the study filter after each round, reading each screen for ``think_s``."""
    who = f"session {index}"
    titles = list(SCREENS)
    try:
        async with ProtocolSession(base, tally.timeout_s) as session:
            run = await session.open("", link)
            count(run, "Cohort", FIRST_LOAD, tally, who)
            studies = session.options(STUDY_FILTER)
            deadline = time.monotonic() + seconds
            step = index
            while time.monotonic() < deadline:
                title = titles[step % len(titles)]
                step += 1
                if step % len(titles) == index % len(titles):
                    session.choose(STUDY_FILTER, study_choices(studies, step // len(titles)))
                run = await session.open(SCREENS[title])
                count(run, title, title, tally, who)
                await asyncio.sleep(think_s)
    except Exception as error:  # a dropped connection is an error of the run, counted
        tally.errors.append(f"{who}: {type(error).__name__}: {error}"[:300])


# ---------------------------------------------------------------------------------------------
# users in a browser
# ---------------------------------------------------------------------------------------------


def watch(page: Page, tally: Tally, who: str) -> None:
    page.on("response", lambda r: r.status >= 500
            and tally.errors.append(f"{who}: HTTP {r.status} {r.url}"))
    # Every failed request counts (the app asks no other host: its icon is served locally),
    # but not the websocket's close and the requests a navigation aborts (net::ERR_ABORTED).
    page.on("requestfailed", lambda r: "/_stcore/stream" not in r.url
            and r.failure != "net::ERR_ABORTED"
            and tally.errors.append(f"{who}: request failed {r.url} {r.failure}"))
    page.on("pageerror", lambda e: tally.errors.append(f"{who}: page error {e}"))


async def drawn(page: Page, title: str, tally: Tally, label: str, start: float, who: str
                ) -> None:
    """Wait until screen ``title`` is drawn; record its time under ``label``; count errors."""
    await page.wait_for_function(_DRAWN, arg=title, timeout=tally.timeout_s * 1000)
    tally.seconds[("browser", label)].append(time.monotonic() - start)
    for test_id in ("stException", "stAlertContentError"):
        if await page.get_by_test_id(test_id).count():
            tally.errors.append(f"{who}: {test_id} on {title}")


async def browser_user(browser: Browser, url: str, index: int, seconds: float, tally: Tally
                       ) -> None:
    """One user in a browser: open ``url``, then click through the sidebar's screens for
    ``seconds`` after the first drew."""
    who = f"browser {index}"
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch(page, tally, who)
    titles = list(SCREENS)
    turn = index
    try:
        start = time.monotonic()
        await page.goto(url, timeout=tally.timeout_s * 1000)
        await drawn(page, "Cohort", tally, FIRST_LOAD, start, who)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            title = titles[turn % len(titles)]
            turn += 1
            try:
                start = time.monotonic()
                await page.get_by_test_id("stSidebarNav").get_by_role(
                    "link", name=title, exact=True).click(timeout=tally.timeout_s * 1000)
                await drawn(page, title, tally, title, start, who)
            except Exception as error:  # a timeout is an error of the run, counted
                tally.errors.append(f"{who}: {type(error).__name__}: {error}"[:300])
    except Exception as error:
        tally.errors.append(f"{who}: {type(error).__name__} opening: {error}"[:300])
    finally:
        await context.close()


async def browser_users(url: str, browsers: int, seconds: float, tally: Tally) -> None:
    if not browsers:
        return
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await asyncio.gather(*(browser_user(browser, url, i, seconds, tally)
                               for i in range(browsers)))
        await browser.close()


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


async def sample_rss(pid: int, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        tally.rss.append(rss_mb(pid))
        await asyncio.sleep(1)


async def run(sessions: int, browsers: int, seconds: float, copies: int, timeout_s: float,
              think_s: float) -> tuple[Tally, float, float, float]:
    """The tally, and the server's RSS MB at start, at the end of the run, after the sessions
    have ended."""
    tally = Tally(timeout_s)
    with tempfile.TemporaryDirectory() as folder:
        env, query = {}, ""
        if copies:
            env = {"OLIGOMET_CONFIG": str(registry_config(Path(folder), copies))}
            query = "ds=registry"
        with running_app(env) as (base, pid):
            start_mb = rss_mb(pid)
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(pid, tally, stop))
            await asyncio.gather(
                *(protocol_user(base, query, i, seconds, tally, think_s)
                  for i in range(sessions)),
                browser_users(f"{base}/?{query}", browsers, seconds, tally))
            end_mb = rss_mb(pid)
            await asyncio.sleep(SESSION_END_S)
            stop.set()
            await sampler
            return tally, start_mb, end_mb, rss_mb(pid)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def report(tally: Tally, args: argparse.Namespace, rss: tuple[float, float, float],
           load: tuple[float, float]) -> None:
    drawn_count = sum(len(times) for times in tally.seconds.values())
    print(f"{args.sessions} protocol sessions (think {args.think:g} s) + {args.browsers} "
          f"browsers, {args.seconds:.0f} s: "
          f"{drawn_count} screens, {len(tally.errors)} errors; "
          f"{tally.received_bytes / 1e6:.0f} MB sent to the protocol sessions")
    print("| user | screen | runs | median s | p95 s | max s |")
    print("|---|---|---:|---:|---:|---:|")
    for user in ("protocol", "browser"):
        for label in [FIRST_LOAD, *SCREENS]:
            times = tally.seconds.get((user, label))
            if times:
                print(f"| {user} | {label} | {len(times)} | {statistics.median(times):.2f} | "
                      f"{percentile(times, 0.95):.2f} | {max(times):.2f} |")
    start_mb, end_mb, after_mb = rss
    print(f"server RSS MB: start {start_mb:.0f}, peak {max(tally.rss):.0f}, end of run "
          f"{end_mb:.0f}, {SESSION_END_S} s after the sessions closed {after_mb:.0f}")
    print(f"load average (1 min): {load[0]:.1f} before, {load[1]:.1f} at the end")
    for error in tally.errors[:20]:
        print("  ", error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--browsers", type=int, default=0,
                        help="headless Chromium users besides the protocol sessions")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--configured", type=int, default=25, metavar="COPIES",
                        help="a configured registry of the demo cohort copied COPIES times "
                             "(0: the bundled data)")
    parser.add_argument("--think", type=float, default=0.0, metavar="SECONDS",
                        help="seconds each protocol user reads a screen before the next")
    parser.add_argument("--step-timeout", type=float, default=STEP_TIMEOUT_S,
                        help="seconds a screen may take before it counts as an error")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    tally, *rss = asyncio.run(run(args.sessions, args.browsers, args.seconds, args.configured,
                                  args.step_timeout, args.think))
    report(tally, args, tuple(rss), (load_before, os.getloadavg()[0]))
    raise SystemExit(1 if tally.errors else 0)


if __name__ == "__main__":
    main()
