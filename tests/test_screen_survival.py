"""The Survival screen: endpoints, strata, competing events, and numbers from cohort.analysis."""

from __future__ import annotations

import re

import polars as pl
from streamlit.testing.v1 import AppTest

from cohort.analysis import SurvivalRequest, analyse_survival
from cohort.datasets import load_dataset
from tests.apptest import as_read, drawn_table, open_app, param, shown_table

SURVIVAL = "pages/survival.py"


def markdown(at: AppTest) -> str:
    return " ".join(as_read(m.value) for m in at.markdown)


def test_stratified_log_rank_is_the_cohort_function():
    at = open_app(SURVIVAL, ds="veterans", **{"survival.by": "histology"})
    expected = analyse_survival(load_dataset("veterans").patients,
                                SurvivalRequest("os_months", "os_event", by="histology"))
    assert f"χ² = {expected.logrank.chisq:.2f}, 3 df" in markdown(at)
    medians = at.dataframe[0].value
    assert list(medians["median_text"]) == expected.medians["median_text"].to_list()


def test_competing_endpoint_shows_cumulative_incidence_and_why():
    at = open_app(SURVIVAL, **{"survival.endpoint": "LC", "survival.by": "bed10_gy"})
    assert any("overstates the incidence" in as_read(i.value) for i in at.info)
    assert at.number_input(key="surv.cut.bed10_gy").value == 100.0


def test_dataset_without_rt_columns_still_works_and_flags_small_groups():
    at = open_app(SURVIVAL, ds="veterans", **{"f.ecog": "4~4", "survival.by": "histology"})
    flagged = [w.value for w in at.warning if "fewer than 5 patients" in w.value]
    assert len(flagged) == 3  # ECOG 4: smallcell 3, squamous 3, adeno 2


def test_other_time_event_pair_on_any_numeric_columns():
    at = open_app(SURVIVAL, ds="gbsg2", **{"survival.endpoint": "Other time / event columns",
                                        "survival.time": "pfs_months",
                                        "survival.event": "pfs_event", "survival.by": "regimen"})
    assert "Log-rank test" in markdown(at)


def test_many_histologies_are_offered_and_the_rare_ones_pooled():
    at = open_app(SURVIVAL, **{"survival.by": "histology"})
    assert at.selectbox(key="surv.by").value == "histology"
    expected = analyse_survival(load_dataset("oligomet-demo").patients,
                                SurvivalRequest("os_months", "os_event", by="histology"))
    assert len(expected.groups) == 8 and expected.groups[-1].startswith("Other (")
    assert list(at.dataframe[0].value["group"]) == expected.groups
    pooled_note = [as_read(c.value) for c in at.caption
                   if "most frequent values are drawn" in as_read(c.value)]
    assert pooled_note and all(value in pooled_note[0] for value in expected.pooled)


def test_every_number_on_screen_reads_as_in_the_report():
    """Streamlit's own formats wrote the RMST horizon as 32.82135523613963 ("%g") and small p
    as 0.0000123 ("%.4g"); the screen now writes what the report and its exports write."""
    at = open_app(SURVIVAL, ds="veterans", **{"survival.by": "histology"})
    tables = {"up to, months": "Restricted mean survival time", "months": "Landmark rates",
              "HR (95% CI)": "Hazard ratios vs", "expected": "Log-rank test",
              "p (Holm)": "Pairwise log-rank"}
    for header, title in tables.items():
        report = shown_table(at, title).cast(pl.String).fill_null("")  # as the report writes it
        assert drawn_table(at, header).to_dicts() == report.to_dicts(), title
    tau = analyse_survival(load_dataset("veterans").patients, SurvivalRequest(
        "os_months", "os_event", by="histology")).rmst["tau"][0]
    assert drawn_table(at, "up to, months")["up to, months"][0] == f"{tau:g}" == "6.11088"
    assert tau != 6.11088  # the horizon has more digits than the screen writes


def test_a_link_in_days_shows_days_everywhere_with_the_cohort_functions_numbers():
    at = open_app(SURVIVAL, ds="veterans", **{"survival.unit": "days",
                                           "survival.landmarks": "365"})
    assert at.selectbox(key="surv.unit").value == "days"
    assert at.multiselect(key="surv.landmarks.days").value == [365.0]
    assert at.multiselect(key="surv.landmarks.days").label.startswith("Landmark times \\(days\\)")
    expected = analyse_survival(load_dataset("veterans").patients, SurvivalRequest(
        "os_months", "os_event", landmarks=(365.0,), unit="days"))
    landmarks = shown_table(at, "Landmark rates")
    assert landmarks.columns == ["group", "days", "survival (95% CI)", "at risk"]
    assert landmarks["days"].to_list() == ["365"]  # as the screen formats it
    days = load_dataset("veterans").patients["os_days"]
    assert landmarks["at risk"].to_list() == [int((days >= 365).sum())] == \
        expected.landmarks["n_risk"].to_list()
    medians = shown_table(at, "Median survival")
    assert medians["median, days (95% CI)"].to_list() == ["80 (52–100)"]  # R: 80 (52, 100)
    assert "median, days (IQR)" in shown_table(at, "Median follow-up").columns
    assert "RMST, days" in shown_table(at, "Restricted mean survival time up to 999 days").columns
    figure = at.session_state["_shown_this_run"].figures[0][1]
    assert figure.layout.xaxis.title.text == "Days"
    assert any("times in days (exact days, os_days)" in as_read(c.value) for c in at.caption)
    assert at.number_input(key="surv.tau.days").label.startswith("RMST up to \\(days")


