"""Small-cell suppression (cohort.suppression): the rules, the Kaplan-Meier rounding against a
hand computation, and a configured dataset with min_cell = 11 opened in the app: no count from
1 to 10 in any table, figure, download or report of a small subgroup."""

from __future__ import annotations

import base64
import math
import re
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import ui.tables
from cohort.datasets import load_dataset
from cohort.dose import suppressed_dlt_table
from cohort.figures.distributions import distribution_figure
from cohort.report import ReportContent, build_report
from cohort.suppression import (
    WITHHELD,
    Line,
    attrition_text,
    protect,
    round_event_counts,
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


def test_kaplan_meier_rounding_matches_a_hand_computation():
    """15 patients, 8 events, 7 censored: OpenSAFELY's round_km with 11 gives one step of 11
    events out of 22 at risk at the first event time, then 11 censored; S = 0.5."""
    times = [1.0, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    events = [1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1]
    counts = event_counts(pl.DataFrame({"t": times, "e": events}), "t", "e")
    rounded = round_event_counts(counts, M)
    assert rounded.select("time", "n_event", "n_censor").rows() == [(1.0, 11, 0), (2.0, 0, 11)]
    km = km_from_counts(rounded)
    assert km["n_risk"].to_list() == [22, 11]
    s, log_se = 1 - 11 / 22, math.sqrt(11 / (22 * 11))
    z = NormalDist().inv_cdf(0.975)
    half = z * log_se / math.log(s)
    lower = math.exp(-math.exp(math.log(-math.log(s)) - half))
    upper = math.exp(-math.exp(math.log(-math.log(s)) + half))
    first = km.row(0, named=True)
    assert first["survival"] == pytest.approx(s)
    assert first["std_err"] == pytest.approx(s * log_se)
    assert (first["lower"], first["upper"]) == (pytest.approx(lower), pytest.approx(upper))


def test_kaplan_meier_rounding_keeps_counts_multiples_of_the_threshold_and_drops_small_groups():
    patients = load_dataset("oligomet-demo").patients.head(300).with_columns(
        g=pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("tiny")).otherwise(pl.lit("big")))
    rounded = round_event_counts(event_counts(patients, "os_months", "os_event", "g"), M)
    assert rounded["group"].unique().to_list() == ["big"]
    km = km_from_counts(rounded)
    assert all(n % M == 0 for n in km["n_risk"]) and all(n % M == 0 for n in km["n_event"])
    assert km["survival"].is_between(0, 1).all()


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
    """At risk, cumulative events and censored at each tick are steps of the rounded sums:
    multiples of 11, adding up to the group's rounded size (13 patients -> 22)."""
    rng = np.random.default_rng(7)
    patients = pl.DataFrame({"t": rng.exponential(20, 13).round(1), "e": rng.integers(0, 2, 13)})
    km = km_from_counts(round_event_counts(event_counts(patients, "t", "e"), M))
    numbers = counts_at(km, [0, 6, 12, 24, 36, 60])
    values = numbers.select("at_risk", "events", "censored").to_numpy().ravel().tolist()
    assert all(v % M == 0 for v in values), numbers
    assert set(numbers.select(pl.sum_horizontal("at_risk", "events", "censored")).to_series()
               ) == {22}


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
    count from 1 to 10."""
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
        "pfs_event"]


@pytest.fixture
def registry(monkeypatch, tmp_path):
    """A configured registry with min_cell = 11: 51 patients of the demo cohort (clear cell RCC
    26, breast 13, lung carcinoma 7, other carcinoma 5) with their toxicities."""
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
        'event_codings = { os_event = "0/1", pfs_event = "0/1" } }\n')
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
    assert {n.split(" (n=")[0] for n in names if "(n=" in n} == {"clear cell RCC",
                                                                    "breast carcinoma"}
    assert "OpenSAFELY" in figure.layout.annotations[-1].text
    risk = [int(t) for tr in figure.data if tr.mode == "text" for t in tr.text]
    assert risk and all(n % M == 0 for n in risk)
    _check_downloads(downloads)
    notes = " ".join(as_read(str(i.value)) for i in at.info)
    assert "'lung carcinoma', 'other carcinoma'" in notes and "fewer than 11" in notes


def test_cox_dose_and_toxicity_by_group_show_no_count_under_eleven(registry, downloads):
    _check_screen(_open("pages/toxicity.py", **{"toxicity.by": "histology"}))
    cox = _open("pages/cox.py", **{"cox.endpoint": "PFS", "cox.covariates": ["histology", "sex"]})
    assert _shown(cox).figures, "the forest plot is drawn"
    _check_screen(cox)
    _check_screen(_open("pages/dose.py", **{"dose.by": "histology"}))
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
    only rounded counts, and no distribution chart draws a bar or n under 11."""
    at = _open("pages/survival.py", **{"f.histology": "breast carcinoma",
                                        "survival.kmunicate": "true"})
    _check_screen(at)
    _, figure = _shown(at).figures[0]
    table = [t for tr in figure.data if tr.mode == "text" for t in tr.text]
    assert len(table) >= 3 * 2, "at risk, events and censored at each tick"
    assert all(int(t) % M == 0 for t in table), table
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
