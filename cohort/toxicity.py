"""Toxicity grade matrices: worst CTCAE grade per patient and term, by grade and by subgroup.

Denominators are the patients of the (filtered) cohort: a patient without any toxicity row
counts in the denominator, a toxicity row whose patient is not in the cohort is ignored.

:func:`suppressed` applies a small-cell threshold (:mod:`cohort.suppression`) to a matrix: its
counts become text ("<11", "withheld"), hidden counts lose their percentage (a null percent:
a blank heatmap cell), and groups under the threshold are left out of ``by_group``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from cohort.suppression import Line, count_text, patient_count, protect

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
    min_cell: int | None = None

    @property
    def denominator_text(self) -> str:
        """The denominator as shown ('<11' under the threshold)."""
        return patient_count(self.denominator, self.min_cell)

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


COUNTED = (*GRADE_COLUMNS, ANY, HIGH)
GROUP_COUNTS = ("n_any", "n_grade_3plus")
_DENOMINATOR = ("denominator",)


def _matrix_cells(matrix: GradeMatrix) -> tuple[dict, list[Line]]:
    """Every count of ``matrix`` by key, with those it implies (patients without a term), and
    the lines of counts that add up (grades to any grade, groups to the overall count,
    patients with and without a term to the denominator)."""
    values: dict = {_DENOMINATOR: matrix.denominator}
    lines: list[Line] = []
    for row in matrix.by_grade.iter_rows(named=True):
        term = row["term"]
        values |= {("grade", term, c): row[c] for c in COUNTED}
        values[("without", term)] = matrix.denominator - row[ANY]
        lines += [Line(tuple(("grade", term, c) for c in GRADE_COLUMNS), ("grade", term, ANY)),
                  Line(tuple(("grade", term, c) for c in GRADE_COLUMNS[2:]), ("grade", term, HIGH)),
                  Line((("grade", term, ANY), ("without", term)), _DENOMINATOR)]
    sizes = dict(matrix.by_group.select("group", "group_n").unique().iter_rows())
    values |= {("size", g): n for g, n in sizes.items()}
    lines.append(Line(tuple(("size", g) for g in sizes), _DENOMINATOR))
    for row in matrix.by_group.iter_rows(named=True):
        term, group = row["term"], row["group"]
        values |= {("group", term, group, c): row[c] for c in GROUP_COUNTS}
        values[("group without", term, group)] = row["group_n"] - row["n_any"]
        lines.append(Line((("group", term, group, "n_any"), ("group without", term, group)),
                          ("size", group)))
    for term in matrix.terms:
        for column, overall in zip(GROUP_COUNTS, (ANY, HIGH), strict=True):
            lines.append(Line(tuple(("group", term, g, column) for g in sizes),
                              ("grade", term, overall)))
    return values, lines


def _texts(values: list[int], keys: list, hidden: set, min_cell: int) -> pl.Series:
    return pl.Series([count_text(v, min_cell, k in hidden) for v, k in zip(values, keys,
                                                                          strict=True)],
                     dtype=pl.String)


def _suppressed_table(table: pl.DataFrame, columns: dict[str, str], key, hidden: set,
                      min_cell: int) -> pl.DataFrame:
    """``table`` with each count column (``columns``: count -> its percent column) as text and
    the percent of each hidden count null; ``key(row, column)`` names a cell."""
    rows = list(table.iter_rows(named=True))
    updates = []
    for count, pct in columns.items():
        keys = [key(row, count) for row in rows]
        updates += [_texts(table[count].to_list(), keys, hidden, min_cell).alias(count),
                    pl.Series([None if k in hidden else row[pct] for k, row in
                               zip(keys, rows, strict=True)], dtype=pl.Float64).alias(pct)]
    return table.with_columns(updates) if rows else table.with_columns(
        pl.col(c).cast(pl.String) for c in columns)


def suppressed(matrix: GradeMatrix, min_cell: int | None) -> GradeMatrix:
    """``matrix`` as a dataset with ``min_cell`` may show it (see the module's docstring);
    unchanged without a threshold."""
    if not min_cell:
        return matrix
    values, lines = _matrix_cells(matrix)
    hidden = protect(values, lines, min_cell)
    by_grade = _suppressed_table(matrix.by_grade, {c: f"pct_{c}" for c in COUNTED},
                                 lambda row, c: ("grade", row["term"], c), hidden, min_cell)
    shown_groups = matrix.by_group.filter(~pl.col("group_n").is_between(1, min_cell - 1))
    by_group = _suppressed_table(
        shown_groups, {"n_any": "pct_any", "n_grade_3plus": "pct_grade_3plus"},
        lambda row, c: ("group", row["term"], row["group"], c), hidden, min_cell)
    by_group = by_group.with_columns(group_n=pl.Series(
        [count_text(n, min_cell, ("size", g) in hidden)
         for n, g in zip(shown_groups["group_n"], shown_groups["group"], strict=True)],
        dtype=pl.String))
    return replace(matrix, by_grade=by_grade, by_group=by_group, min_cell=min_cell)


def hidden_groups(matrix: GradeMatrix, original: GradeMatrix) -> list[str]:
    """The groups of ``original`` that the suppressed ``matrix`` leaves out."""
    kept = set(matrix.by_group["group"].to_list())
    return [g for g in original.by_group["group"].unique(maintain_order=True) if g not in kept]
