"""No Python function runs inside polars' thread pool (cohort/elementwise.py says why)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from cohort.elementwise import each_value

ROOT = Path(__file__).resolve().parent.parent
#: polars calls that run a Python function in polars' own threads.
IN_POOL = re.compile(r"\.(map_elements|map_batches|map_groups|map_rows)\(")


def test_the_app_runs_no_python_function_inside_polars():
    sources = [ROOT / "app.py", *[p for d in ("cohort", "ui", "pages")
                                  for p in (ROOT / d).rglob("*.py")]]
    offending = [f"{p.relative_to(ROOT)}:{n}" for p in sources
                 for n, line in enumerate(p.read_text().splitlines(), 1) if IN_POOL.search(line)]
    assert not offending, offending


def test_each_value_applies_the_function_and_keeps_nulls():
    frame = pl.DataFrame({"n": [1234, None, 5]})
    assert each_value(frame, "n", lambda v: f"{v:,}").to_list() == ["1,234", None, "5"]
