"""Toxicity grade matrices: worst CTCAE grade per patient and term, by grade and by subgroup.

Denominators are the patients of the (filtered) cohort assessed for toxicity: those with a
``toxicity_assessed`` value of true or with a toxicity record (without that column: those with a
record). A patient never assessed is not a patient without toxicity, so is in no denominator; a
toxicity row whose patient is not in the cohort is ignored.

:func:`suppressed` applies a small-cell threshold (:mod:`cohort.suppression`) to a matrix: its
counts become text ("<11", "withheld"), hidden counts lose their percentage (a null percent:
a blank heatmap cell), and groups under the threshold are left out of ``by_group``; the
shown texts (:func:`shown_by_grade`, :func:`shown_by_group`) then write "<11" or "withheld"
without a percentage for those counts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import polars as pl

from cohort.schema import PATIENT_ID, TOXICITY_PHASES, is_outcome_column
from cohort.suppression import WITHHELD, Line, count_text, is_small, patient_count, protect

GRADES = (1, 2, 3, 4, 5)
GRADE_COLUMNS = tuple(f"grade_{g}" for g in GRADES)
ANY = "any_grade"
HIGH = "grade_3plus"
ALL_GROUP = "All patients"
MISSING_GROUP = "missing"
#: Optional boolean patient column: assessed for toxicity, with or without a recorded toxicity.
ASSESSED = "toxicity_assessed"
ASSESSED_BY_COLUMN, ASSESSED_BY_RECORD = "column", "record"
#: A column to group by has at most this many text (or integer) values.
MAX_GROUPS, MAX_INT_LEVELS = 8, 8


def count_percent(n: int, denominator: int) -> str:
    """"3 (1.3%)", "1,204 (27.1%)": ``n`` and its percent of ``denominator`` to one decimal, halves rounded up
    (exact integer arithmetic), "<0.1%" for a count below 0.05% (a count never reads as none);
    just the count when the denominator is 0. Heatmap cells and tables both write this."""
    if denominator <= 0:
        return f"{n:,}"
    tenths = (2000 * n + denominator) // (2 * denominator)
    if n and not tenths:
        return f"{n:,} (<0.1%)"
    return f"{n:,} ({tenths // 10}.{tenths % 10}%)"


def size_text(size: int | str) -> str:
    """A group's size as a header writes it: "1,204", or its text when suppressed ("<11")."""
    return f"{size:,}" if isinstance(size, int) else str(size)


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
    min_cell: int | None = None
    denominator_withheld: bool = False

    @property
    def denominator_text(self) -> str:
        """The denominator as shown ('<11' under the threshold, 'withheld' when it would give
        the number of unassessed patients away)."""
        return WITHHELD if self.denominator_withheld else patient_count(self.denominator,
                                                                        self.min_cell)

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


