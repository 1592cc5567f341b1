"""Time from opening the app to the first chart drawn, in headless Chromium.

Run from the repo root: ``python -m bench.bench_first_chart --repeats 7``. Starts the app on a
free port (as the browser tests do), then for each screen opens a fresh browser context (no
cache, a new Streamlit session), navigates, and stops the clock when the first plotly chart's
SVG is in the page. Prints the median and range per screen, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT
from tests.ports import free_port, wait_healthy

SCREENS = {
    "Cohort (default dataset, 4,299 patients)": "",
    "Survival, OS by study (6 groups)": "survival?survival.by=study",
    "Survival, TTNT by regimen (competing events)": "survival?survival.endpoint=TTNT"
                                                     "&survival.by=regimen",
}
FIRST_CHART = "[data-testid=stPlotlyChart] .main-svg"


def first_chart_ms(browser, url: str) -> float:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(FIRST_CHART, timeout=120_000)
    elapsed = (time.perf_counter() - start) * 1000
    context.close()
    return elapsed


def main(repeats: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--global.developmentMode", "false", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            first_chart_ms(browser, base)  # warm-up: the server's first load of the dataset
            print(f"{'screen':<48} {'median ms':>10} {'min':>7} {'max':>7}")
            for name, path in SCREENS.items():
                times = [first_chart_ms(browser, f"{base}/{path}") for _ in range(repeats)]
                print(f"{name:<48} {statistics.median(times):>10.0f} {min(times):>7.0f} "
                      f"{max(times):>7.0f}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    main(parser.parse_args().repeats)
