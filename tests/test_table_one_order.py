"""Table 1 lists a variable's levels most frequent first, and grades or stages in their order."""

from __future__ import annotations

import polars as pl

from cohort.datasets import load_dataset
from cohort.tables import ordinal_rank, table_one


def levels(table: pl.DataFrame, characteristic: str) -> list[str]:
    rows = table.filter(pl.col("characteristic") == characteristic)["statistic"].to_list()
    return [r for r in rows if r != "missing"]


def test_tumour_grades_read_i_ii_iii_and_other_levels_most_frequent_first():
    table = table_one(load_dataset("gbsg2").patients)
    assert levels(table, "Tumour grade") == ["I", "II", "III"]  # 81, 444, 161 patients
    regimens = levels(table, "Systemic regimen")
    assert regimens == ["none", "tamoxifen"]  # 440 and 246


def test_grade_and_stage_names_have_their_rank_and_other_text_none():
    assert [ordinal_rank(t) for t in ("I", "ii", "Grade 3", "G4", "stage IV", "2")] == [
        1, 2, 3, 4, 4, 2]
    assert [ordinal_rank(t) for t in ("adeno", "squamous", "IIx", "")] == [None] * 4
