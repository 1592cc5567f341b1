"""Server-side time of each screen on a registry-sized upload, and of a Cox fit against lifelines.

Run from the repo root: ``python -m bench.bench_screens --copies 25``. The demonstration cohort
is copied ``--copies`` times with new patient ids (25 copies: 107,475 patients, 7,400 toxicity
rows), put into a Streamlit session as an upload (as the Data page does), and each screen is
run in Streamlit's AppTest: the first run and a rerun with nothing changed (widgets moved by a
user rerun the script the same way). Then one Cox model (3 covariates, 8 coefficients) is timed
with ``cohort.cox.fit_cox`` and lifelines' ``CoxPHFitter`` on the same rows. Prints seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import polars as pl
from streamlit.testing.v1 import AppTest

from cohort.cox import fit_cox
from cohort.datasets import load_dataset
from cohort.schema import PATIENT_ID, Cohort
from tests.apptest import run_pages_through_the_entry_script

ROOT = Path(__file__).resolve().parent.parent
COX_COVARIATES = ["regimen", "oligo_state", "age_years"]
#: lifelines stops on the demonstration cohort's single-patient regimens (complete separation),
#: so the Cox comparison uses the three chemotherapy regimens of the colorectal registry.
BENCH_REGIMENS = ["FOLFOX", "FOLFIRI", "capecitabine"]
BENCH_COX = ["regimen", "sex", "age_years"]
SCREENS = [
    ("Cohort", "pages/cohort.py", {}),
    ("Survival, OS", "pages/survival.py", {}),
    ("Survival, OS by histology (8 groups)", "pages/survival.py", {"surv.by": "histology"}),
    ("Cox, OS on 3 covariates", "pages/cox.py",
     {"cox.uploaded.covariates": COX_COVARIATES}),
    ("Toxicity", "pages/toxicity.py", {}),
    ("Dose", "pages/dose.py", {}),
]


def registry(copies: int) -> Cohort:
    """The demonstration cohort ``copies`` times over, each copy with its own patient ids."""
    demo = load_dataset("oligomet-demo")

    def copied(frame: pl.DataFrame) -> pl.DataFrame:
        return pl.concat(frame.with_columns(pl.col(PATIENT_ID) + f"-{k}") for k in range(copies))

    return Cohort(name="registry.csv", patients=copied(demo.patients),
                  toxicities=copied(demo.toxicities))


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


run_pages_through_the_entry_script()


def app_with_upload(cohort: Cohort) -> AppTest:
    """The app in AppTest, run once, with ``cohort`` as this session's upload, selected."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.session_state["uploaded_cohort"] = cohort
    at.session_state["dataset_pending"] = "uploaded"
    at.run()
    return at


def open_screen(at: AppTest, path: str, widgets: dict) -> None:
    """Switch to the screen at ``path`` and set its ``widgets`` (key -> value; not run yet)."""
    at.switch_page(path)
    at.run()
    for key, value in widgets.items():
        widget = at.multiselect(key=key) if isinstance(value, list) else at.selectbox(key=key)
        widget.set_value(value)


def time_screens(cohort: Cohort) -> None:
    at = app_with_upload(cohort)
    print(f"{'screen':<40} {'first run s':>12} {'rerun s':>9}")
    for name, path, widgets in SCREENS:
        open_screen(at, path, widgets)
        first = timed(at.run)
        rerun = timed(at.run)
        assert not at.exception, f"{name}: exception on screen"
        print(f"{name:<40} {first:>12.2f} {rerun:>9.2f}")


def time_cox(patients: pl.DataFrame, repeats: int) -> None:
    from lifelines import CoxPHFitter

    rows = (patients.filter(pl.col("regimen").is_in(BENCH_REGIMENS))
            .select("os_months", "os_event", *BENCH_COX).drop_nulls())
    ours = [timed(lambda: fit_cox(rows, "os_months", "os_event", BENCH_COX))
            for _ in range(repeats)]
    frame = rows.to_pandas()
    formula = " + ".join(BENCH_COX)
    lifelines = [timed(lambda: CoxPHFitter().fit(frame, "os_months", "os_event", formula=formula))
                 for _ in range(repeats)]
    print(f"\nCox of OS on {formula}, {rows.height:,} patients (median of {repeats}): "
          f"cohort.cox.fit_cox {statistics.median(ours):.2f} s (with concordance and its SE, "
          f"and the cox.zph test), lifelines CoxPHFitter {statistics.median(lifelines):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cohort = registry(args.copies)
    print(f"{cohort.patients.height:,} patients, {cohort.toxicities.height:,} toxicity rows\n")
    time_screens(cohort)
    time_cox(cohort.patients, args.repeats)


if __name__ == "__main__":
    main()
