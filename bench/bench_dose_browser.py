"""Time for headless Chromium to draw the Dose screen on a large upload.

Run from the repo root: ``python -m bench.bench_dose_browser --patients 100000 --repeats 3``.
Writes the irradiated demonstration patients copied to ``--patients`` rows (as
``bench.bench_figures --irradiated``: every patient has an RT dose) to a CSV with the Dose
screen's columns, starts the app (``--root``: another checkout, e.g. the code before a change),
and per repeat, in a fresh browser context: uploads the file on the Data page, loads it, then
clicks "Dose" in the navigation and stops the clock when the script has finished and every
plotly chart on the page has drawn its SVG. Prints milliseconds per repeat and the median.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from playwright.sync_api import Page, sync_playwright

from bench.bench_figures import scaled_demo
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT
from tests.ports import free_port, wait_healthy

COLUMNS = ("patient_id", "study", "treated_sites", "rt_technique", "rt_total_dose_gy",
           "rt_fractions", "lc_months", "lc_event", "dose_level", "drug_dose_mg", "dlt")
CHARTS = 7  # 5 dose distributions, local failure by BED10, the DLT grid
ZERO_ONE_TWO = "0/1 (0 = censored, 1 = event, 2 = competing event)"
TIMEOUT_MS = 600_000
DRAWN = f"""() => {{
    const charts = document.querySelectorAll('[data-testid=stPlotlyChart]');
    const done = document.querySelector(
        '[data-testid=stApp][data-test-script-state=notRunning]');
    return done && charts.length >= {CHARTS}
        && [...charts].every(c => c.querySelector('.main-svg g.trace, .main-svg g.hm'));
}}"""


def write_upload(patients: int, folder: Path) -> Path:
    """The CSV to upload: the Dose screen's columns, sites joined with ';'."""
    frame = scaled_demo(patients, irradiated=True).patients.select(COLUMNS).with_columns(
        pl.col("treated_sites").list.join(";"),
        pl.col("dlt").replace_strict({True: "yes", False: "no"}, default=None,
                                     return_dtype=pl.String))
    path = folder / "registry.csv"
    frame.write_csv(path)
    return path


def wait_idle(page: Page) -> None:
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]",
                           timeout=TIMEOUT_MS)
    page.wait_for_function("!document.querySelector('[data-testid=stSkeleton]')",
                           timeout=TIMEOUT_MS)


def choose(page: Page, label: str, option: str) -> None:
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.locator("input").click()
    box.locator("input").fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def dose_draw_ms(browser, base: str, csv: Path) -> float:
    """Upload ``csv``, load it, open Dose; milliseconds from the click to every chart drawn."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{base}/data")
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(csv))
    wait_idle(page)
    choose(page, "Unit of the time", "months")
    choose(page, "coded?", ZERO_ONE_TWO)
    page.get_by_role("button", name="Validate and load").click()
    wait_idle(page)
    page.get_by_text("Loaded in this session").wait_for()
    start = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_text("Dose", exact=True).click()
    page.wait_for_function(DRAWN, timeout=TIMEOUT_MS, polling=50)
    elapsed = (time.perf_counter() - start) * 1000
    context.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py to run")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(args.root / "app.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--global.developmentMode", "false", "--browser.gatherUsageStats",
         "false", "--server.fileWatcherType", "none"],
        cwd=args.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            csv = write_upload(args.patients, Path(folder))
            wait_healthy(base, server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=CHROMIUM_ARGS)
                times = [dose_draw_ms(browser, base, csv) for _ in range(args.repeats)]
                browser.close()
        print(f"Dose screen, {args.patients:,} patients ({args.root}): "
              + ", ".join(f"{t:.0f}" for t in times)
              + f" ms; median {statistics.median(times):.0f} ms")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
