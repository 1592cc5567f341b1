"""Small-cell suppression (cohort.suppression): the rules, the Kaplan-Meier rounding against a
hand computation, and a configured dataset with min_cell = 11 opened in the app: no count from
1 to 10 in any table, figure, download or report of a small subgroup."""

from __future__ import annotations

import base64
import html
import math
import re
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import ui.tables
from cohort.analysis import SurvivalRequest, analyse_survival, cif_at, left_out_text
from cohort.datasets import load_dataset
from cohort.dose import suppressed_dlt_table
from cohort.figures.distributions import distribution_figure
from cohort.figures.km import km_figure
from cohort.report import ReportContent, build_report
from cohort.suppression import (
    WITHHELD,
    Line,
    attrition_text,
    protect,
    round_event_counts,
    roundmid_to,
    suppressed_count,
)
from cohort.survival import counts_at, event_counts, km_from_counts
from cohort.tables import table_one
from cohort.toxicity import grade_matrix, suppressed
from tests.apptest import ROOT, TIMEOUT, as_read, metric

M = 11


# --------------------------------------------------------------------------- the rules


def test_counts_of_one_to_ten_read_less_than_eleven_and_zero_stays():
    assert [suppressed_count(n, M) for n in (0, 1, 10, 11, 250)] == ["0", "<11", "<11", "11",
                                                                    "250"]
    assert suppressed_count(3, None) == "3"


def test_a_total_with_one_hidden_part_hides_the_next_smallest_part_too():
    values = {"a": 5, "b": 30, "c": 14, "d": 0, "total": 49}
    hidden = protect(values, [Line(("a", "b", "c", "d"), "total")], M)
    assert hidden == {"a", "c"}  # not d: a 0 gives nothing away
    assert protect(values, [Line(("a", "b", "c", "d"), "total")], None) == set()


def test_complementary_suppression_runs_until_no_line_has_a_single_hidden_cell():
    # two rows x two columns with row and column totals: hiding one cell forces a rectangle
    values = {"r1c1": 3, "r1c2": 40, "r2c1": 20, "r2c2": 50,
              "r1": 43, "r2": 70, "c1": 23, "c2": 90}
    lines = [Line(("r1c1", "r1c2"), "r1"), Line(("r2c1", "r2c2"), "r2"),
             Line(("r1c1", "r2c1"), "c1"), Line(("r1c2", "r2c2"), "c2")]
    assert protect(values, lines, M) == {"r1c1", "r1c2", "r2c1", "r2c2"}


def test_table_one_hides_small_cells_their_complements_and_their_percentages():
    patients = pl.DataFrame({"patient_id": [str(i) for i in range(40)],
                             "sex": ["female"] * 25 + ["male"] * 15,
                             "ecog": ["0"] * 22 + ["1"] * 12 + ["2"] * 6})
    table = table_one(patients, variables=["ecog"], min_cell=M)
    overall = dict(zip(table["statistic"], table["Overall (n=40)"], strict=True))
    assert overall == {"0": "22 (55%)", "1": WITHHELD, "2": "<11", "missing": "0"}
    by_sex = table_one(patients, by="sex", variables=["ecog"], min_cell=M)
    assert by_sex.columns[2:] == ["Overall (n=40)", "female (n=25)", "male (n=15)"]
    for column in by_sex.columns[2:]:
        assert all(_count_ok(cell) for cell in by_sex[column])


def test_attrition_never_shows_two_counts_a_hidden_count_apart():
    attrition = pl.DataFrame({"step": [0, 1, 2], "condition": ["All patients", "a", "b"],
                              "n": [500, 300, 295], "excluded": [0, 200, 5]})
    shown = attrition_text(attrition, M)
    assert shown["n"].to_list() == ["500", "–", "295"]
    assert shown["excluded"].to_list() == ["0", "–", "205"]
    assert attrition_text(attrition, None).equals(attrition)


