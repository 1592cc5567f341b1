"""Benchmark: the Toxicity screen's counts over a Parquet registry with its toxicities, in the
engine (cohort.engine_toxicity: the filtered patients joined to their toxicities in DuckDB,
only counts fetched) and in memory (both files read by polars, then cohort.toxicity).

    python -m bench.bench_engine_toxicity [--sizes 1000000 10000000] [--cache DIR]

Patients: bench_engine's registry (``registry_ids_<n>.parquet``, age, 4 histologies). Toxicities
(``toxicities_<n>.parquet``, written once): 40 % of the patients, 1-4 records each from 12
terms, grades 1-5, acute or late (about 1M rows per 1M patients). Each path runs once in its
own child process after an untimed opening (the engine dataset opened, checked and profiled as
the server does once); the run checks that both give the same matrix, and prints the seconds
and the child's peak memory (``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from bench.bench_engine import CHUNK, FILTER, _peak_rss_mb, parquet_file

TERMS = ["Fatigue", "Nausea", "Anemia", "Dermatitis", "Pneumonitis", "Diarrhea", "Cough",
         "Neutropenia", "Mucositis", "Dysphagia", "Esophagitis", "Pain"]
BY, PHASE = "histology", "acute"


def toxicities_file(n: int, cache: Path) -> Path:
    """The toxicities of the n-patient registry, written chunk by chunk the first time."""
    import pyarrow.parquet as pq

    path = cache / f"toxicities_{n}.parquet"
    if path.exists():
        return path
    partial, writer = path.with_suffix(".partial"), None
    for i, start in enumerate(range(0, n, CHUNK)):
        rng = np.random.default_rng(7 + i)
        size = min(CHUNK, n - start)
        ids = np.arange(start, start + size)[rng.random(size) < 0.4]
        ids = np.repeat(ids, rng.integers(1, 5, ids.size))
        table = pl.DataFrame({
            "patient_id": ids, "term": np.array(TERMS)[rng.integers(0, len(TERMS), ids.size)],
            "grade": rng.choice([1, 2, 3, 4, 5], ids.size, p=[0.45, 0.3, 0.17, 0.06, 0.02]),
            "phase": np.where(rng.random(ids.size) < 0.7, "acute", "late"),
        }).to_arrow()
        writer = writer or pq.ParquetWriter(partial, table.schema)
        writer.write_table(table)
    writer.close()
    partial.rename(path)
    return path


def _config(patients: Path, toxicities: Path) -> Path:
    config = patients.with_name(f"toxicity_{patients.stem}.toml")
    mapping = "\n".join(f'{c} = "{c}"' for c in ("patient_id", "age_years", "treated_sites",
                                                  "histology", "os_months", "os_event"))
    config.write_text(
        f'[datasets.bench]\ntitle = "Bench registry"\nprovenance = "Synthetic."\n'
        f'patients = "{patients.name}"\ntoxicities = "{toxicities.name}"\nsynthetic = true\n'
        f'engine = true\n[datasets.bench.reading]\ntime_unit = "months"\n'
        f'[datasets.bench.reading.mapping]\n{mapping}\n'
        f'[datasets.bench.reading.event_codings]\nos_event = "0/1"\n')
    return config


def via_engine(patients: Path, toxicities: Path) -> tuple[dict, float]:
    """The screen's path: ``EngineView.toxicity_counts`` of the filtered cohort."""
    from cohort.config import read_config
    from cohort.engine_cohort import open_engine_cohort
    from cohort.views import view_of

    dataset = read_config(_config(patients, toxicities))["bench"]
    t0 = time.perf_counter()
    view = view_of("bench", open_engine_cohort(dataset, lambda name: {}), FILTER)
    print(f"opened and checked in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    start = time.perf_counter()
    return _summary(view.toxicity_counts(BY, PHASE)), start


def via_polars(patients: Path, toxicities: Path) -> tuple[dict, float]:
    """Both files read by polars (the columns used), the filter applied, cohort.toxicity."""
    from cohort.toxicity import grade_counts

    start = time.perf_counter()
    scan = pl.scan_parquet(patients)
    kept = (scan.filter(FILTER.expression(scan.collect_schema()))
            .select(pl.col("patient_id").cast(pl.String), BY).collect(engine="streaming"))
    tox = pl.read_parquet(toxicities).with_columns(pl.col("patient_id").cast(pl.String))
    return _summary(grade_counts(tox, kept, BY, PHASE)), start


def _summary(counts) -> dict:
    from cohort.toxicity import matrix_from_counts

    matrix = matrix_from_counts(counts, BY, PHASE)
    return {"denominator": matrix.denominator, "cohort_n": counts.cohort_n,
            "by_group": matrix.by_group.select("term", "group", "n_any").rows()}


PATHS = {"engine": via_engine, "polars": via_polars}


def child(name: str, patients: Path, toxicities: Path) -> None:
    summary, start = PATHS[name](patients, toxicities)
    print(json.dumps({"seconds": time.perf_counter() - start, "summary": summary,
                      "maxrss_mb": _peak_rss_mb()}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/oligomet-bench"))
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    for n in args.sizes:
        patients, toxicities = parquet_file(n, args.cache), toxicities_file(n, args.cache)
        rows = pl.scan_parquet(toxicities).select(pl.len()).collect().item()
        print(f"{n:,} patients, {rows:,} toxicity rows; filter: {FILTER.describe()}; "
              f"by {BY}, {PHASE} phase")
        results = {}
        for name in PATHS:
            out = subprocess.run([sys.executable, "-m", "bench.bench_engine_toxicity",
                                  "--child", name, str(patients), str(toxicities)],
                                 check=True, capture_output=True, text=True)
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {name:>7}: {results[name]['seconds']:6.2f} s  peak "
                  f"{results[name]['maxrss_mb']:7.0f} MB  {out.stderr.strip()}")
        assert results["engine"]["summary"] == results["polars"]["summary"], "paths differ"
        print(f"  same matrix on both paths (denominator "
              f"{results['engine']['summary']['denominator']:,})")


if __name__ == "__main__":
    main()
