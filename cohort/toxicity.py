"""Toxicity grade matrices: worst CTCAE grade per patient and term, by grade and by subgroup.

Denominators are the patients of the (filtered) cohort: a patient without any toxicity row
counts in the denominator, a toxicity row whose patient is not in the cohort is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

GRADES = (1, 2, 3, 4, 5)
GRADE_COLUMNS = tuple(f"grade_{g}" for g in GRADES)
ANY = "any_grade"
HIGH = "grade_3plus"
ALL_GROUP = "All patients"
MISSING_GROUP = "missing"


@dataclass(frozen=True)
class GradeMatrix:
    """Worst-grade tables for one cohort and phase.

    ``by_grade``: one row per term (most frequent first): ``grade_1`` .. ``grade_5``,
    ``any_grade``, ``grade_3plus`` = patients whose worst grade is that grade (or any, or >= 3),
    and ``pct_<column>`` = percent (0-100) of ``denominator``.
    ``by_group``: one row per term x group: ``group_n`` (patients in the group), ``n_any``,
    ``pct_any``, ``n_grade_3plus``, ``pct_grade_3plus``; same term order.
    ``denominator``: patients in the cohort.
    """

    by_grade: pl.DataFrame
    by_group: pl.DataFrame
    denominator: int
    phase: str | None = None
    by: str | None = None

    @property
    def terms(self) -> list[str]:
        """Terms, most frequent (any grade) first."""
        return self.by_grade["term"].to_list()


def worst_grade(toxicities: pl.DataFrame, phase: str | None = None) -> pl.DataFrame:
    """Worst grade per patient and term: columns patient_id, term, grade (Int64).

    ``phase`` None = all phases (worst across phases); otherwise only rows of that phase.
    """
    tox = toxicities
    if phase is not None:
        if "phase" not in tox.columns:
            raise ValueError("the toxicity table has no `phase` column")
        tox = tox.filter(pl.col("phase") == phase)
    return (
        tox.filter(pl.col("grade").is_not_null() & pl.col("term").is_not_null())
        .group_by("patient_id", "term")
        .agg(pl.col("grade").cast(pl.Int64).max())
        .sort("patient_id", "term")
    )


def _pct(n: pl.Expr, denominator: pl.Expr | int) -> pl.Expr:
    den = denominator if isinstance(denominator, pl.Expr) else pl.lit(denominator)
    return pl.when(den > 0).then(100.0 * n / den).otherwise(None)


def _by_grade(worst: pl.DataFrame, denominator: int) -> pl.DataFrame:
    counts = [(pl.col("grade") == g).sum().cast(pl.Int64).alias(c)
              for g, c in zip(GRADES, GRADE_COLUMNS, strict=True)]
    table = worst.group_by("term").agg(
        *counts,
        pl.len().cast(pl.Int64).alias(ANY),
        (pl.col("grade") >= 3).sum().cast(pl.Int64).alias(HIGH),
    )
    cols = [*GRADE_COLUMNS, ANY, HIGH]
    return table.with_columns(_pct(pl.col(c), denominator).alias(f"pct_{c}") for c in cols).sort(
        [ANY, HIGH, "term"], descending=[True, True, False]
    )


def _group_labels(patients: pl.DataFrame, by: str | None) -> pl.DataFrame:
    """patient_id -> group (string; nulls -> "missing")."""
    if by is None:
        return patients.select("patient_id", pl.lit(ALL_GROUP).alias("group"))
    return patients.select(
        "patient_id", pl.col(by).cast(pl.String).fill_null(MISSING_GROUP).alias("group")
    )


def _by_group(worst: pl.DataFrame, groups: pl.DataFrame, terms: list[str]) -> pl.DataFrame:
    sizes = groups.group_by("group").agg(pl.len().cast(pl.Int64).alias("group_n"))
    counts = (
        worst.join(groups, on="patient_id")
        .group_by("term", "group")
        .agg(
            pl.len().cast(pl.Int64).alias("n_any"),
            (pl.col("grade") >= 3).sum().cast(pl.Int64).alias("n_grade_3plus"),
        )
    )
    order = pl.DataFrame({"term": terms, "_order": range(len(terms))},
                         schema={"term": pl.String, "_order": pl.Int64})
    grid = order.join(sizes, how="cross")
    return (
        grid.join(counts, on=["term", "group"], how="left")
        .with_columns(pl.col("n_any", "n_grade_3plus").fill_null(0))
        .with_columns(
            _pct(pl.col("n_any"), pl.col("group_n")).alias("pct_any"),
            _pct(pl.col("n_grade_3plus"), pl.col("group_n")).alias("pct_grade_3plus"),
        )
        .sort("_order", "group")
        .select("term", "group", "group_n", "n_any", "pct_any", "n_grade_3plus",
                "pct_grade_3plus")
    )


def grade_matrix(
    toxicities: pl.DataFrame,
    patients: pl.DataFrame,
    by: str | None = None,
    phase: str | None = None,
) -> GradeMatrix:
    """Patients by worst grade per term, overall and per group of ``patients[by]``.

    Only toxicity rows of patients in ``patients`` (the filtered cohort) count; every patient
    in ``patients`` counts in the denominators. Returns a :class:`GradeMatrix`.
    """
    cohort = patients.select("patient_id", *([by] if by else [])).unique(
        "patient_id", keep="first", maintain_order=True
    )
    ids = cohort["patient_id"].cast(pl.String)
    tox = toxicities.with_columns(pl.col("patient_id").cast(pl.String)).filter(
        pl.col("patient_id").is_in(ids.implode())
    )
    worst = worst_grade(tox, phase)
    by_grade = _by_grade(worst, cohort.height)
    groups = _group_labels(cohort.with_columns(pl.col("patient_id").cast(pl.String)), by)
    by_group = _by_group(worst, groups, by_grade["term"].to_list())
    return GradeMatrix(by_grade, by_group, cohort.height, phase, by)
