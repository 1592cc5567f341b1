"""Size of every figure each screen sends to the browser, and how it grows with the cohort.

Run from the repo root: ``python -m bench.bench_figures --patients 10000 100000``. For each
size, the demonstration cohort is copied with new patient ids (as ``bench.bench_screens`` does)
up to that many patients, put into a session as an upload, and each screen is run in
Streamlit's AppTest; every figure the screen drew (what ``ui.charts.show_figure`` recorded) is
measured as ``len(fig.to_json())``, the JSON plotly sends. ``--irradiated`` copies only the
233 demonstration patients with a radiotherapy dose (an SBRT registry: every patient is in the
Dose screen's figures; in the whole demonstration cohort 5 % are). ``--continuous`` also shifts
each copy's follow-up times by a different fraction of a day, so times are distinct, as in a
registry recorded in days: the Kaplan-Meier figures then have a step per event rather than per
demonstration patient. Prints kB per figure. ``--time-dose`` instead times building the
Dose screen's five distribution figures and their JSON on the largest cohort (median of 5).
"""

from __future__ import annotations

import argparse
import statistics
import time

import polars as pl

from bench.bench_screens import SCREENS, app_with_upload, open_screen
from cohort.datasets import load_dataset
from cohort.schema import PATIENT_ID, Cohort

#: Fraction of a month (about 1/3 day) between the copies' follow-up times with --continuous.
COPY_TIME_SHIFT_MONTHS = 0.01


def scaled_demo(patients: int, irradiated: bool) -> Cohort:
    """The demonstration cohort (only its patients with an RT dose if ``irradiated``) copied
    with new patient ids ``-0``, ``-1``, ... up to ``patients`` rows, with their toxicities."""
    demo = load_dataset("oligomet-demo")
    base = demo.patients
    if irradiated:
        base = base.filter(pl.col("rt_total_dose_gy").is_not_null())
    copies = -(-patients // base.height)
    copied = pl.concat(base.with_columns(pl.col(PATIENT_ID) + f"-{k}") for k in range(copies))
    copied = copied.head(patients)
    toxicities = pl.concat(demo.toxicities.with_columns(pl.col(PATIENT_ID) + f"-{k}")
                           for k in range(copies))
    return Cohort(name="registry.csv", patients=copied,
                  toxicities=toxicities.filter(pl.col(PATIENT_ID).is_in(copied[PATIENT_ID].implode())))


def continuous_times(cohort: Cohort) -> Cohort:
    """``cohort`` with every ``*_months`` value shifted by copy number x 0.01 month."""
    copy = pl.col(PATIENT_ID).str.extract(r"-(\d+)$").cast(pl.Float64)
    months = [c for c in cohort.patients.columns if c.endswith("_months")]
    patients = cohort.patients.with_columns(
        (pl.col(c) + copy * COPY_TIME_SHIFT_MONTHS).alias(c) for c in months)
    return Cohort(name=cohort.name, patients=patients, toxicities=cohort.toxicities)


def figure_sizes(cohort: Cohort) -> dict[tuple[str, str], int]:
    """(screen, figure title) -> characters of the figure's JSON, for every screen's figures."""
    at = app_with_upload(cohort)
    sizes = {}
    for name, path, widgets in SCREENS:
        open_screen(at, path, widgets)
        at.run()
        assert not at.exception, f"{name}: exception on screen"
        for title, figure in at.session_state["_shown_this_run"].figures:
            sizes[(name, title)] = len(figure.to_json())
    return sizes


def time_dose_figures(cohort: Cohort, repeats: int = 5) -> None:
    """Seconds to build the five dose distributions by treated site, with ``to_json``."""
    from cohort.dose import add_dose_columns
    from cohort.figures.dose import DOSE_QUANTITIES, dose_distribution_figure

    patients = add_dose_columns(cohort.patients)
    times, chars = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        chars = sum(len(dose_distribution_figure(patients, column, "treated_sites").to_json())
                    for column in DOSE_QUANTITIES)
        times.append(time.perf_counter() - start)
    print(f"{cohort.patients.height:,} patients: 5 dose figures built and serialised in "
          f"{statistics.median(times) * 1000:.0f} ms (median of {repeats}, min "
          f"{min(times) * 1000:.0f}), {chars / 1000:.0f} kB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--irradiated", action="store_true",
                        help="only the demonstration patients with an RT dose, copied")
    parser.add_argument("--continuous", action="store_true",
                        help="distinct follow-up times in every copy")
    parser.add_argument("--time-dose", action="store_true",
                        help="time the Dose screen's distribution figures instead")
    args = parser.parse_args()
    if args.time_dose:
        cohort = scaled_demo(max(args.patients), args.irradiated)
        time_dose_figures(continuous_times(cohort) if args.continuous else cohort)
        return
    columns, table = [], {}
    for patients in args.patients:
        cohort = scaled_demo(patients, args.irradiated)
        if args.continuous:
            cohort = continuous_times(cohort)
        columns.append(f"{cohort.patients.height:,} kB")
        for figure, size in figure_sizes(cohort).items():
            table.setdefault(figure, []).append(size)
    print(f"{'screen':<38} {'figure':<58} " + " ".join(f"{c:>14}" for c in columns))
    totals = [0] * len(columns)
    for (screen, title), sizes in table.items():
        print(f"{screen[:38]:<38} {title[:58]:<58} "
              + " ".join(f"{s / 1000:>14.1f}" for s in sizes))
        totals = [t + s for t, s in zip(totals, sizes, strict=False)]
    print(f"{'all screens':<38} {'total':<58} " + " ".join(f"{t / 1000:>14.1f}" for t in totals))


if __name__ == "__main__":
    main()