def test_an_unknown_unit_in_a_link_falls_back_to_months_with_a_notice():
    at = open_app(SURVIVAL, **{"survival.unit": "fortnights"})
    assert at.selectbox(key="surv.unit").value == "months"
    assert any("Ignored the link's value for Time unit: 'fortnights'" in as_read(w.value)
               for w in at.warning)
    assert "survival.unit" not in at.query_params
    assert shown_table(at, "Landmark rates").columns[1] == "months"


def test_switching_the_unit_updates_the_link_and_never_reinterprets_times():
    at = open_app(SURVIVAL, ds="veterans", **{"survival.landmarks": "6", "survival.tau": "12"})
    at.selectbox(key="surv.unit").set_value("weeks").run()
    assert param(at, "survival.unit") == ["weeks"]
    # 6 months and a 12-month horizon are not read as 6 and 12 weeks: weeks start afresh
    assert at.multiselect(key="surv.landmarks.weeks").value == [52.0, 104.0]
    assert at.number_input(key="surv.tau.weeks").value == 0.0
    assert "survival.landmarks" not in at.query_params and "survival.tau" not in at.query_params
    assert shown_table(at, "Landmark rates")["weeks"].to_list() == ["52", "104"]
    at.selectbox(key="surv.unit").set_value("months").run()
    assert "survival.unit" not in at.query_params


def test_a_typed_landmark_goes_into_the_link_and_a_bad_one_is_refused_visibly():
    at = open_app(SURVIVAL, ds="veterans", **{"survival.unit": "days"})
    at.multiselect(key="surv.landmarks.days").set_value([365.0, "400", "soon", "-30"]).run()
    assert at.multiselect(key="surv.landmarks.days").value == [365.0, 400.0]
    assert param(at, "survival.landmarks") == ["365", "400"]
    warned = " ".join(as_read(w.value) for w in at.warning)
    assert "'soon'" in warned and "'-30'" in warned and "positive number of days" in warned
    days = load_dataset("veterans").patients["os_days"]
    assert shown_table(at, "Landmark rates")["at risk"].to_list() == [
        int((days >= 365).sum()), int((days >= 400).sum())]


def test_a_time_column_without_unit_is_shown_as_it_is():
    at = open_app(SURVIVAL, ds="veterans", **{
        "survival.endpoint": "Other time / event columns", "survival.time": "kps",
        "survival.event": "os_event", "survival.unit": "days"})
    assert at.selectbox(key="surv.unit").disabled
    assert at.multiselect(key="surv.landmarks.None").label.startswith(
        "Landmark times \\(time units\\)")
    assert "median, time units (95% CI)" in shown_table(at, "Median survival").columns
    assert any("unit unknown: not converted" in as_read(c.value) for c in at.caption)


def test_an_endpoints_exact_days_are_not_a_stratum():
    at = open_app(SURVIVAL, ds="veterans")
    options = at.selectbox(key="surv.by").options
    assert "OS time (days)" not in options and "Age (years)" in options


def test_the_report_of_a_view_in_days_says_days():
    from cohort.report import ReportContent, build_report

    at = open_app(SURVIVAL, ds="veterans", **{"survival.unit": "days",
                                           "survival.landmarks": "365"})
    shown = at.session_state["_shown_this_run"]
    html = build_report(ReportContent("Survival", "all", "none", "test", figures=shown.figures,
                                      tables=shown.tables, methods=shown.notes))
    assert "<th>median, days (95% CI)</th>" in html and "<th>days</th>" in html
    assert "Restricted mean survival time up to 999 days" in html
    assert '"text":"Days"' in html and "times in days (exact days, os_days)" in html
    text = re.sub(r"<script.*?</script>", "", html, flags=re.S)  # plotly.js names months
    assert "month" not in text.lower()


def test_a_median_not_reached_shows_its_lower_bound():
    at = open_app(SURVIVAL, ds="gbsg2", **{"survival.by": "tumour_grade"})
    expected = analyse_survival(load_dataset("gbsg2").patients,
                                SurvivalRequest("pfs_months", "pfs_event", by="tumour_grade"))
    grade_1 = expected.medians.row(0, named=True)
    assert grade_1["median"] is None and grade_1["lower"] is not None
    medians = at.dataframe[0].value
    assert medians.iloc[0]["median_text"] == grade_1["median_text"]
    assert re.fullmatch(r"NR \(\d+\.\d–NR\)", grade_1["median_text"])
    report = dict(at.session_state["_shown_this_run"].tables)["Median survival (95% CI)"]
    assert grade_1["median_text"] in report.to_series(-1).to_list()


def test_the_hazard_ratio_table_writes_p_as_a_clinician_reads_it_and_leaves_the_reference_blank():
    at = open_app("pages/survival.py", **{"survival.by": "study"})
    table = drawn_table(at, "HR (95% CI)")
    reference = table.filter(pl.col("HR (95% CI)") == "reference")
    assert reference.height == 1 and reference["p"].to_list() == [""]
    p_values = table.filter(pl.col("HR (95% CI)") != "reference")["p"].to_list()
    assert p_values and all(re.fullmatch(r"<0\.001|[01]\.\d{3}", p) for p in p_values), p_values
