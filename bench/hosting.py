"""Shared by the hosting benchmarks: the app on a free port, its RSS, a registry-sized CSV, and
the Data page's upload in Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from playwright.sync_api import Locator, Page, expect

from bench.bench_screens import registry
from tests.ports import free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


#: Where the bench server writes its log (read it when a run counts errors).
SERVER_LOG = Path(tempfile.gettempdir()) / "oligomet-bench-server.log"


@contextmanager
def running_app(env: dict[str, str] | None = None):
    """(URL, server pid) of the app started with this repository's config on loopback (and
    ``env`` added to the environment, e.g. ``OLIGOMET_CONFIG``); its log (scrubbed of
    messages: ui/logscrub.py) goes to :data:`SERVER_LOG`."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=SERVER_LOG.open("wb"),
        env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still finishing runs the clients left
            process.kill()
            process.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def registry_csv(path: Path, copies: int) -> Path:
    """The demonstration cohort ``copies`` times as a CSV (list columns joined by '; ')."""
    patients = registry(copies).patients
    lists = [c for c, t in patients.schema.items() if isinstance(t, pl.List)]
    patients.with_columns(pl.col(c).cast(pl.List(pl.String)).list.join("; ") for c in lists
                          ).write_csv(path)
    return path


def wait_for_app(page: Page) -> None:
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]",
                           timeout=300_000)
    page.wait_for_function("!document.querySelector('[data-testid=stSkeleton]')",
                           timeout=300_000)


def choose(box: Locator, option: str) -> None:
    """Pick ``option`` in the selectbox ``box``."""
    page = box.page
    field = box.locator("input")
    field.click()
    field.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def upload(page: Page, url: str, csv: Path) -> None:
    """Load ``csv`` on the Data page (months, every event coded 0/1/2) until it is loaded."""
    page.goto(f"{url}/data")
    wait_for_app(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(csv))
    wait_for_app(page)
    choose(page.get_by_test_id("stSelectbox").filter(has_text="Unit of the time").first,
           "months")
    coded = page.get_by_test_id("stSelectbox").filter(has_text="coded?")
    for index in range(coded.count()):
        choose(coded.nth(index), "0/1 (0 = censored, 1 = event, 2 = competing event)")
    page.get_by_role("button", name="Validate and load").click()
    wait_for_app(page)
    expect(page.get_by_text(f"Loaded in this session: {csv.name}")).to_be_visible(
        timeout=300_000)


def registry_config(folder: Path, copies: int, key: str = "registry") -> Path:
    """A server configuration (``OLIGOMET_CONFIG``) offering the demonstration cohort
    ``copies`` times as the Parquet dataset ``key`` (public, months, events coded 0/1/2)."""
    from cohort.schema import PATIENT_COLUMNS, TOXICITY_COLUMNS

    cohort = registry(copies)
    cohort.patients.write_parquet(folder / f"{key}.parquet")
    cohort.toxicities.write_parquet(folder / f"{key}-toxicities.parquet")
    mapped = [c for c in cohort.patients.columns if c in PATIENT_COLUMNS]
    kept = [c for c in cohort.patients.columns if c not in PATIENT_COLUMNS]
    events = [c for c in mapped if c.endswith("_event")]
    lines = [f"[datasets.{key}]", f'title = "Registry ({cohort.n_patients:,} patients)"',
             'provenance = "The demonstration cohort copied with new patient ids (benchmark)."',
             f'patients = "{key}.parquet"', f'toxicities = "{key}-toxicities.parquet"',
             'access = "public"', "synthetic = true", f"[datasets.{key}.reading]",
             'time_unit = "months"', f"keep = {kept!r}".replace("'", '"'),
             f"[datasets.{key}.reading.mapping]", *(f'{c} = "{c}"' for c in mapped),
             f"[datasets.{key}.reading.event_codings]", *(f'{c} = "0/1"' for c in events),
             f"[datasets.{key}.toxicity_mapping]",
             *(f'{c} = "{c}"' for c in cohort.toxicities.columns if c in TOXICITY_COLUMNS)]
    path = folder / "oligomet.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
