"""Toxicity grade matrices: worst CTCAE grade per patient and term, by grade and by subgroup.

Denominators are the patients of the (filtered) cohort assessed for toxicity: those with a
``toxicity_assessed`` value of true or with a toxicity record (without that column: those with a
record). A patient never assessed is not a patient without toxicity, so is in no denominator; a
toxicity row whose patient is not in the cohort is ignored.
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
#: Optional boolean patient column: assessed for toxicity, with or without a recorded toxicity.
ASSESSED = "toxicity_assessed"
ASSESSED_BY_COLUMN, ASSESSED_BY_RECORD = "column", "record"


def count_percent(n: int, denominator: int) -> str:
    """"3 (1.3%)": ``n`` and its percent of ``denominator`` to one decimal, halves rounded up
    (exact integer arithmetic), "<0.1%" for a count below 0.05% (a count never reads as none);
    just the count when the denominator is 0. Heatmap cells and tables both write this."""
    if denominator <= 0:
        return str(n)
    tenths = (2000 * n + denominator) // (2 * denominator)
    if n and not tenths:
        return f"{n} (<0.1%)"
    return f"{n} ({tenths // 10}.{tenths % 10}%)"


@dataclass(frozen=True)
class GradeMatrix:
    """Worst-grade tables for one cohort and phase.

    ``by_grade``: one row per term (most frequent first): ``grade_1`` .. ``grade_5``,
    ``any_grade``, ``grade_3plus`` = patients whose worst grade is that grade (or any, or >= 3),
    and ``pct_<column>`` = percent (0-100) of ``denominator``.
    ``by_group``: one row per term x group: ``group_n`` (patients in the group), ``n_any``,
    ``pct_any``, ``n_grade_3plus``, ``pct_grade_3plus``; same term order.
    ``denominator``: patients of the cohort assessed for toxicity; ``cohort_n``: patients in
    the cohort; ``assessed_by``: :data:`ASSESSED_BY_COLUMN` (a ``toxicity_assessed`` column)
    or :data:`ASSESSED_BY_RECORD` (patients with a toxicity record).
    """

    by_grade: pl.DataFrame
    by_group: pl.DataFrame
    denominator: int
    phase: str | None = None
    by: str | None = None
    cohort_n: int | None = None
    assessed_by: str = ASSESSED_BY_RECORD

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


def assessed_patients(patients: pl.DataFrame, toxicities: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``patients`` assessed for toxicity: ``toxicity_assessed`` true, or a
    toxicity record (in any phase); without that column, a toxicity record."""
    recorded = pl.col("patient_id").cast(pl.String).is_in(
        toxicities["patient_id"].cast(pl.String).implode())
    if ASSESSED in patients.columns:
        return patients.filter(recorded | pl.col(ASSESSED).cast(pl.Boolean).fill_null(False))
    return patients.filter(recorded)


def grade_matrix(
    toxicities: pl.DataFrame,
    patients: pl.DataFrame,
    by: str | None = None,
    phase: str | None = None,
) -> GradeMatrix:
    """Patients by worst grade per term, overall and per group of ``patients[by]``.

    Only toxicity rows of patients in ``patients`` (the filtered cohort) count; the denominators
    are its patients assessed for toxicity (:func:`assessed_patients`). Returns a
    :class:`GradeMatrix`.
    """
    cohort = patients.select(
        "patient_id", *([by] if by else []), *([ASSESSED] if ASSESSED in patients.columns else [])
    ).unique("patient_id", keep="first", maintain_order=True)
    assessed = assessed_patients(cohort, toxicities).with_columns(
        pl.col("patient_id").cast(pl.String))
    tox = toxicities.with_columns(pl.col("patient_id").cast(pl.String)).filter(
        pl.col("patient_id").is_in(assessed["patient_id"].implode())
    )
    worst = worst_grade(tox, phase)
    by_grade = _by_grade(worst, assessed.height)
    by_group = _by_group(worst, _group_labels(assessed, by), by_grade["term"].to_list())
    basis = ASSESSED_BY_COLUMN if ASSESSED in patients.columns else ASSESSED_BY_RECORD
    return GradeMatrix(by_grade, by_group, assessed.height, phase, by, cohort.height, basis)


def denominator_words(matrix: GradeMatrix) -> str:
    """"233 patients assessed for toxicity" (or "... with a toxicity record" when the data do not
    say who was assessed): the denominator as figures and tables state it."""
    return f"{matrix.denominator:,} {assessed_noun(matrix)}"


def assessed_noun(matrix: GradeMatrix) -> str:
    """"patients assessed for toxicity", or "patients with a toxicity record" when the data do
    not say who was assessed."""
    if matrix.assessed_by == ASSESSED_BY_COLUMN:
        return "patients assessed for toxicity"
    return "patients with a toxicity record"


def unassessed_words(matrix: GradeMatrix) -> str:
    """"4,066 of the 4,299 patients in the cohort not assessed (not in the denominator)", or ""
    when every patient was assessed."""
    cohort_n = matrix.cohort_n if matrix.cohort_n is not None else matrix.denominator
    left_out = cohort_n - matrix.denominator
    if left_out <= 0:
        return ""
    why = ("not assessed" if matrix.assessed_by == ASSESSED_BY_COLUMN
           else "without a toxicity record")
    return (f"{left_out:,} of the {cohort_n:,} patients in the cohort {why} (not in the "
            "denominator)")


def _texts(counts: list[int], denominators: list[int]) -> list[str]:
    return [count_percent(n, d) for n, d in zip(counts, denominators, strict=True)]


def shown_by_grade(matrix: GradeMatrix) -> pl.DataFrame:
    """``by_grade`` as on screen: term and one "n (x%)" text column per grade
    (:func:`count_percent` of the denominator), the heatmap's cell texts."""
    table, d = matrix.by_grade, matrix.denominator
    return table.select("term").with_columns(
        pl.Series(c, _texts(table[c].to_list(), [d] * table.height), dtype=pl.String)
        for c in (*GRADE_COLUMNS, ANY, HIGH))


def shown_by_group(matrix: GradeMatrix) -> pl.DataFrame:
    """``by_group`` as on screen: term, "group (n=k)", any grade and grade >= 3 as "n (x%)" of
    the group's assessed patients, the group heatmap's cell texts."""
    table = matrix.by_group
    sizes = table["group_n"].to_list()
    return table.select(
        "term", pl.format("{} (n={})", "group", "group_n").alias("group"),
        pl.Series("n_any", _texts(table["n_any"].to_list(), sizes), dtype=pl.String),
        pl.Series("n_grade_3plus", _texts(table["n_grade_3plus"].to_list(), sizes),
                  dtype=pl.String))
