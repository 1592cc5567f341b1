"""Time to read a registry-sized upload through the guarded path vs. reading it directly.

Run from the repo root: ``python -m bench.bench_upload --rows 100000``. Builds a patients table
of ``--rows`` rows and 29 columns (ids, age, sex, histology, 25 numbers), writes it as CSV and
as .xlsx, and times, median of ``--repeats``:

- **before**: what the server did before (``read_table`` of commit 2d66dc4, reproduced in
  ``read_as_before``): in its own process, the CSV decoded, its field counts checked with the
  csv module, then ``pl.read_csv``; a workbook straight into ``pl.read_excel``;
- **checks in process**: ``cohort.parse`` (structural checks, parsing, cell checks) in the
  benchmark's own process: what the guarded path costs without its child;
- **guarded**: ``cohort.io.read_table``: structural checks, parsing in a memory-capped child
  process (``cohort.sandbox``), the text table back as Arrow IPC, cell checks. Timed with the
  spare child ready (the Data page's case: a file is chosen seconds after the page opens) and
  cold (no spare: a new interpreter starts and imports polars first).

Also the fixed cost of the guarded path on a 3-row file. Prints seconds and ratios.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import time

import numpy as np
import polars as pl

from cohort import sandbox
from cohort.io import read_table
from cohort.limits import DEFAULT_LIMITS
from cohort.parse import cell_problems, parse_table

SPARE_READY_SECONDS = 3.0  # enough for the spare child to import polars on a busy machine


def registry_table(rows: int) -> pl.DataFrame:
    """A synthetic patients table: ids, age, sex, histology and 25 numeric columns."""
    rng = np.random.default_rng(20261201)
    numbers = {f"x{j}": rng.normal(size=rows).round(2) for j in range(25)}
    return pl.DataFrame({
        "patient_id": [f"P{i:06d}" for i in range(rows)],
        "age_years": rng.integers(30, 90, rows),
        "sex": rng.choice(["female", "male"], rows),
        "histology": rng.choice(["nsclc", "colorectal", "prostate", "breast"], rows),
        **numbers,
    })


def read_as_before(data: bytes, file_format: str) -> pl.DataFrame:
    """The reading the server did in its own process before the guarded path (comma CSV)."""
    if file_format == "xlsx":
        return pl.read_excel(io.BytesIO(data), infer_schema_length=0)
    text = data.decode("utf-8-sig").replace("\r\n", "\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert all(len(row) == len(rows[0]) for row in rows if row)
    return pl.read_csv(io.StringIO(text), infer_schema=False, null_values=["", "NA", "NaN"])


def read_in_process(data: bytes) -> pl.DataFrame:
    """cohort.parse's checks and parsing, without the child process."""
    table = parse_table(data, None, None, DEFAULT_LIMITS)
    assert not cell_problems(table, DEFAULT_LIMITS)
    return table


def median_seconds(run, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def wait_for_spare() -> None:
    time.sleep(SPARE_READY_SECONDS)


def no_spare() -> None:
    sandbox.stop_spares()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    table = registry_table(args.rows)
    files = {"csv": table.write_csv().encode()}
    buffer = io.BytesIO()
    table.write_excel(buffer)
    files["xlsx"] = buffer.getvalue()
    read_table(b"patient_id\nA\n", "warm-up.csv")
    tiny = b"patient_id,os_months,os_event\nA,1,0\nB,2,1\nC,3,0\n"
    print(f"{args.rows:,} rows x {table.width} columns; median of {args.repeats}")
    print(f"fixed cost, 3-row CSV: spare ready "
          f"{median_seconds(lambda: read_table(tiny, 't.csv'), args.repeats, wait_for_spare):.3f} s,"
          f" cold {median_seconds(lambda: read_table(tiny, 't.csv'), args.repeats, no_spare):.3f} s")
    print("| format | MB | before s | checks in process s | guarded s (spare ready) | ratio "
          "to before | guarded s (cold) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for file_format, data in files.items():
        name = f"registry.{file_format}"
        assert read_table(data, name).shape == read_as_before(data, file_format).shape
        before = median_seconds(lambda d=data, f=file_format: read_as_before(d, f), args.repeats)
        in_process = median_seconds(lambda d=data: read_in_process(d), args.repeats)
        warm = median_seconds(lambda d=data, n=name: read_table(d, n), args.repeats, wait_for_spare)
        cold = median_seconds(lambda d=data, n=name: read_table(d, n), args.repeats, no_spare)
        print(f"| {file_format} | {len(data) / 1e6:.1f} | {before:.2f} | {in_process:.2f} | "
              f"{warm:.2f} | {warm / before:.2f} | {cold:.2f} |")


if __name__ == "__main__":
    main()
