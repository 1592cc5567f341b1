"""cohort.toxicity on a small hand-computed example: denominators are the assessed patients."""

from __future__ import annotations

import polars as pl
import pytest

from cohort.figures.toxicity import (
    DARK_TEXT,
    LIGHT_TEXT,
    grade_heatmap,
    group_heatmap,
    text_colour,
)
from cohort.toxicity import (
    ASSESSED_BY_COLUMN,
    ASSESSED_BY_RECORD,
    count_percent,
    denominator_words,
    grade_matrix,
    shown_by_grade,
    shown_by_group,
    unassessed_words,
    worst_grade,
)

PATIENTS = pl.DataFrame({
    "patient_id": ["P1", "P2", "P3", "P4", "P5"],
    "arm": ["A", "A", "B", "B", None],
})
# P4 has no toxicity record; P9 is not in the cohort and must be ignored.
#: The same patients with the column saying who was assessed: P4 was, without any toxicity;
#: P5's value is unknown but P5 has a record, so was assessed.
ASSESSED = PATIENTS.with_columns(toxicity_assessed=pl.Series([True, True, True, True, None]))
TOX = pl.DataFrame(
    [
        ("P1", "fatigue", 1, "acute"),
        ("P1", "fatigue", 3, "late"),
        ("P1", "nausea", 2, "acute"),
        ("P2", "fatigue", 2, "acute"),
        ("P3", "pneumonitis", 3, "late"),
        ("P3", "fatigue", 1, "acute"),
        ("P3", "fatigue", 1, "acute"),
        ("P5", "nausea", 1, "acute"),
        ("P9", "fatigue", 5, "acute"),
        ("P9", "pneumonitis", 4, "late"),
    ],
    schema=["patient_id", "term", "grade", "phase"],
    orient="row",
)


def _row(df: pl.DataFrame, **keys) -> dict:
    out = df.filter(*(pl.col(k) == v for k, v in keys.items()))
    assert out.height == 1, keys
    return out.row(0, named=True)


def test_worst_grade_per_patient_and_term():
    w = worst_grade(TOX)
    got = {(r["patient_id"], r["term"]): r["grade"] for r in w.iter_rows(named=True)}
    assert got == {
        ("P1", "fatigue"): 3, ("P1", "nausea"): 2, ("P2", "fatigue"): 2,
        ("P3", "pneumonitis"): 3, ("P3", "fatigue"): 1, ("P5", "nausea"): 1,
        ("P9", "fatigue"): 5, ("P9", "pneumonitis"): 4,
    }


def test_worst_grade_phase_filter():
    w = worst_grade(TOX, phase="acute")
    assert _row(w, patient_id="P1", term="fatigue")["grade"] == 1
    assert w.filter(pl.col("term") == "pneumonitis").height == 0


def test_without_an_assessed_column_the_denominator_is_patients_with_a_record():
    m = grade_matrix(TOX, PATIENTS)
    assert (m.denominator, m.cohort_n, m.assessed_by) == (4, 5, ASSESSED_BY_RECORD)  # not P4
    assert m.terms == ["fatigue", "nausea", "pneumonitis"]
    fat = _row(m.by_grade, term="fatigue")
    assert [fat[f"grade_{g}"] for g in range(1, 6)] == [1, 1, 1, 0, 0]
    assert (fat["any_grade"], fat["grade_3plus"]) == (3, 1)
    assert fat["pct_any_grade"] == pytest.approx(75.0)
    assert fat["pct_grade_3plus"] == pytest.approx(25.0)
    assert fat["pct_grade_1"] == pytest.approx(25.0)
    pneu = _row(m.by_grade, term="pneumonitis")
    assert (pneu["grade_3"], pneu["grade_4"], pneu["any_grade"]) == (1, 0, 1)  # P9's 4 ignored
    assert denominator_words(m) == "4 patients with a toxicity record"
    assert unassessed_words(m) == ("1 of the 5 patients in the cohort without a toxicity record "
                                   "(not in the denominator)")


def test_with_an_assessed_column_the_denominator_is_the_assessed_patients():
    m = grade_matrix(TOX, ASSESSED)
    assert (m.denominator, m.cohort_n, m.assessed_by) == (5, 5, ASSESSED_BY_COLUMN)
    fat = _row(m.by_grade, term="fatigue")
    assert (fat["pct_any_grade"], fat["pct_grade_3plus"]) == (60.0, 20.0)
    assert denominator_words(m) == "5 patients assessed for toxicity"
    assert unassessed_words(m) == ""


