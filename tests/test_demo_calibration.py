"""The bundled oligomet-demo cohort reproduces every published figure in data/calibration."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cohort.calibration import STUDY_NAMES, calibration_table, load_targets, study_blocks
from cohort.schema import PATIENT_COLUMNS, TOXICITY_COLUMNS

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return {
        name: pl.read_parquet(DATA / f"oligomet_demo_{name}.parquet")
        for name in ("patients", "toxicities", "courses")
    }


@pytest.fixture(scope="module")
def table(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    targets = load_targets(DATA / "calibration" / "published_targets.yaml")
    return calibration_table(frames["patients"], frames["toxicities"], targets, frames["courses"])


def test_every_published_figure_is_reproduced(table: pl.DataFrame) -> None:
    checked = table.filter(pl.col("kind") != "not comparable")
    failing = checked.filter(~pl.col("ok"))
    listing = "\n".join(
        f"{r['study']} | {r['figure']}: published {r['published']}, cohort {r['cohort']}, "
        f"tolerance {r['tolerance']}"
        for r in failing.iter_rows(named=True)
    )
    assert failing.is_empty(), f"{failing.height} of {checked.height} figures out of tolerance:\n{listing}"
    assert checked.height > 400


def test_not_comparable_rows_explain_why(table: pl.DataFrame) -> None:
    nc = table.filter(pl.col("kind") == "not comparable")
    assert nc["ok"].null_count() == nc.height
    assert all(note for note in nc["note"].to_list())


def test_rows_per_study(frames: dict[str, pl.DataFrame]) -> None:
    targets = load_targets(DATA / "calibration" / "published_targets.yaml")
    counts = dict(frames["patients"].group_by("study").len().iter_rows())
    expected = {STUDY_NAMES[key]: block["n_patients"] for key, block in study_blocks(targets)}
    assert counts == expected
    assert frames["patients"].height == 4299
    assert frames["patients"]["patient_id"].n_unique() == 4299


def test_patient_schema_matches_canonical_dtypes(frames: dict[str, pl.DataFrame]) -> None:
    p = frames["patients"]
    for col, dtype in PATIENT_COLUMNS.items():
        if col in p.columns:
            assert p.schema[col] == dtype, col
    assert not set(p.columns) & {"dose_per_fraction_gy", "bed10_gy", "eqd2_gy"}


def test_toxicity_table_is_well_formed(frames: dict[str, pl.DataFrame]) -> None:
    t, p = frames["toxicities"], frames["patients"]
    for col, dtype in TOXICITY_COLUMNS.items():
        assert t.schema[col] == dtype, col
    assert t["grade"].is_between(1, 5).all()
    assert set(t["phase"].unique()) <= {"acute", "late"}
    assert t["patient_id"].is_in(p["patient_id"].implode()).all()
    assert t.select("patient_id", "term", "phase").is_duplicated().sum() == 0


def test_event_codes_and_times_are_consistent(frames: dict[str, pl.DataFrame]) -> None:
    p = frames["patients"]
    for ev in ("os_event", "pfs_event"):
        assert p[ev].drop_nulls().is_in([0, 1]).all()
    for ev in ("lc_event", "ttnt_event"):
        assert p[ev].drop_nulls().is_in([0, 1, 2]).all()
    for col in ("os_months", "pfs_months", "lc_months", "ttnt_months"):
        assert (p[col].drop_nulls() >= 0).all()
    both = p.drop_nulls(["pfs_months", "os_months"])
    assert (both["pfs_months"] <= both["os_months"] + 1e-9).all()


def test_summary_counts_the_table(table):
    from cohort.calibration import calibration_summary

    summary = calibration_summary(table)
    assert summary["figures"] == table.height == summary["checked"] + summary["not_comparable"]
    assert summary["within"] == int(table["ok"].fill_null(False).sum())
    assert summary["outside"] == int((table["ok"] == False).sum())  # noqa: E712
