"""Benchmark: filter + 4-group Kaplan-Meier + log-rank over a Parquet registry on disk, through
DuckDB (cohort.engine: the counts aggregated in the engine), polars' lazy streaming scan (the
filtered rows collected, then cohort.survival), lifelines (on the same filtered rows) and
PostgreSQL (cohort.engine over ibis.postgres, the same rows COPYed into a table first).

    python -m bench.bench_engine [--sizes 10000000] [--filter sites|age]
                                 [--lifelines-max 10000000] [--postgres-max 10000000]
                                 [--cache DIR]

PostgreSQL is started as tests/pg.py does (initdb as the postgres user in a temporary
directory, a free loopback port), loaded with COPY (not timed; printed) and stopped after the
size's runs; its query time is the app's wait, its peak memory the app process's only.

The Parquet file is generated once per size into ``--cache`` (default /tmp/oligomet-bench),
streamed in chunks of 1M rows, never into the repository. Each path runs once, in its own
child process (libraries imported before the clock starts, as in the running app), so that its
peak memory (``VmHWM``) is its own; the run checks that every path gives
the same log-rank chi-square.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import ibis
import ibis.backends.duckdb  # noqa: F401  (imported as the running app has it, not on the clock)
import ibis.backends.postgres  # noqa: F401
import ibis.expr.types as ir
import numpy as np
import polars as pl
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from cohort import engine
from cohort.filters import CohortFilter, InRange, ValuesIn
from cohort.survival import event_counts, km_from_counts, logrank_from_counts

SITES = ["lung", "liver", "bone", "brain", "lymph node", "adrenal"]
STRATA = ["colorectal", "lung", "prostate", "renal"]
CHUNK = 1_000_000
COLUMNS = ("histology", "os_months", "os_event")
#: "sites": age >= 40 and at least one treated site other than the lung (a list condition);
#: "age": age >= 40 only (scalar conditions).
FILTERS = {
    "sites": CohortFilter((InRange("age_years", 40, None),
                           ValuesIn("treated_sites", tuple(s for s in SITES if s != "lung")))),
    "age": CohortFilter((InRange("age_years", 40, None),)),
}
FILTER = FILTERS[os.environ.get("BENCH_ENGINE_FILTER", "sites")]


def _chunk(n: int, seed: int, first_id: int) -> pl.DataFrame:
    """n synthetic patients (as bench_survival's cohort: 4 strata, months to 0.1, ~30 %
    censored, 1-2 treated sites), vectorised."""
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 4, n)
    t_event = rng.exponential(np.array([30.0, 14.0, 48.0, 36.0])[stratum] / np.log(2))
    t_cens = rng.uniform(1, 120, n)
    first = rng.integers(0, len(SITES), n)
    second = (first + rng.integers(1, len(SITES), n)) % len(SITES)
    sites = pl.Series(SITES)
    return pl.DataFrame({
        "patient_id": np.arange(first_id, first_id + n),
        "age_years": np.round(rng.normal(64, 11, n), 1),
        "_a": sites.gather(first), "_b": sites.gather(second), "_two": rng.random(n) < 0.5,
        "histology": np.array(STRATA)[stratum],
        "os_months": np.maximum(np.round(np.minimum(t_event, t_cens), 1), 0.1),
        "os_event": (t_event <= t_cens).astype(np.int64),
    }).select(
        "patient_id", "age_years",
        pl.when("_two").then(pl.concat_list("_a", "_b")).otherwise(pl.concat_list("_a"))
        .alias("treated_sites"),
        *COLUMNS,
    )


def parquet_file(n: int, cache: Path) -> Path:
    """The n-patient Parquet file in ``cache``, written chunk by chunk the first time."""
    import pyarrow.parquet as pq

    path = cache / f"registry_ids_{n}.parquet"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer = None
    for i, start in enumerate(range(0, n, CHUNK)):
        table = _chunk(min(CHUNK, n - start), seed=20240611 + i, first_id=start).to_arrow()
        writer = writer or pq.ParquetWriter(partial, table.schema)
        writer.write_table(table, row_group_size=CHUNK)
    writer.close()
    partial.rename(path)
    return path


def via_duckdb(path: Path) -> tuple[float, int]:
    table = ibis.duckdb.connect().read_parquet(path)
    counts = engine.event_counts(engine.filtered(table, FILTER), *COLUMNS[1:], by="histology")
    km_from_counts(counts)
    return logrank_from_counts(counts).chisq, counts.height


def _filtered_rows(path: Path) -> pl.DataFrame:
    scan = pl.scan_parquet(path)
    return (scan.filter(FILTER.expression(scan.collect_schema())).select(COLUMNS)
            .collect(engine="streaming"))


def via_polars(path: Path) -> tuple[float, int]:
    rows = _filtered_rows(path)
    counts = event_counts(rows, *COLUMNS[1:], by="histology")
    km_from_counts(counts)
    return logrank_from_counts(counts).chisq, rows.height


def via_lifelines(path: Path) -> tuple[float, int]:
    rows = _filtered_rows(path)
    g, t, e = (rows[c].to_numpy() for c in COLUMNS)
    for level in np.unique(g):
        mask = g == level
        KaplanMeierFitter().fit(t[mask], e[mask], label=str(level))
    return multivariate_logrank_test(t, g, e).test_statistic, rows.height


def _postgres_table() -> ir.Table:
    """The ``registry`` table of the server the parent started (port and password in the
    environment of this child process only)."""
    con = ibis.postgres.connect(host="127.0.0.1", port=int(os.environ["BENCH_PG_PORT"]),
                                user="postgres", password=os.environ["BENCH_PG_PASSWORD"],
                                database="registry")
    return con.table("registry")


def via_postgres(path: Path) -> tuple[float, int]:
    table = _postgres_table()
    counts = engine.event_counts(engine.filtered(table, FILTER), *COLUMNS[1:], by="histology")
    km_from_counts(counts)
    return logrank_from_counts(counts).chisq, counts.height


def _screen_view(path: Path):
    """The Survival screen's view of ``path`` configured as an engine dataset (an
    oligomet.toml beside it, ``engine = true``), opened and profiled as the server does once."""
    from cohort.config import read_config
    from cohort.engine_cohort import open_engine_cohort
    from cohort.views import view_of

    config = path.with_suffix(".toml")
    mapping = "\n".join(f'{c} = "{c}"' for c in ("patient_id", "age_years", "treated_sites",
                                                  *COLUMNS))
    config.write_text(f'[datasets.bench]\ntitle = "Bench registry"\nprovenance = "Synthetic."\n'
                      f'patients = "{path.name}"\nsynthetic = true\nengine = true\n'
                      f'[datasets.bench.reading]\ntime_unit = "months"\n'
                      f'[datasets.bench.reading.mapping]\n{mapping}\n'
                      f'[datasets.bench.reading.event_codings]\nos_event = "0/1"\n')
    dataset = read_config(config)["bench"]
    t0 = time.perf_counter()
    cohort = open_engine_cohort(dataset, lambda name: {})
    print(f"opened and profiled in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return view_of("bench", cohort, FILTER)


def via_screen(path: Path) -> tuple[float, int]:
    """The Survival screen's whole analysis (cohort.views.EngineView.survival: KM, medians,
    follow-up, landmarks, RMST, log-rank, Cox) by histology, the dataset opened beforehand
    (not on the clock)."""
    from cohort.analysis import SurvivalRequest

    view = _screen_view(path)
    request = SurvivalRequest("os_months", "os_event", by="histology", unit="months")
    CLOCK["start"] = time.perf_counter()
    result = view.survival(request)
    return result.logrank.chisq, view.analysed_counts(request).counts.height


#: A path may restart the clock after its untimed set-up (``via_screen``'s opening).
CLOCK: dict[str, float] = {}


PATHS = {"screen": via_screen, "duckdb": via_duckdb, "polars": via_polars, "lifelines": via_lifelines,
         "postgres": via_postgres}


def _pg_array(sites: pl.Expr) -> pl.Expr:
    """A text list as a PostgreSQL array literal, e.g. {"lung","lymph node"}."""
    return pl.concat_str(pl.lit("{"), sites.list.eval(pl.concat_str(pl.lit('"'), pl.element(),
                                                                     pl.lit('"')))
                         .list.join(","), pl.lit("}"))


def load_postgres(server, path: Path) -> float:
    """COPY the Parquet file into ``registry`` (the filter and count columns) batch by batch;
    returns the seconds taken (COPY + ANALYZE)."""
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    with server.connect() as con:
        con.execute("CREATE TABLE registry (age_years double precision, treated_sites text[],"
                    " histology text, os_months double precision, os_event bigint)")
        with con.cursor().copy("COPY registry FROM STDIN (FORMAT csv)") as copy:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK):
                frame = pl.from_arrow(batch).with_columns(
                    treated_sites=_pg_array(pl.col("treated_sites")))
                copy.write(frame.select("age_years", "treated_sites", *COLUMNS)
                           .write_csv(include_header=False))
        con.execute("ANALYZE registry")
    return time.perf_counter() - t0


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM of its own address space. (Not
    ``getrusage``'s ru_maxrss: Linux carries the parent's peak across fork + exec into it, so
    every child reported at least the parent's size.)"""
    status = Path("/proc/self/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 1024


def child(name: str, path: Path) -> None:
    """Run one path once and print {seconds, chisq, rows_fetched, maxrss_mb} as JSON."""
    t0 = time.perf_counter()
    chisq, fetched = PATHS[name](path)
    seconds = time.perf_counter() - CLOCK.get("start", t0)
    maxrss_mb = _peak_rss_mb()
    print(json.dumps({"seconds": seconds, "chisq": float(chisq), "fetched": fetched,
                      "maxrss_mb": maxrss_mb}))


def run(name: str, path: Path, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_engine", "--child", name,
                          str(path)], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    opened = [line for line in out.stderr.splitlines() if line.startswith("opened")]
    return json.loads(out.stdout.strip().splitlines()[-1]) | {"opened": "".join(opened)}


def _run_on_postgres(path: Path) -> dict:
    """Start a server, load ``path``, run the postgres path in a child, stop the server."""
    from tests.pg import start_postgres, stop

    server = start_postgres()
    try:
        print(f"  PostgreSQL loaded by COPY in {load_postgres(server, path):.1f} s")
        return run("postgres", path, {"BENCH_PG_PORT": str(server.port),
                                      "BENCH_PG_PASSWORD": server.password})
    finally:
        stop(server)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    ap.add_argument("--lifelines-max", type=int, default=10_000_000,
                    help="largest size lifelines runs on")
    ap.add_argument("--postgres-max", type=int, default=10_000_000,
                    help="largest size PostgreSQL runs on (0: never)")
    ap.add_argument("--filter", choices=list(FILTERS), default="sites")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/oligomet-bench"))
    ap.add_argument("--child", nargs=2, metavar=("PATH_NAME", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    os.environ["BENCH_ENGINE_FILTER"] = args.filter  # read by each child at import
    print(f"python {platform.python_version()}, polars {pl.__version__}, {os.cpu_count()} cpus,"
          f" load average {os.getloadavg()[0]:.1f}")
    print(f"filter {args.filter!r}: {FILTERS[args.filter].describe()}")
    for n in args.sizes:
        t0 = time.perf_counter()
        path = parquet_file(n, args.cache)
        print(f"{n:,} patients: {path} ({path.stat().st_size / 2**20:.0f} MiB, "
              f"ready in {time.perf_counter() - t0:.1f} s)")
        names = [p for p in PATHS if p not in ("lifelines", "postgres")
                 or n <= (args.lifelines_max if p == "lifelines" else args.postgres_max)]
        results = {name: run(name, path) for name in names if name != "postgres"}
        if "postgres" in names:
            results["postgres"] = _run_on_postgres(path)
        base = results["duckdb"]
        if "screen" in results:
            print(f"  screen: {results['screen']['opened']}")
        for name, r in results.items():
            assert abs(r["chisq"] - base["chisq"]) <= 1e-6 * max(1.0, base["chisq"]), results
            print(f"  {name:>9}: {r['seconds']:8.2f} s  peak {r['maxrss_mb']:7.0f} MB  "
                  f"rows fetched/collected {r['fetched']:>11,}  "
                  f"{r['seconds'] / base['seconds']:6.1f}x duckdb's time")
        print(f"  chi-square {base['chisq']:.6f} on every path; load average now "
              f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