def test_not_assessed_patients_are_in_no_denominator_and_a_record_means_assessed():
    patients = ASSESSED.with_columns(toxicity_assessed=pl.Series([False, True, True, False, None]))
    m = grade_matrix(TOX, patients)
    assert m.denominator == 4  # P1 has records (so was assessed) despite False; P4 is not
    assert _row(m.by_grade, term="fatigue")["pct_any_grade"] == pytest.approx(75.0)
    assert unassessed_words(m) == ("1 of the 5 patients in the cohort not assessed (not in the "
                                   "denominator)")
    groups = {r["group"]: r["group_n"] for r in grade_matrix(TOX, patients, by="arm")
              .by_group.iter_rows(named=True)}
    assert groups == {"A": 2, "B": 1, "missing": 1}


def test_by_grade_phase_switch():
    acute = grade_matrix(TOX, ASSESSED, phase="acute")
    assert acute.terms == ["fatigue", "nausea"]
    fat = _row(acute.by_grade, term="fatigue")
    assert [fat[f"grade_{g}"] for g in range(1, 6)] == [2, 1, 0, 0, 0]
    assert fat["grade_3plus"] == 0
    late = grade_matrix(TOX, ASSESSED, phase="late")
    assert late.terms == ["fatigue", "pneumonitis"]  # tie on frequency: alphabetical
    assert late.denominator == 5  # assessed, whether or not they had a late record
    assert _row(late.by_grade, term="fatigue")["pct_grade_3plus"] == pytest.approx(20.0)
    assert grade_matrix(TOX, PATIENTS, phase="late").denominator == 4  # any record counts


def test_filtered_cohort_denominator_and_rows():
    m = grade_matrix(TOX, ASSESSED.filter(pl.col("patient_id").is_in(["P1", "P4"])))
    assert m.denominator == 2
    assert m.terms == ["fatigue", "nausea"]
    fat = _row(m.by_grade, term="fatigue")
    assert (fat["any_grade"], fat["pct_any_grade"], fat["grade_3"]) == (1, 50.0, 1)
    assert grade_matrix(TOX, PATIENTS.filter(pl.col("patient_id") == "P4")).denominator == 0


def test_by_group_percentages_and_missing_group():
    m = grade_matrix(TOX, ASSESSED, by="arm")
    g = m.by_group
    assert g.height == 3 * 3  # every term x group, zeros included
    assert sorted(g["group"].unique().to_list()) == ["A", "B", "missing"]
    a = _row(g, term="fatigue", group="A")
    assert (a["group_n"], a["n_any"], a["n_grade_3plus"]) == (2, 2, 1)
    assert (a["pct_any"], a["pct_grade_3plus"]) == (100.0, 50.0)
    b = _row(g, term="fatigue", group="B")  # P3 grade 1; P4 assessed, no toxicity
    assert (b["group_n"], b["n_any"], b["pct_any"]) == (2, 1, 50.0)
    miss = _row(g, term="nausea", group="missing")
    assert (miss["group_n"], miss["n_any"], miss["pct_any"]) == (1, 1, 100.0)
    zero = _row(g, term="pneumonitis", group="A")
    assert (zero["n_any"], zero["pct_any"]) == (0, 0.0)
    assert g["term"].unique(maintain_order=True).to_list() == m.terms
    unflagged = _row(grade_matrix(TOX, PATIENTS, by="arm").by_group, term="fatigue", group="B")
    assert (unflagged["group_n"], unflagged["pct_any"]) == (1, 100.0)  # P4 not in it


def test_without_by_single_group():
    m = grade_matrix(TOX, ASSESSED)
    assert m.by_group["group"].unique().to_list() == ["All patients"]
    assert _row(m.by_group, term="fatigue")["pct_any"] == pytest.approx(60.0)


def test_empty_cohort():
    m = grade_matrix(TOX, PATIENTS.head(0))
    assert m.denominator == 0
    assert m.by_grade.height == 0 and m.by_group.height == 0


def cell_texts(fig) -> dict[tuple[str, str], str]:
    """(row label, column label) -> the text drawn in that heatmap cell, line breaks read as
    spaces."""
    labels = fig.data[1]
    assert labels.mode == "text"
    return {(y, x): t.replace("<br>", " ")
            for x, y, t in zip(labels.x, labels.y, labels.text, strict=True)}


def test_heatmaps_cell_text_order_denominator_and_highlight():
    m = grade_matrix(TOX, ASSESSED, by="arm")
    fig = grade_heatmap(m, title="All phases")
    assert list(fig.data[0].y) == ["fatigue", "nausea", "pneumonitis"]
    assert cell_texts(fig)[("fatigue", "Any grade")] == "3 (60.0%)"
    assert "% of the 5 patients assessed for toxicity" in fig.layout.title.text
    assert len(fig.layout.shapes) == 4  # grade 3, 4, 5 and >=3 framed
    gfig = group_heatmap(m)
    assert cell_texts(gfig)[("fatigue", "A (n=2)<br>any")] == "2 (100.0%)"
    assert len(gfig.layout.shapes) == 3  # one ">=3" column per group
    assert "% of each group's patients assessed for toxicity (5 in all)" in gfig.layout.title.text


