"""cohort.toxicity on a small hand-computed example."""

from __future__ import annotations

import polars as pl
import pytest

from cohort.toxicity import grade_matrix, worst_grade

PATIENTS = pl.DataFrame({
    "patient_id": ["P1", "P2", "P3", "P4", "P5"],
    "arm": ["A", "A", "B", "B", None],
})
# P4 has no toxicity; P9 is not in the cohort and must be ignored.
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


def test_by_grade_all_phases():
    m = grade_matrix(TOX, PATIENTS)
    assert m.denominator == 5  # P4 without toxicity counts, P9 outside the cohort does not
    assert m.terms == ["fatigue", "nausea", "pneumonitis"]
    fat = _row(m.by_grade, term="fatigue")
    assert [fat[f"grade_{g}"] for g in range(1, 6)] == [1, 1, 1, 0, 0]
    assert (fat["any_grade"], fat["grade_3plus"]) == (3, 1)
    assert fat["pct_any_grade"] == pytest.approx(60.0)
    assert fat["pct_grade_3plus"] == pytest.approx(20.0)
    assert fat["pct_grade_1"] == pytest.approx(20.0)
    pneu = _row(m.by_grade, term="pneumonitis")
    assert (pneu["grade_3"], pneu["grade_4"], pneu["any_grade"]) == (1, 0, 1)  # P9's 4 ignored


def test_by_grade_phase_switch():
    acute = grade_matrix(TOX, PATIENTS, phase="acute")
    assert acute.terms == ["fatigue", "nausea"]
    fat = _row(acute.by_grade, term="fatigue")
    assert [fat[f"grade_{g}"] for g in range(1, 6)] == [2, 1, 0, 0, 0]
    assert fat["grade_3plus"] == 0
    late = grade_matrix(TOX, PATIENTS, phase="late")
    assert late.terms == ["fatigue", "pneumonitis"]  # tie on frequency: alphabetical
    assert late.denominator == 5
    assert _row(late.by_grade, term="fatigue")["pct_grade_3plus"] == pytest.approx(20.0)


def test_filtered_cohort_denominator_and_rows():
    m = grade_matrix(TOX, PATIENTS.filter(pl.col("patient_id").is_in(["P1", "P4"])))
    assert m.denominator == 2
    assert m.terms == ["fatigue", "nausea"]
    fat = _row(m.by_grade, term="fatigue")
    assert (fat["any_grade"], fat["pct_any_grade"], fat["grade_3"]) == (1, 50.0, 1)


def test_by_group_percentages_and_missing_group():
    m = grade_matrix(TOX, PATIENTS, by="arm")
    g = m.by_group
    assert g.height == 3 * 3  # every term x group, zeros included
    assert sorted(g["group"].unique().to_list()) == ["A", "B", "missing"]
    a = _row(g, term="fatigue", group="A")
    assert (a["group_n"], a["n_any"], a["n_grade_3plus"]) == (2, 2, 1)
    assert (a["pct_any"], a["pct_grade_3plus"]) == (100.0, 50.0)
    b = _row(g, term="fatigue", group="B")  # P3 grade 1; P4 no toxicity but in denominator
    assert (b["group_n"], b["n_any"], b["pct_any"]) == (2, 1, 50.0)
    miss = _row(g, term="nausea", group="missing")
    assert (miss["group_n"], miss["n_any"], miss["pct_any"]) == (1, 1, 100.0)
    zero = _row(g, term="pneumonitis", group="A")
    assert (zero["n_any"], zero["pct_any"]) == (0, 0.0)
    assert g["term"].unique(maintain_order=True).to_list() == m.terms


def test_without_by_single_group():
    m = grade_matrix(TOX, PATIENTS)
    assert m.by_group["group"].unique().to_list() == ["All patients"]
    assert _row(m.by_group, term="fatigue")["pct_any"] == pytest.approx(60.0)


def test_empty_cohort():
    m = grade_matrix(TOX, PATIENTS.head(0))
    assert m.denominator == 0
    assert m.by_grade.height == 0 and m.by_group.height == 0


def test_heatmaps_cell_text_order_and_highlight():
    from cohort.figures.toxicity import grade_heatmap, group_heatmap

    m = grade_matrix(TOX, PATIENTS, by="arm")
    fig = grade_heatmap(m.by_grade, title="All phases", denominator=m.denominator)
    hm = fig.data[0]
    assert list(hm.y) == ["fatigue", "nausea", "pneumonitis"]
    assert hm.text[0][5] == "3 (60%)"  # fatigue, any grade
    assert len(fig.layout.shapes) == 4  # grade 3, 4, 5 and >=3 framed
    gfig = group_heatmap(m.by_group)
    assert gfig.data[0].text[0][0] == "2 (100%)"  # fatigue, arm A, any grade
    assert len(gfig.layout.shapes) == 3  # one ">=3" column per group


def test_cell_percentages_round_halves_up_and_never_show_zero_for_a_count():
    from cohort.tables import whole_percent

    assert [whole_percent(p) for p in (7.5, 12.5, 0.37, 0.0, 0.5, 99.6)] == [
        "8%", "13%", "<1%", "0%", "1%", "100%"]
