"""The Cohort screen's distribution charts of an engine table (cohort/engine_distributions.py)
count exactly what the in-memory charts count, on DuckDB, Parquet, PostgreSQL and Spark: the
same kind of chart, the same n and missing count, the same bars or histogram bins."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cohort.engine import filtered
from cohort.engine_distributions import distribution_counts_in_engine
from cohort.figures.distributions import counts_figure, distribution_counts
from cohort.filters import CohortFilter, InRange, ValuesIn
from tests.engines import BACKENDS, engine_table


def _patients(n: int = 400, seed: int = 11) -> pl.DataFrame:
    """Every kind of column a distribution chart draws, each with missing values: continuous
    ages (a histogram), whole-number doses with many values (a histogram of floats), many
    fractions (a histogram of integers), metastases (a bar per value), ECOG and best response
    (ordinal scales), histology (categories), treated sites (lists, some empty, some listing a
    site twice), DLT (Boolean) and a column without any value."""
    rng = np.random.default_rng(seed)

    def holes(values: list, share: float = 0.1) -> list:
        return [None if rng.random() < share else v for v in values]

    sites = ["lung", "liver", "bone", "brain"]
    listed = [[str(s) for s in rng.choice(sites, rng.integers(0, 3))] for _ in range(n)]
    listed[:3] = [["lung", "lung"], [], None]
    return pl.DataFrame({
        "patient_id": [f"P{i:03d}" for i in range(n)],
        "age_years": holes(rng.uniform(30, 85, n).round(1).tolist()),
        "rt_total_dose_gy": holes(rng.integers(20, 70, n).astype(float).tolist()),
        "rt_fractions": holes(rng.integers(1, 45, n).tolist()),
        "n_metastases": holes(rng.integers(1, 6, n).tolist()),
        "ecog": holes(rng.integers(0, 3, n).tolist()),
        "best_response": holes(rng.choice(["CR", "PR", "SD", "PD"], n).tolist()),
        "histology": holes(rng.choice(["renal", "lung", "prostate"], n).tolist()),
        "treated_sites": pl.Series(listed, dtype=pl.List(pl.String)),
        "dlt": holes((rng.random(n) < 0.2).tolist()),
        "drug_dose_mg": pl.Series([None] * n, dtype=pl.Float64),
    })


PATIENTS = _patients()
COLUMNS = [c for c in PATIENTS.columns if c != "patient_id"]
FILTERS = {
    "none": CohortFilter(()),
    "older, renal or lung": CohortFilter((InRange("age_years", 50, None),
                                          ValuesIn("histology", ("renal", "lung")))),
}
SPARK_COLUMNS = ("rt_fractions", "ecog", "treated_sites")
CASES = [(backend, column) for backend in BACKENDS for column in COLUMNS
         if backend != "spark" or column in SPARK_COLUMNS]


@pytest.fixture(scope="module")
def table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    return engine_table(request.param, PATIENTS, "distribution_patients", request,
                        tmp_path_factory.mktemp("distributions"))


@pytest.mark.parametrize(("table", "column"), CASES, indirect=["table"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_engine_counts_are_the_in_memory_counts(table, column, name):
    expected = distribution_counts(FILTERS[name].apply(PATIENTS)[column], column)
    got = distribution_counts_in_engine(filtered(table, FILTERS[name]), column)
    assert (got.kind, got.n_rows, got.n, got.is_list, got.empty_lists, got.width) == (
        expected.kind, expected.n_rows, expected.n, expected.is_list, expected.empty_lists,
        expected.width)
    assert_frame_equal(got.counts, expected.counts)
    for min_cell in (None, 11):
        assert counts_figure(got, min_cell).to_json() == counts_figure(expected,
                                                                       min_cell).to_json()


def test_the_columns_cover_every_kind_of_chart():
    kinds = {c: distribution_counts(PATIENTS[c], c).kind for c in COLUMNS}
    assert set(kinds.values()) == {"levels", "categories", "histogram"}
    assert kinds["rt_fractions"] == kinds["rt_total_dose_gy"] == "histogram"
    assert distribution_counts(PATIENTS["treated_sites"], "treated_sites").empty_lists