def roundmid(x: int, m: int = M) -> int:
    """OpenSAFELY's roundmid_any, written as in analysis/time-rounding.R."""
    return math.ceil(x / m) * m - (m // 2) * (x != 0)


def test_roundmid_rounds_to_midpoints_of_multiples_of_the_threshold():
    assert [roundmid_to(x, M) for x in (0, 1, 6, 11, 12, 13, 22, 23, 33)] == [
        0, 6, 6, 6, 17, 17, 17, 28, 28]
    assert [roundmid_to(x, 10) for x in (0, 1, 10, 11)] == [0, 5, 5, 15]
    assert all(roundmid_to(x, M) == roundmid(x) for x in range(200))


def test_kaplan_meier_rounding_matches_a_hand_computation():
    """15 patients, 8 events, 7 censored. roundmid with 11: size 15 -> 17 at risk at time 0;
    cumulative events 1..8 -> 6 (one step of 6 at the first event, t = 1), cumulative
    censorings 1..7 -> 6 (a step of 6 at the first censoring, t = 2); at risk at t = 2:
    17 - 6 = 11, at the last time 17 - 12 = 5, whom the last row censors. S = 1 - 6/17.
    (The old ceiling rounding gave 22 at risk and S = 1/2.)"""
    times = [1.0, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    events = [1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1]
    counts = event_counts(pl.DataFrame({"t": times, "e": events}), "t", "e")
    rounded = round_event_counts(counts, M)
    assert rounded.select("time", "n_event", "n_censor").rows() == [
        (1.0, 6, 0), (2.0, 0, 6), (14.0, 0, 5)]
    km = km_from_counts(rounded)
    assert km["n_risk"].to_list() == [17, 11, 5]
    s, log_se = 1 - 6 / 17, math.sqrt(6 / (17 * 11))
    z = NormalDist().inv_cdf(0.975)
    half = z * log_se / math.log(s)
    lower = math.exp(-math.exp(math.log(-math.log(s)) - half))
    upper = math.exp(-math.exp(math.log(-math.log(s)) + half))
    first = km.row(0, named=True)
    assert first["survival"] == pytest.approx(s)
    assert first["std_err"] == pytest.approx(s * log_se)
    assert (first["lower"], first["upper"]) == (pytest.approx(lower), pytest.approx(upper))
    assert km["survival"].to_list() == pytest.approx([s, s, s])


def opensafely_round_km(times: list[float], events: list[int], m: int = M
                        ) -> dict[float, tuple[int, int, int, float]]:
    """OpenSAFELY's round_km ("constant") as its R code reads, one row per distinct time:
    time -> (n.risk, n.event, n.censor, surv)."""
    grid = sorted(set(times))
    n = len(times)
    rows, cml_event, cml_censor, surv, before = {}, 0, 0, 1.0, 0
    for t in grid:
        cml_event += sum(1 for ti, e in zip(times, events, strict=True) if ti == t and e == 1)
        cml_censor += sum(1 for ti, e in zip(times, events, strict=True) if ti == t and e != 1)
        r_event, r_censor = roundmid(cml_event, m), roundmid(cml_censor, m)
        n_risk = roundmid(n, m) - before
        previous = rows[max(rows)] if rows else None
        n_event = r_event - (previous[4] if previous else 0)
        n_censor = r_censor - (previous[5] if previous else 0)
        surv *= 1 - n_event / n_risk
        rows[t] = (n_risk, n_event, n_censor, surv, r_event, r_censor)
        before = r_event + r_censor
    return {t: r[:4] for t, r in rows.items()}


@pytest.mark.parametrize("seed", range(6))
def test_kaplan_meier_rounding_is_opensafelys_round_km(seed):
    """At every time the rounded curve keeps, its number at risk, events and survival are
    those of round_km written out from its R code (random groups of 11 to 60 patients)."""
    rng = np.random.default_rng(seed)
    while True:  # a draw where round_km's number at risk stays >= 0 (else: capped, below)
        size = int(rng.integers(11, 61))
        times = rng.integers(1, 40, size).astype(float).tolist()
        events = rng.integers(0, 3, size).tolist()  # 2 (competing): censored in Kaplan-Meier
        n_events = sum(1 for e in events if e == 1)
        if roundmid(n_events) + roundmid(size - n_events) <= roundmid(size):
            break
    expected = opensafely_round_km(times, events)
    km = km_from_counts(round_event_counts(
        event_counts(pl.DataFrame({"t": times, "e": events}), "t", "e"), M))
    assert km["n_risk"][0] == roundmid(size)
    for row in km.iter_rows(named=True):
        n_risk, n_event, _, surv = expected[row["time"]]
        assert (row["n_risk"], row["n_event"]) == (n_risk, n_event)
        assert row["survival"] == pytest.approx(surv)


def test_rounded_exits_that_pass_the_rounded_size_are_capped_at_a_rounded_value():
    """22 patients -> 17; 12 events -> 17, 10 censorings -> 6: 23 rounded exits of 17. The
    censorings are capped (to 0, the rounded value that fits): nobody at risk below 0."""
    times = [float(t) for t in range(1, 23)]
    events = [1] * 12 + [0] * 10
    km = km_from_counts(round_event_counts(
        event_counts(pl.DataFrame({"t": times, "e": events}), "t", "e"), M))
    assert km.select("n_risk", "n_event", "n_censor").rows() == [(17, 6, 0), (11, 11, 0)]
    assert km["survival"][-1] == 0.0
    competing = event_counts(pl.DataFrame({"t": times, "e": [1] * 12 + [2] * 10}), "t", "e")
    rounded = round_event_counts(competing, M, competing=True)
    assert rounded.select("n_event", "n_competing", "n_censor").sum().row(0) == (17, 0, 0)
    # 34 patients -> 39: 12 events -> 17 and 10 competing -> 6 leave 16 for 12 censorings
    # (-> 17): they are capped at 6, the rounded value below 16, and the 10 left over are
    # censored at the last time
    mixed = event_counts(pl.DataFrame({"t": [float(t) for t in range(34)],
                                       "e": [1] * 12 + [2] * 10 + [0] * 12}), "t", "e")
    rounded = round_event_counts(mixed, M, competing=True)
    assert rounded.select("n_event", "n_competing", "n_censor").sum().row(0) == (17, 6, 16)
    assert rounded.filter(pl.col("n_censor") > 0).select("time", "n_censor").rows() == [
        (22.0, 6), (33.0, 10)]


def test_kaplan_meier_rounding_keeps_cumulative_counts_rounded_and_drops_small_groups():
    patients = load_dataset("oligomet-demo").patients.head(300).with_columns(
        g=pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("tiny")).otherwise(pl.lit("big")))
    counts = event_counts(patients, "os_months", "os_event", "g")
    rounded = round_event_counts(counts, M)
    assert rounded["group"].unique().to_list() == ["big"]
    km = km_from_counts(rounded)
    big = int(counts.filter(pl.col("group") == "big")["n_exit"].sum())
    rounded_values = {roundmid(x) for x in range(400)}
    assert set(km["n_event"].cum_sum()) <= rounded_values
    assert set(km["n_censor"].cum_sum()[:-1]) <= rounded_values
    assert km["n_risk"][0] == roundmid(big) and big > 250
    assert (km["n_risk"] >= km["n_event"]).all() and km["survival"].is_between(0, 1).all()


def aalen_johansen(rows: list[tuple[int, int, int]]) -> list[float]:
    """CIF of cause 1 at each row (n at risk, cause-1 events, competing events), by hand."""
    cif, surv, out = 0.0, 1.0, []
    for n, d1, d2 in rows:
        cif += surv * d1 / n
        surv *= 1 - (d1 + d2) / n
        out.append(cif)
    return out


def test_cumulative_incidence_under_suppression_is_aalen_johansen_of_the_rounded_counts():
    """13 patients -> 17 at risk. Cumulative events 1,2 | 3,4 -> 6 (t = 1), competing 1..3 ->
    6 (t = 2), censorings 1..6 -> 6 (t = 3); the 17 - 18 = -1 left over cannot be: the
    censorings are capped at 0 (17 - 6 - 6 = 5 fits no rounded value above 0) and the 5 left
    are censored at the last time. AJ on (17, 6, 0), (11, 0, 6), (5, 0, 0)."""
    times = [1.0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]
    events = [1, 1, 2, 2, 0, 1, 2, 0, 0, 1, 0, 0, 0]
    data = pl.DataFrame({"t": times, "e": events})
    result = analyse_survival(data, SurvivalRequest("t", "e", unit="months"), M)
    rows = result.cif.select("time", "n_risk", "n_event", "n_competing", "n_censor").rows()
    assert rows == [(1.0, 17, 6, 0, 0), (2.0, 11, 0, 6, 0), (10.0, 5, 0, 0, 5)]
    expected = aalen_johansen([(17, 6, 0), (11, 0, 6), (5, 0, 0)])
    assert result.cif["cif"].to_list() == pytest.approx(expected)
    assert expected[-1] == pytest.approx(6 / 17)
    one_minus_km = cif_at(result, (5.0,))["one_minus_km"].item()
    assert one_minus_km == pytest.approx(6 / 17) and result.competing


def test_the_figure_states_the_rounded_size_its_curve_starts_from():
    """13 patients: the figure says n = 17 (rounded), its curve's number at risk at time 0
    (the old rounding said n = 13 beside 22 at risk)."""
    rng = np.random.default_rng(3)
    data = pl.DataFrame({"t": rng.exponential(20, 13).round(1), "e": rng.integers(0, 2, 13)})
    result = analyse_survival(data, SurvivalRequest("t", "e", unit="months"), M)
    assert result.figure_n == "17 (rounded)"
    figure = km_figure(result.km)
    assert {t.name for t in figure.data if t.name and "censored" not in t.name} == {
        "All (n=17)"}
    risk = [tr for tr in figure.data if tr.mode == "text"][0]
    assert risk.text[0] == "17"
    assert analyse_survival(data, SurvivalRequest("t", "e", unit="months")).figure_n == 13


def test_toxicity_matrix_and_heatmap_show_no_small_count():
    cohort = load_dataset("oligomet-demo")
    patients = cohort.patients.head(120)
    matrix = suppressed(grade_matrix(cohort.toxicities, patients, by="sex"), M)
    for column in ("grade_1", "grade_2", "grade_3", "any_grade", "grade_3plus"):
        assert all(_count_ok(v) for v in matrix.by_grade[column])
        hidden = matrix.by_grade.filter(~pl.col(column).str.contains(r"^\d+$"))
        assert hidden[f"pct_{column}"].is_null().all()
    assert all(_count_ok(v) for v in matrix.by_group["n_any"])


def test_distribution_bars_under_the_threshold_are_not_drawn_nor_their_complement():
    """b (4) is small; with n = 46 shown, a and c drawn would give it away: c goes too."""
    values = pl.Series("histology", ["a"] * 30 + ["b"] * 4 + ["c"] * 12)
    figure = distribution_figure(values, "histology", M)
    assert list(figure.data[0].y) == ["a"] and list(figure.data[0].x) == [30]
    assert "2 bars withheld (small-cell suppression)" in figure.layout.title.text
    with_missing = pl.Series("sex", ["female"] * 30 + ["male"] * 12 + [None] * 3)
    assert list(distribution_figure(with_missing, "sex", M).data[0].y) == ["female"]


def test_kmunicate_numbers_come_from_the_rounded_counts():
    """At each tick: cumulative events and censored before it are rounded sums (the censored
    after the last time: what the rounded events leave of the rounded size), at risk the
    rounded size minus both; they add up to the group's rounded size (13 patients -> 17)."""
    rng = np.random.default_rng(7)
    patients = pl.DataFrame({"t": rng.exponential(20, 13).round(1), "e": rng.integers(0, 2, 13)})
    km = km_from_counts(round_event_counts(event_counts(patients, "t", "e"), M))
    numbers = counts_at(km, [0, 6, 12, 24, 36, 60])
    rounded_values = {roundmid(x) for x in range(40)}
    last = float(patients["t"].max())
    inside = numbers.filter(pl.col("time") <= last)
    assert set(inside["events"]) | set(inside["censored"]) <= rounded_values, numbers
    assert numbers["at_risk"][0] == 17
    assert set(numbers.select(pl.sum_horizontal("at_risk", "events", "censored")).to_series()
               ) == {17}


def test_distribution_levels_and_bars_under_the_threshold_are_not_drawn():
    """ECOG 2 (4 patients) is small and, with n shown, ECOG 1 would give it away: neither bar
    is drawn, both keep their place on the axis with '<11' / 'withheld' as text and hover."""
    ecog = pl.Series("ecog", [0] * 20 + [1] * 15 + [2] * 4)
    figure = distribution_figure(ecog, "ecog", M)
    assert list(figure.data[0].x) == ["0", "1", "2", "3", "4"]
    assert list(figure.data[0].y) == [20, 0, 0, 0, 0]
    assert list(figure.data[0].text) == ["20", WITHHELD, "<11", "0", "0"]
    assert list(figure.data[0].customdata) == list(figure.data[0].text)
    assert "2 bars withheld (small-cell suppression)" in figure.layout.title.text
    sites = pl.Series("treated_sites", [["lung"]] * 14 + [["liver", "bone"]] * 3)
    bars = distribution_figure(sites, "treated_sites", M).data[0]
    assert list(bars.y) == ["lung"] and list(bars.x) == [14]
    assert not _small_in_figure(distribution_figure(ecog, "ecog", M))


# --------------------------------------------------------------------------- in the app

COUNT = re.compile(r"^\s*(\d[\d,]*)(\s*(<br>)?\(\s*(<1|<0\.1|\d+(\.\d)?)%\))?\s*$")


def _count_ok(cell: object) -> bool:
    """A count cell shows no count from 1 to 10 ('7', '7 (54%)', '7 (53.8%)', '7<br>(53.8%)');
    other text passes."""
    if cell is None:
        return True
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return not (0 < cell < M) or not float(cell).is_integer()
    match = COUNT.match(str(cell))
    return match is None or not 0 < int(match.group(1).replace(",", "")) < M


#: Columns (as the tables are read on screen and exported) that hold counts of patients.
COUNT_COLUMNS = {"n", "events", "excluded", "observed", "n_risk", "at risk", "under_follow_up",
                 "still followed (censored)", "group_n", "n_any", "n_grade_3plus",
                 "grade_1", "grade_2", "grade_3", "grade_4", "grade_5", "any_grade",
                 "grade_3plus", "Any grade", "Grade ≥3", "Grade 1", "Grade 2", "Grade 3",
                 "Grade 4", "Grade 5", "multi_n", "multi_events", "uni_n", "uni_events"}
NOT_COUNTS = {"median (IQR)", "range"}


def _small_counts(frame: pl.DataFrame) -> list[tuple[str, object]]:
    """Cells of ``frame``'s count columns (Table 1: its group columns, count rows) that show a
    count from 1 to 10 (a rounded count too: a curve's numbers at risk)."""
    found = []
    table_one_like = "statistic" in frame.columns
    for column in frame.columns:
        counted = column in COUNT_COLUMNS or (table_one_like and "(n=" in column)
        if not counted:
            continue
        rows = frame if not table_one_like else frame.filter(
            ~pl.col("statistic").is_in(NOT_COUNTS))
        found += [(column, v) for v in rows[column].to_list() if not _count_ok(v)]
    if table_one_like:
        found += [(c, c) for c in frame.columns if re.search(r"\(n=([1-9]|10)\)", c)]
    return found


def _figure_texts(figure) -> list[str]:
    """Every text of a figure a reader sees: trace text, hover text and templates, annotations,
    tick labels, the title."""
    texts: list[str] = []
    for trace in figure.data:
        for name in ("text", "hovertext", "hovertemplate", "name", "customdata"):
            value = getattr(trace, name, None)
            if value is None:
                continue
            flat = value if isinstance(value, tuple | list) else [value]
            for item in flat:
                texts += [str(x) for x in (item if isinstance(item, tuple | list) else [item])]
    texts += [a.text for a in figure.layout.annotations if a.text]
    for axis in (figure.layout.xaxis, figure.layout.yaxis):
        texts += [str(t) for t in (axis.ticktext or ())]
    texts.append(figure.layout.title.text or "")
    return texts


SMALL_N = re.compile(r"\(?\bn\s*=\s*([1-9]|10)\b(?![\d.,])")


def _values(array) -> list:
    """A figure's array as a list (plotly stores numeric arrays as base64 'bdata' dicts)."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array) if array is not None else []


def _rounded_curve(figure) -> bool:
    """A curve drawn from counts rounded as OpenSAFELY's round_km (its caption says so)."""
    return any("OpenSAFELY kaplan-meier-function" in (a.text or "").replace("<br>", " ")
               for a in figure.layout.annotations)


def _small_in_figure(figure) -> list[str]:
    bad = [t for t in _figure_texts(figure) if SMALL_N.search(t)]
    for trace in figure.data:
        if trace.type == "scatter" and trace.mode == "text":  # risk tables
            bad += [t for t in _values(trace.text) if not _count_ok(t)]
        if trace.type == "heatmap":  # cell texts: its customdata (drawn by a text trace)
            cells = trace.text if trace.text is not None else trace.customdata
            bad += [t for row in cells or () for t in row if not _count_ok(t.split(" (")[0])]
        if trace.type == "scatter" and "n = %{marker.size}" in (trace.hovertemplate or ""):
            bad += [str(n) for n in _values(trace.marker.size) if not _count_ok(int(n))]
        if trace.type == "bar":
            heights = trace.x if trace.orientation == "h" else trace.y
            bad += [str(h) for h in _values(heights) if not _count_ok(h)]
    return bad


READ = ["patient_id", "study", "age_years", "sex", "histology", "ecog", "rt_technique",
        "regimen", "rt_total_dose_gy", "rt_fractions", "os_months", "os_event", "pfs_months",
        "pfs_event", "lc_months", "lc_event"]


@pytest.fixture
def registry(monkeypatch, tmp_path):
    """A configured registry with min_cell = 11: 51 patients of the demo cohort (clear cell RCC
    26, breast 13, lung carcinoma 7, other carcinoma 5) with their toxicities; local control
    with deaths first coded 2 (breast: 4 local failures, 2 deaths first, 7 censored)."""
    cohort = load_dataset("oligomet-demo")
    patients = cohort.patients
    chosen = pl.concat([
        patients.filter(pl.col("histology") == h).head(n)
        for h, n in (("clear cell RCC", 26), ("breast carcinoma", 13), ("lung carcinoma", 7),
                     ("other carcinoma", 5))])
    chosen = chosen.select(READ)
    chosen.write_parquet(tmp_path / "patients.parquet")
    cohort.toxicities.filter(pl.col("patient_id").is_in(chosen["patient_id"].implode())
                             ).write_parquet(tmp_path / "toxicities.parquet")
    mapping = ", ".join(f'{c} = "{c}"' for c in READ)
    (tmp_path / "oligomet.toml").write_text(
        '[datasets.reg]\ntitle = "Registry reg"\nprovenance = "Registry export."\n'
        'patients = "patients.parquet"\ntoxicities = "toxicities.parquet"\nmin_cell = 11\n'
        f'reading = {{ mapping = {{ {mapping} }}, time_unit = "months", '
        'event_codings = { os_event = "0/1", pfs_event = "0/1", lc_event = "0/1" } }\n')
    monkeypatch.setenv("OLIGOMET_CONFIG", str(tmp_path / "oligomet.toml"))
    return chosen


@pytest.fixture
def downloads(monkeypatch) -> list[tuple[bytes, bytes]]:
    """The CSV and .xlsx bytes of every table's download buttons, as the app wrote them."""
    written: list[tuple[bytes, bytes]] = []
    original = ui.tables.download_files

    def recording(frame: pl.DataFrame, sheet: str) -> tuple[bytes, bytes]:
        files = original(frame, sheet)
        written.append(files)
        return files

    monkeypatch.setattr(ui.tables, "download_files", recording)
    return written


def _check_downloads(written: list[tuple[bytes, bytes]]) -> None:
    assert written
    for csv, xlsx in written:
        assert not _small_counts(pl.read_csv(csv, infer_schema=False))
        assert not _small_counts(pl.read_excel(xlsx, infer_schema_length=0))


def _open(screen: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params["ds"] = "reg"
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(screen).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="dataset").value == "reg"
    return at


def _shown(at: AppTest):
    return at.session_state["_shown_this_run"]


def _check_screen(at: AppTest) -> str:
    """Assert no small count in the screen's tables (as shown and as recorded for the report
    and downloads) and figures; returns the report's HTML."""
    for frame in at.dataframe:
        assert not _small_counts(pl.from_pandas(frame.value)), frame.value
    shown = _shown(at)
    for title, frame in shown.tables:
        assert not _small_counts(frame), title
    for title, figure in shown.figures:
        assert not _small_in_figure(figure), (title, _small_in_figure(figure))
    page_text = " ".join(as_read(str(e.value)) for e in [*at.markdown, *at.caption, *at.info,
                                                  *at.warning, *at.metric])
    assert not SMALL_N.search(page_text), SMALL_N.search(page_text)
    report = build_report(ReportContent("t", "c", "f", "p", figures=shown.figures,
                                        tables=shown.tables, methods=shown.notes))
    readable = re.sub(r"<script.*?</script>", "", report, flags=re.S)  # figures: checked above
    assert not SMALL_N.search(readable), SMALL_N.search(readable)
    return report


def test_a_subgroup_of_seven_shows_no_count_under_eleven(registry, downloads):
    at = _open("pages/cohort.py", **{"f.histology": "lung carcinoma", "cohort.by": "sex"})
    assert metric(at, "Patients in cohort") == "<11"
    _check_screen(at)
    attrition = pl.from_pandas(at.dataframe[0].value)
    assert attrition["n"].to_list() == ["51", "<11"]
    for screen in ("pages/survival.py", "pages/toxicity.py"):
        _check_screen(_open(screen, **{"f.histology": "lung carcinoma"}))
    _check_downloads(downloads)


def test_a_stratified_curve_draws_no_group_under_eleven_and_rounds_its_counts(registry,
                                                                              downloads):
    at = _open("pages/survival.py", **{"survival.endpoint": "PFS", "survival.by": "histology",
                                        "survival.kmunicate": "true"})
    _check_screen(at)
    title, figure = _shown(at).figures[0]
    names = {t.name for t in figure.data if t.name and "censored" not in t.name}
    # each group's n is its rounded size (26 -> 28, 13 -> 17), its number at risk at time 0
    assert {n for n in names if "(n=" in n} == {"clear cell RCC (n=28)",
                                                 "breast carcinoma (n=17)"}
    assert "OpenSAFELY" in figure.layout.annotations[-1].text
    at_risk_first = [tr.text[0] for tr in figure.data if tr.mode == "text"][::3]
    assert at_risk_first == ["17", "28"]  # breast carcinoma first (in level order)
    assert "n = 45 (rounded)" in as_read(figure.layout.annotations[-1].text)
    _check_downloads(downloads)
    notes = " ".join(as_read(str(i.value)) for i in at.info)
    assert "'lung carcinoma', 'other carcinoma'" in notes and "fewer than 11" in notes
    shown = dict(_shown(at).tables)
    hazard_groups = {g for title, t in shown.items() if "Hazard ratios" in title
                     for g in t["group"]}
    logrank_groups = {g for title, t in shown.items() if "Log-rank" in title for g in t["group"]}
    assert hazard_groups == logrank_groups == {"clear cell RCC", "breast carcinoma"}


def test_cox_dose_and_toxicity_by_group_show_no_count_under_eleven(registry, downloads):
    _check_screen(_open("pages/toxicity.py", **{"toxicity.by": "histology"}))
    cox = _open("pages/cox.py", **{"cox.endpoint": "PFS", "cox.covariates": ["histology", "sex"]})
    assert _shown(cox).figures, "the forest plot is drawn"
    _check_screen(cox)
    dose = _open("pages/dose.py", **{"dose.by": "histology"})
    _check_screen(dose)
    incidence = [f for title, f in _shown(dose).figures if "local failure by BED10" in title]
    assert len(incidence) == 1, "cumulative incidence drawn from rounded counts"
    assert _rounded_curve(incidence[0])
    at_risk_first = [tr.text[0] for tr in incidence[0].data if tr.mode == "text"]
    assert all(int(n) % M == M - M // 2 for n in at_risk_first), at_risk_first
    _check_downloads(downloads)


def test_a_small_subgroups_competing_endpoint_shows_aalen_johansen_of_rounded_counts(
        registry, downloads):
    """Breast carcinoma, local control: 4 local failures, 2 deaths first, 7 censored, 13
    patients. Rounded: 6, 6 and 6 of 17, one more than 17: the censorings are capped (0 fits)
    and the 5 left are censored at the last time. Whichever comes first, Aalen-Johansen then
    ends at 6/17 (failures first: 6/17; deaths first: 11/17 * 6/11). The old code showed no
    cumulative incidence; counting the deaths as censorings would give 6/11 or 6/17."""
    breast = registry.filter(pl.col("histology") == "breast carcinoma")
    assert breast["lc_event"].value_counts().sort("lc_event").rows() == [(0, 7), (1, 4), (2, 2)]
    at = _open("pages/survival.py", **{"f.histology": "breast carcinoma",
                                        "survival.endpoint": "LC"})
    _check_screen(at)
    figures = dict(_shown(at).figures)
    incidence = next(f for title, f in figures.items() if title.startswith("Cumulative"))
    assert _rounded_curve(incidence)
    curve = next(tr for tr in incidence.data if tr.mode == "lines" and tr.showlegend is False
                 and "(n=17)" in (tr.name or "") and tr.fill is None)
    assert max(_values(curve.y)) == pytest.approx(6 / 17)
    assert [tr.text[0] for tr in incidence.data if tr.mode == "text"] == ["17"]
    assert "n = 17 (rounded)" in as_read(incidence.layout.annotations[-1].text)
    methods = " ".join(as_read(str(c.value)) for c in at.caption)
    assert "Aalen-Johansen" in methods and "midpoints of multiples of 11" in methods
    _check_downloads(downloads)


def test_dose_levels_under_eleven_are_left_out_and_hidden_dlt_counts_lose_their_rate():
    table = pl.DataFrame({"dose_level": [1, 2, 3], "n": [6, 14, 12], "dlt": [1, 3, 11],
                          "rate": [1 / 6, 3 / 14, 11 / 12], "lower": [0.0, 0.05, 0.6],
                          "upper": [0.6, 0.5, 0.99]})
    shown = suppressed_dlt_table(table, M)
    assert shown.select("dose_level", "n", "dlt").rows() == [(2, "14", "<11"), (3, "12", "withheld")]
    assert shown["rate"].is_null().all()


def test_a_small_subgroups_kmunicate_table_and_distribution_bars_show_no_count_under_eleven(
        registry, downloads):
    """Breast carcinoma (13 patients): the KMunicate table (at risk, events, censored) reads
    round_km's numbers (written out from its R code) and adds up to the n the figure states,
    17; no distribution chart draws a bar or n under 11."""
    at = _open("pages/survival.py", **{"f.histology": "breast carcinoma",
                                        "survival.kmunicate": "true"})
    _check_screen(at)
    _, figure = _shown(at).figures[0]
    rows = [tr for tr in figure.data if tr.mode == "text"]
    assert len(rows) == 3, "at risk, events and censored"
    ticks = list(rows[0].x)
    shown = [[html.unescape(t) for t in tr.text] for tr in rows]
    breast = registry.filter(pl.col("histology") == "breast carcinoma")
    times, events = breast["os_months"].to_list(), breast["os_event"].to_list()
    reference = opensafely_round_km(times, events)
    at_risk = [next((reference[t][0] for t in sorted(reference) if t >= tick), 0)
               for tick in ticks]
    events_before = [roundmid(sum(e == 1 for t, e in zip(times, events, strict=True)
                                  if t < tick)) for tick in ticks]
    censored_before = [17 - a - e for a, e in zip(at_risk, events_before, strict=True)]
    assert shown == [[suppressed_count(n, M) for n in row]
                     for row in (at_risk, events_before, censored_before)]
    assert any(0 < n < M for n in at_risk + events_before), "the rounding gave small numbers"
    assert "n = 17 (rounded)" in as_read(figure.layout.annotations[-1].text)
    annotations = " ".join(a.text for a in figure.layout.annotations)
    assert "censored" in annotations.lower() and "OpenSAFELY" in annotations
    cohort = _open("pages/cohort.py", **{"f.histology": "breast carcinoma"})
    _check_screen(cohort)
    charts = [f for title, f in _shown(cohort).figures if any(t.type == "bar" for t in f.data)]
    assert charts
    heights = [h for f in charts for t in f.data
               for h in _values(t.x if t.orientation == "h" else t.y) if h is not None]
    assert heights and not [h for h in heights if 0 < h < M]
    assert any("withheld" in (f.layout.title.text or "") for f in charts)
    _check_downloads(downloads)


def test_a_small_number_left_out_of_the_survival_analysis_is_not_given_away_by_the_analysed_count():
    """20 patients, 3 without a follow-up time: '17 analysed' beside the cohort's 20 would
    tell the 3."""
    patients = pl.DataFrame({"os_months": [float(t) for t in range(1, 18)] + [None] * 3,
                             "os_event": [1, 0] * 10})
    result = analyse_survival(patients, SurvivalRequest("os_months", "os_event"), M)
    text = left_out_text(result, patients.height)
    assert "17" not in text and "3 " not in text and "<11" in text, text
    without = analyse_survival(patients, SurvivalRequest("os_months", "os_event"))
    assert left_out_text(without, patients.height).startswith("17 of 20 patients analysed")
