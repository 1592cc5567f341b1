"""Benchmark: filter + stratified Kaplan-Meier (4 groups) + log-rank, cohort.survival vs lifelines.

    python -m bench.bench_survival [--sizes 10000 100000 1000000] [--repeats 7]

Synthetic registry-like cohorts (fixed seed): age, treated-site lists, 4 strata, months rounded
to 1 decimal (so many ties), ~30 % censored. Each path gets the same filtered polars frame.
Timed per path: filter (lazy, needed columns only) + KM by histology + log-rank. Prints the median
(and min) wall time of each path and the ratio of medians lifelines / ours; checks that both
paths give the same log-rank chi-square.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import polars as pl

from cohort.survival import (
    event_counts,
    kaplan_meier,
    km_from_counts,
    logrank,
    logrank_from_counts,
)

SITES = ["lung", "liver", "bone", "brain", "lymph node", "adrenal"]
STRATA = ["colorectal", "lung", "prostate", "renal"]


def make_cohort(n: int, seed: int = 20240611) -> pl.DataFrame:
    """n patients: age_years, treated_sites (list[str]), histology (4 strata), os_months, os_event."""
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 4, n)
    median = np.array([30.0, 14.0, 48.0, 36.0])[stratum]
    t_event = rng.exponential(median / np.log(2))
    t_cens = rng.uniform(1, 120, n)
    months = np.round(np.minimum(t_event, t_cens), 1)
    n_sites = rng.integers(1, 3, n)
    first = rng.integers(0, len(SITES), n)
    second = (first + rng.integers(1, len(SITES), n)) % len(SITES)
    sites = [
        [SITES[a]] if k == 1 else [SITES[a], SITES[b]]
        for a, b, k in zip(first.tolist(), second.tolist(), n_sites.tolist(), strict=True)
    ]
    return pl.DataFrame(
        {
            "age_years": np.round(rng.normal(64, 11, n), 1),
            "treated_sites": sites,
            "histology": np.array(STRATA)[stratum],
            "os_months": np.maximum(months, 0.1),
            "os_event": (t_event <= t_cens).astype(np.int64),
        }
    )


FILTER = (pl.col("age_years") >= 40) & pl.col("treated_sites").list.contains("lung").not_()


def filtered(df: pl.DataFrame) -> pl.DataFrame:
    """The filtered cohort, only the columns the analysis needs (as the Survival page does)."""
    return df.lazy().filter(FILTER).select("histology", "os_months", "os_event").collect()


def ours(df: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    sub = filtered(df)
    km = kaplan_meier(sub, "os_months", "os_event", by="histology")
    lr = logrank(sub, "os_months", "os_event", by="histology")
    return km, lr.chisq


def ours_shared(df: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    """Same result, one aggregation shared by the curve and the test (as the Survival page)."""
    counts = event_counts(filtered(df), "os_months", "os_event", by="histology")
    return km_from_counts(counts), logrank_from_counts(counts).chisq


def with_lifelines(df: pl.DataFrame) -> tuple[dict, float]:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    sub = filtered(df)
    t, e, g = (sub[c].to_numpy() for c in ("os_months", "os_event", "histology"))
    fits = {}
    for level in np.unique(g):
        mask = g == level
        fits[level] = KaplanMeierFitter().fit(t[mask], e[mask], label=str(level))
    lr = multivariate_logrank_test(t, g, e)
    return fits, lr.test_statistic


def timed(fn: Callable, df: pl.DataFrame, repeats: int) -> tuple[float, float, object]:
    """(median seconds, min seconds, last result) over ``repeats`` runs."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(df)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--lifelines-repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"python {platform.python_version()}, polars {pl.__version__}, "
          f"{platform.machine()}, threads {pl.thread_pool_size()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'patients':>10} {'kept':>9} {'ours ms (min)':>15} {'shared ms (min)':>16} "
          f"{'lifelines ms (min)':>19} {'ratio':>6} {'ratio shared':>12}")
    for n in args.sizes:
        df = make_cohort(n)
        ours(df)  # warm-up
        t_ours, m_ours, (km, chisq) = timed(ours, df, args.repeats)
        ours_shared(df)
        t_sh, m_sh, (km_sh, chisq_sh) = timed(ours_shared, df, args.repeats)
        assert km_sh.equals(km) and chisq_sh == chisq
        reps = args.lifelines_repeats if n < 1_000_000 else max(2, args.lifelines_repeats // 2)
        with_lifelines(df)
        t_ll, m_ll, (_, chisq_ll) = timed(with_lifelines, df, reps)
        assert abs(chisq - chisq_ll) < 1e-6 * max(1.0, chisq), (chisq, chisq_ll)
        kept = int(km.group_by("group").agg(pl.col("n_risk").first())["n_risk"].sum())
        print(f"{n:>10} {kept:>9} {t_ours * 1e3:>8.1f} ({m_ours * 1e3:4.0f}) "
              f"{t_sh * 1e3:>9.1f} ({m_sh * 1e3:4.0f}) "
              f"{t_ll * 1e3:>11.1f} ({m_ll * 1e3:5.0f}) {t_ll / t_ours:>6.1f} "
              f"{t_ll / t_sh:>12.1f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
