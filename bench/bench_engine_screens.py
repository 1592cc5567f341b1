"""Server-side time of every screen on a Parquet registry kept in its engine (``engine = true``).

    python -m bench.bench_engine_screens --sizes 10000000 100000000 [--cache DIR]

Per size, in a child process of its own: bench_engine's registry (``registry_ids_<n>.parquet``:
age, 1-2 treated sites, 4 histologies, OS) with bench_engine_toxicity's toxicities, configured
as the server's dataset (``OLIGOMET_CONFIG``) in Streamlit's AppTest. After a warm-up (every
screen once on the bundled demonstration cohort, as a running server has done), a session opens
the dataset (checked and profiled once per server: timed apart, with its first screen); a new
session then opens a link that filters it (age >= 40), and each screen is switched to, run
(timed: what a colleague opening it waits for on the server) and rerun with nothing changed.
The run stops on any exception or error on a screen, and prints each screen's sidebar count
and what it says instead of a figure (a row limit passed, Table 1 waiting to be asked for).
The child's peak memory (``VmHWM``) closes it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_engine import _peak_rss_mb, parquet_file
from bench.bench_engine_toxicity import _config, toxicities_file

ROOT = Path(__file__).resolve().parent.parent
DATASET = "bench"
SCREENS = [
    ("Cohort", "pages/cohort.py", {}),
    ("Cohort, distributions switched on", "pages/cohort.py", {"distributions_asked.bench": True}),
    ("Survival, OS", "pages/survival.py", {}),
    ("Survival, OS by histology", "pages/survival.py", {"surv.by": "histology"}),
    ("Cox, OS on histology + age", "pages/cox.py", {}),
    ("Dose", "pages/dose.py", {}),
    ("Toxicity", "pages/toxicity.py", {}),
]
#: The Cox screen's covariates, from the link (its widget key depends on the dataset).
COX_LINK = {"cox.covariates": ["histology", "age_years"]}


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _notes(at) -> list[str]:
    """What the screen says in place of a figure or a table (info and warning boxes)."""
    from tests.apptest import as_read

    return [as_read(e.value).split("\n")[0][:110] for e in [*at.info, *at.warning]]


def _checked(at, name: str) -> None:
    problems = [e.value for e in [*at.exception, *at.error]]
    assert not problems, f"{name}: {problems}"


def _age_link(config: Path) -> dict[str, str]:
    """The link's age filter, 40 to the slider's top (the oldest age rounded up: a link's range
    outside the slider's is ignored)."""
    import duckdb

    patients = config.with_name(config.read_text().split('patients = "')[1].split('"')[0])
    oldest = duckdb.sql(f"SELECT max(age_years) FROM '{patients}'").fetchone()[0]
    return {"f.age_years": f"40~{math.ceil(oldest)}"}


def _session(link: dict[str, str | list[str]]):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=1800)
    for key, value in link.items():
        at.query_params[key] = value
    return at


def _warm_up() -> None:
    """Every screen once on the bundled demonstration cohort: the imports and first drawings
    a running server has long done, off the clock."""
    at = _session({"ds": "oligomet-demo"})
    at.run()
    for _, path, _ in SCREENS:
        at.switch_page(path).run()
        _checked(at, f"warm-up {path}")


def child(config: Path) -> None:
    """Time the opening and every screen; print one JSON line per screen, then the peak."""
    from tests.apptest import metric, run_pages_through_the_entry_script

    os.environ["OLIGOMET_CONFIG"] = str(config)
    run_pages_through_the_entry_script()
    _warm_up()
    first = _session({"ds": DATASET})
    opened = _timed(first.run)
    _checked(first, "opening")
    print(json.dumps({"screen": "opening (checked, profiled, first screen)", "first": opened}))
    at = _session({"ds": DATASET, **_age_link(config), **COX_LINK})
    for name, path, widgets in SCREENS:
        at.switch_page(path)
        first = _timed(at.run)
        for key, value in widgets.items():
            widget = at.toggle(key=key) if isinstance(value, bool) else at.selectbox(key=key)
            widget.set_value(value)
        if widgets:
            first = _timed(at.run)
        _checked(at, name)
        rerun = _timed(at.run)
        print(json.dumps({"screen": name, "first": first, "rerun": rerun,
                          "patients": metric(at, "Patients in cohort"), "notes": _notes(at)}))
    print(json.dumps({"peak_mb": _peak_rss_mb()}))


def run(config: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bench.bench_engine_screens", "--child",
                          str(config)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    for line in out.stdout.splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if "peak_mb" in row:
            print(f"  peak memory of the app process {row['peak_mb']:,.0f} MB")
            continue
        rerun = f"{row['rerun']:7.2f}" if "rerun" in row else " " * 7
        print(f"  {row['screen']:<42} {row['first']:7.2f} s  rerun {rerun} s  "
              f"{row.get('patients', ''):>12}  {'; '.join(row.get('notes', []))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/oligomet-bench"))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; link: ds={DATASET}, "
          f"age from 40, {COX_LINK}")
    for n in args.sizes:
        patients = parquet_file(n, args.cache)
        config = _config(patients, toxicities_file(n, args.cache))
        print(f"{n:,} patients ({patients.name}, {config.name}):")
        run(config)
        print(f"  load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
