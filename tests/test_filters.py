"""CohortFilter: each condition alone and combined, against hand-computed expectations."""

from __future__ import annotations

import polars as pl
import pytest

from cohort.dose import add_dose_columns, bed, eqd2
from cohort.filters import CohortFilter, InRange, ValuesIn

PATIENTS = add_dose_columns(pl.DataFrame({
    "patient_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
    "study": ["A", "A", "B", "B", "C", None],
    "histology": ["melanoma", "RCC", "RCC", "colorectal", "melanoma", None],
    "treated_sites": [["lung"], ["bone", "lung"], ["liver"], [], None, ["lymph node"]],
    "regimen": ["none", "sunitinib", "pazopanib", "FOLFOX", "none", "FOLFOX"],
    "rt_total_dose_gy": [50.0, 30.0, 60.0, None, 24.0, 45.0],
    "rt_fractions": [5, 10, 8, None, 1, 3],
    "rt_technique": ["SBRT", "IMRT", "SBRT", None, "SRS", "SBRT"],
    "oligo_state": ["oligometastatic", "oligoprogressive", None, "oligopersistent",
                    "oligometastatic", "oligoprogressive"],
    "ecog": [0, 1, 2, 0, None, 1],
}))


def ids(cohort_filter: CohortFilter) -> list[str]:
    return cohort_filter.apply(PATIENTS)["patient_id"].to_list()


@pytest.mark.parametrize(("condition", "expected"), [
    (ValuesIn("histology", ("RCC",)), ["p2", "p3"]),
    (ValuesIn("histology", ("RCC",), include_missing=True), ["p2", "p3", "p6"]),
    (ValuesIn("treated_sites", ("lung", "liver")), ["p1", "p2", "p3"]),
    (ValuesIn("treated_sites", ("lung",), include_missing=True), ["p1", "p2", "p4", "p5"]),
    (ValuesIn("regimen", ("FOLFOX", "none")), ["p1", "p4", "p5", "p6"]),
    (ValuesIn("study", ("B",)), ["p3", "p4"]),
    (ValuesIn("rt_technique", ("SBRT",)), ["p1", "p3", "p6"]),
    (ValuesIn("oligo_state", ("oligoprogressive",)), ["p2", "p6"]),
    (InRange("rt_total_dose_gy", 30, 50), ["p1", "p2", "p6"]),
    (InRange("rt_total_dose_gy", 30, 50, include_missing=True), ["p1", "p2", "p4", "p6"]),
    (InRange("rt_fractions", 1, 5), ["p1", "p5", "p6"]),
    (InRange("dose_per_fraction_gy", 7.5, None), ["p1", "p3", "p5", "p6"]),
    (InRange("bed10_gy", 100, None), ["p1", "p3", "p6"]),  # 100, 105, 112.5
    (InRange("bed10_gy", None, 80), ["p2"]),  # 39; p5 is 81.6
    (InRange("ecog", 1, 2), ["p2", "p3", "p6"]),
])
def test_each_condition_alone(condition, expected):
    assert ids(CohortFilter((condition,))) == expected


def test_conditions_combine_with_and_and_attrition_counts_each_step():
    combined = CohortFilter((
        ValuesIn("rt_technique", ("SBRT", "IMRT")),
        InRange("bed10_gy", 35, None),
        ValuesIn("treated_sites", ("lung",)),
    ))
    assert ids(combined) == ["p1", "p2"]
    attrition = combined.attrition(PATIENTS)
    assert attrition["n"].to_list() == [6, 4, 4, 2]
    assert attrition["excluded"].to_list() == [0, 2, 0, 2]
    assert attrition["condition"][2] == "BED10 (Gy) ≥ 35"


def test_empty_filter_keeps_everyone_and_unknown_columns_are_skipped():
    assert ids(CohortFilter()) == PATIENTS["patient_id"].to_list()
    assert ids(CohortFilter((ValuesIn("no_such_column", ("x",)),))) == ids(CohortFilter())


def test_with_condition_replaces_the_same_column_and_describe_reads_as_words():
    first = CohortFilter().with_condition(ValuesIn("histology", ("RCC",)))
    second = first.with_condition(ValuesIn("histology", ("melanoma",)))
    assert second.conditions == (ValuesIn("histology", ("melanoma",)),)
    assert second.with_condition(InRange("bed10_gy", 100, 150)).describe() == (
        "Histology: melanoma; BED10 (Gy) 100–150")
    assert second.without("histology") == CohortFilter()


def test_bed_and_eqd2_known_values():
    assert bed(50, 5) == pytest.approx(100.0)
    assert eqd2(50, 5) == pytest.approx(83.333333, abs=1e-6)
    assert bed(60, 30) == pytest.approx(72.0)
    assert eqd2(60, 30) == pytest.approx(60.0)
    assert bed(24, 1) == pytest.approx(81.6)
    assert eqd2(37.5, 5, alpha_beta_gy=3) == pytest.approx(37.5 * (1 + 7.5 / 3) / (1 + 2 / 3))


def test_dose_columns_derived_per_row():
    row = PATIENTS.filter(pl.col("patient_id") == "p1").row(0, named=True)
    assert (row["dose_per_fraction_gy"], row["bed10_gy"], row["eqd2_gy"]) == pytest.approx(
        (10.0, 100.0, 83.333333))
    assert PATIENTS.filter(pl.col("patient_id") == "p4")["bed10_gy"].is_null().all()


def test_identifying_text_columns_are_not_offered_as_filters():
    from cohort.schema import identifies_patients
    from ui.filters import filterable_columns

    patients = PATIENTS.with_columns(
        pl.Series("name", ["Ann", "Bob", "Cy", "Di", "Ed", "Flo"]),
        pl.Series("centre", ["X", "X", "Y", "Y", "X", "Y"]),
    )
    columns = filterable_columns(patients)
    assert "centre" in columns and "name" not in columns and "patient_id" not in columns
    nearly_unique = pl.Series("birth_date", ["1950-01-02", "1950-01-02", "1961-03-04",
                                             "1970-05-06", "1944-07-08", None])
    assert identifies_patients(nearly_unique)  # 4 distinct of 5 recorded
    assert not identifies_patients(pl.Series(["X", "X", "Y", "Y", "X", "Y"]))
    assert not identifies_patients(pl.Series([1, 2, 3]))