def _by_grade(worst_counts: pl.DataFrame, denominator: int) -> pl.DataFrame:
    n, grade = pl.col("n"), pl.col("grade")
    counts = [n.filter(grade == g).sum().cast(pl.Int64).alias(c)
              for g, c in zip(GRADES, GRADE_COLUMNS, strict=True)]
    table = worst_counts.group_by("term").agg(
        *counts,
        n.sum().cast(pl.Int64).alias(ANY),
        n.filter(grade >= 3).sum().cast(pl.Int64).alias(HIGH),
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


def _by_group(worst_counts: pl.DataFrame, sizes: pl.DataFrame, terms: list[str]
              ) -> pl.DataFrame:
    n = pl.col("n")
    counts = worst_counts.group_by("term", "group").agg(
        n.sum().cast(pl.Int64).alias("n_any"),
        n.filter(pl.col("grade") >= 3).sum().cast(pl.Int64).alias("n_grade_3plus"),
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


@dataclass(frozen=True)
class GradeCounts:
    """What a :class:`GradeMatrix` is computed from, wherever the rows are counted.

    ``worst``: term, group, grade (Int64), n = assessed patients of the group whose worst
    grade of the term is that grade; ``sizes``: group, group_n = assessed patients per group;
    ``cohort_n``: patients in the cohort; ``assessed_by``: ``ASSESSED_BY_COLUMN`` or
    ``ASSESSED_BY_RECORD``."""

    worst: pl.DataFrame
    sizes: pl.DataFrame
    cohort_n: int
    assessed_by: str


def matrix_from_counts(counts: GradeCounts, by: str | None = None, phase: str | None = None
                       ) -> GradeMatrix:
    """The :class:`GradeMatrix` of ``counts`` (the in-memory and the engine path's own)."""
    worst = counts.worst.with_columns(pl.col("n").cast(pl.Int64), pl.col("grade").cast(pl.Int64))
    sizes = counts.sizes.with_columns(pl.col("group_n").cast(pl.Int64))
    denominator = int(sizes["group_n"].sum())
    by_grade = _by_grade(worst, denominator)
    by_group = _by_group(worst, sizes, by_grade["term"].to_list())
    return GradeMatrix(by_grade, by_group, denominator, phase, by, counts.cohort_n,
                       counts.assessed_by)


def grade_counts(toxicities: pl.DataFrame, patients: pl.DataFrame, by: str | None = None,
                 phase: str | None = None) -> GradeCounts:
    """The :class:`GradeCounts` of the cohort ``patients``: only toxicity rows of its
    patients count; the denominators are its patients assessed for toxicity
    (:func:`assessed_patients`)."""
    cohort = patients.select(
        "patient_id", *([by] if by else []), *([ASSESSED] if ASSESSED in patients.columns else [])
    ).unique("patient_id", keep="first", maintain_order=True)
    assessed = assessed_patients(cohort, toxicities).with_columns(
        pl.col("patient_id").cast(pl.String))
    tox = toxicities.with_columns(pl.col("patient_id").cast(pl.String)).filter(
        pl.col("patient_id").is_in(assessed["patient_id"].implode())
    )
    groups = _group_labels(assessed, by)
    worst = (worst_grade(tox, phase).join(groups, on="patient_id")
             .group_by("term", "group", "grade").agg(n=pl.len()))
    sizes = groups.group_by("group").agg(group_n=pl.len())
    basis = ASSESSED_BY_COLUMN if ASSESSED in patients.columns else ASSESSED_BY_RECORD
    return GradeCounts(worst, sizes, cohort.height, basis)


def group_columns(patients: pl.DataFrame, identifying: Collection[str]) -> list[str]:
    """Categorical patient columns (text, boolean, few integers; not outcomes, not the id,
    ``toxicity_assessed`` or ``identifying`` columns) to group by, judged on the values of
    ``patients`` (a cohort, or an engine dataset's column profile)."""
    out = []
    for name, dtype in patients.schema.items():
        hidden = (name in (PATIENT_ID, ASSESSED, *identifying)
                  or is_outcome_column(name, patients.columns))
        if hidden or isinstance(dtype, pl.List):
            continue
        n = patients[name].drop_nulls().n_unique()
        text = isinstance(dtype, (pl.String, pl.Categorical, pl.Enum, pl.Boolean))
        if n >= 2 and ((text and n <= MAX_GROUPS) or (dtype.is_integer() and n <= MAX_INT_LEVELS)):
            out.append(name)
    return out


def phases_present(toxicities: pl.DataFrame) -> list[str]:
    """The phases (acute, late, in that order) of the toxicity rows."""
    if "phase" not in toxicities.columns:
        return []
    present = set(toxicities["phase"].drop_nulls().to_list())
    return [p for p in TOXICITY_PHASES if p in present]


def ctcae_versions(toxicities: pl.DataFrame, phase: str | None) -> list[str]:
    """The CTCAE versions (sorted text) of the toxicity rows of ``phase`` (None: all); []
    without a version column."""
    if "ctcae_version" not in toxicities.columns:
        return []
    if phase is not None and "phase" in toxicities.columns:
        toxicities = toxicities.filter(pl.col("phase") == phase)
    return sorted(toxicities["ctcae_version"].drop_nulls().cast(pl.String).unique().to_list())


def assessed_studies(patients: pl.DataFrame, toxicities: pl.DataFrame) -> tuple[set, set]:
    """The studies of the ``patients`` assessed for toxicity and of all of them (empty sets
    without a study column)."""
    if "study" not in patients.columns:
        return set(), set()
    assessed = assessed_patients(patients, toxicities)["study"].drop_nulls()
    return set(assessed.to_list()), set(patients["study"].drop_nulls().to_list())


def grade_matrix(
    toxicities: pl.DataFrame,
    patients: pl.DataFrame,
    by: str | None = None,
    phase: str | None = None,
) -> GradeMatrix:
    """Patients by worst grade per term, overall and per group of ``patients[by]``
    (:func:`grade_counts`, :func:`matrix_from_counts`). Returns a :class:`GradeMatrix`."""
    return matrix_from_counts(grade_counts(toxicities, patients, by, phase), by, phase)


def denominator_words(matrix: GradeMatrix) -> str:
    """"233 patients assessed for toxicity" (or "... with a toxicity record" when the data do not
    say who was assessed), the count as a dataset with ``min_cell`` may show it ('<11'; named
    withheld): the denominator as figures and tables state it."""
    if matrix.denominator_withheld:
        return f"{assessed_noun(matrix)} (their number withheld: small-cell suppression)"
    return f"{matrix.denominator_text} {assessed_noun(matrix)}"


def assessed_noun(matrix: GradeMatrix) -> str:
    """"patients assessed for toxicity", or "patients with a toxicity record" when the data do
    not say who was assessed."""
    if matrix.assessed_by == ASSESSED_BY_COLUMN:
        return "patients assessed for toxicity"
    return "patients with a toxicity record"


def unassessed_words(matrix: GradeMatrix) -> str:
    """"4,066 of the 4,299 patients in the cohort not assessed (not in the denominator)", or ""
    when every patient was assessed. Under ``min_cell`` a small number left out reads "<11"
    without the cohort's size (their difference would give it away)."""
    cohort_n = matrix.cohort_n if matrix.cohort_n is not None else matrix.denominator
    left_out = cohort_n - matrix.denominator
    if left_out <= 0:
        return ""
    why = ("not assessed" if matrix.assessed_by == ASSESSED_BY_COLUMN
           else "without a toxicity record")
    if is_small(left_out, matrix.min_cell):
        return (f"{patient_count(left_out, matrix.min_cell)} patients in the cohort {why} "
                "(not in the denominator)")
    return (f"{patient_count(left_out, matrix.min_cell)} of the "
            f"{patient_count(cohort_n, matrix.min_cell)} patients in the cohort {why} (not in "
            "the denominator)")


def _shown_texts(counts: list, percents: list, denominators: list) -> list[str]:
    """Each count as :func:`count_percent` of its denominator; a count of a suppressed matrix
    (text) whose percent is withheld (null) as its text alone ("<11", "withheld")."""
    return [count_percent(int(n), int(d)) if p is not None and str(n).isdigit()
            else str(n)
            for n, p, d in zip(counts, percents, denominators, strict=True)]


def shown_by_grade(matrix: GradeMatrix) -> pl.DataFrame:
    """``by_grade`` as on screen: term and one "n (x%)" text column per grade
    (:func:`count_percent` of the denominator; a suppressed count as "<11" or "withheld"
    alone), the heatmap's cell texts."""
    table, d = matrix.by_grade, matrix.denominator
    return table.select("term").with_columns(
        pl.Series(c, _shown_texts(table[c].to_list(), table[f"pct_{c}"].to_list(),
                                  [d] * table.height), dtype=pl.String)
        for c in COUNTED)


def shown_by_group(matrix: GradeMatrix) -> pl.DataFrame:
    """``by_group`` as on screen: term, "group (n=k)", any grade and grade >= 3 as "n (x%)" of
    the group's assessed patients (suppressed counts alone), the group heatmap's cell texts."""
    table = matrix.by_group
    sizes = table["group_n"].to_list()
    return table.select(
        "term", pl.Series("group", [f"{g} (n={size_text(n)})" for g, n in
                                    zip(table["group"], sizes, strict=True)], dtype=pl.String),
        pl.Series("n_any", _shown_texts(table["n_any"].to_list(), table["pct_any"].to_list(),
                                        sizes), dtype=pl.String),
        pl.Series("n_grade_3plus", _shown_texts(table["n_grade_3plus"].to_list(),
                                                table["pct_grade_3plus"].to_list(), sizes),
                  dtype=pl.String))


COUNTED = (*GRADE_COLUMNS, ANY, HIGH)
GROUP_COUNTS = ("n_any", "n_grade_3plus")
_DENOMINATOR = ("denominator",)
#: The filtered cohort (its size is on every screen) and its patients not assessed.
_COHORT, _UNASSESSED = ("cohort",), ("unassessed",)


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
    if matrix.cohort_n is not None:
        values |= {_COHORT: matrix.cohort_n, _UNASSESSED: matrix.cohort_n - matrix.denominator}
        lines.append(Line((_DENOMINATOR, _UNASSESSED), _COHORT))
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
    withheld = _DENOMINATOR in hidden
    if withheld:  # a percent of a withheld denominator would give it away
        by_grade = by_grade.with_columns(pl.lit(None, pl.Float64).alias(f"pct_{c}")
                                         for c in COUNTED)
    withheld_sizes = [g for g in by_group["group"].unique() if ("size", g) in hidden]
    by_group = by_group.with_columns(
        pl.when(pl.col("group").is_in(withheld_sizes)).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("pct_any", "pct_grade_3plus"))
    return replace(matrix, by_grade=by_grade, by_group=by_group, min_cell=min_cell,
                   denominator_withheld=withheld)


def hidden_groups(matrix: GradeMatrix, original: GradeMatrix) -> list[str]:
    """The groups of ``original`` that the suppressed ``matrix`` leaves out."""
    kept = set(matrix.by_group["group"].to_list())
    return [g for g in original.by_group["group"].unique(maintain_order=True) if g not in kept]