def test_heatmap_text_is_the_table_text():
    m = grade_matrix(TOX, PATIENTS, by="arm")
    table = shown_by_grade(m)
    cells = cell_texts(grade_heatmap(m))
    names = {"grade_1": "Grade 1", "grade_2": "Grade 2", "grade_3": "<b>Grade 3</b>",
             "any_grade": "Any grade", "grade_3plus": "<b>Grade ≥3</b>"}
    for row in table.iter_rows(named=True):
        for column, label in names.items():
            assert cells[(row["term"], label)] == row[column]
    assert cells[("fatigue", "Any grade")] == "3 (75.0%)"
    groups = shown_by_group(m)
    gcells = cell_texts(group_heatmap(m))
    for row in groups.iter_rows(named=True):
        assert gcells[(row["term"], f"{row['group']}<br>any")] == row["n_any"]
        assert gcells[(row["term"], f"{row['group']}<br><b>≥3</b>")] == row["n_grade_3plus"]


def test_many_groups_break_cell_text_and_name_each_group_once():
    arms = PATIENTS.with_columns(arm=pl.Series(["A long arm name", "B", "C", "D", "E"]))
    m = grade_matrix(TOX, arms.with_columns(toxicity_assessed=pl.lit(True)), by="arm")
    fig = group_heatmap(m)
    assert len(fig.data[0].x) == 10
    assert all("<br>(" in t for t in fig.data[1].text)  # "n<br>(x%)": fits 10 columns
    assert cell_texts(fig)[("fatigue", "A long arm name (n=1)<br>any")] == "1 (100.0%)"
    headers = [a.text for a in fig.layout.annotations]
    assert headers == ["A long arm name<br>(n=1)", "B (n=1)", "C (n=1)", "D (n=1)", "E (n=1)"]
    assert list(fig.layout.xaxis.ticktext) == ["any", "<b>≥3</b>"] * 5
    few = group_heatmap(grade_matrix(TOX, ASSESSED, by="arm"))
    assert not any("<br>" in t for t in few.data[1].text)
    assert fig.layout.height > few.layout.height  # taller rows for two lines, taller header


def test_cell_text_readable_on_a_slide():
    m = grade_matrix(TOX, ASSESSED)
    fig = grade_heatmap(m)
    assert fig.data[1].textfont.size >= fig.layout.font.size  # ticks use the layout font
    colours = dict(zip(zip(fig.data[1].y, fig.data[1].x, strict=True), fig.data[1].textfont.color,
                       strict=True))
    assert colours[("fatigue", "Any grade")] == LIGHT_TEXT  # the darkest cell: white text
    assert colours[("pneumonitis", "<b>Grade 5</b>")] == DARK_TEXT  # an empty cell
    assert [text_colour(v, 100.0) for v in (0, 20, 80, 100)] == [
        DARK_TEXT, DARK_TEXT, LIGHT_TEXT, LIGHT_TEXT]


@pytest.mark.parametrize(("n", "d", "text"), [
    (3, 233, "3 (1.3%)"), (1, 233, "1 (0.4%)"), (1, 8, "1 (12.5%)"), (1, 16, "1 (6.3%)"),
    (3, 60, "3 (5.0%)"), (0, 233, "0 (0.0%)"), (1, 4066, "1 (<0.1%)"), (1, 2000, "1 (0.1%)"),
    (7, 7, "7 (100.0%)"), (2, 0, "2"), (328689, 3999209, "328,689 (8.2%)"),
    (1204, 0, "1,204")])
def test_count_percent_one_decimal_halves_up_never_zero_for_a_count(n, d, text):
    assert count_percent(n, d) == text


def test_table_one_percentages_round_halves_up_and_never_show_zero_for_a_count():
    from cohort.tables import whole_percent

    assert [whole_percent(p) for p in (7.5, 12.5, 0.37, 0.0, 0.5, 99.6)] == [
        "8%", "13%", "<1%", "0%", "1%", "100%"]


def test_registry_sized_counts_read_with_thousands_separators():
    """A registry's heatmap cells and group headers read "328,689 (8.2%)" and "(n=3,999,209)",
    as every other count in the app does."""
    from cohort.toxicity import GradeCounts, matrix_from_counts

    counts = GradeCounts(
        worst=pl.DataFrame({"term": ["Fatigue"], "group": ["renal"], "grade": [1],
                            "n": [328689]}),
        sizes=pl.DataFrame({"group": ["renal"], "group_n": [3999209]}),
        cohort_n=10_000_000, assessed_by="record")
    matrix = matrix_from_counts(counts, "histology")
    assert shown_by_group(matrix).row(0) == ("Fatigue", "renal (n=3,999,209)",
                                             "328,689 (8.2%)", "0 (0.0%)")
    assert shown_by_grade(matrix)["grade_1"].to_list() == ["328,689 (8.2%)"]
