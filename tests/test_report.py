"""The HTML report and the Excel export: pure functions in cohort/."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import polars as pl

from cohort import __version__
from cohort.datasets import load_dataset
from cohort.export import safe_xlsx
from cohort.figures.km import km_figure
from cohort.figures.style import wrap
from cohort.report import ReportContent, build_report, table_html
from cohort.survival import kaplan_meier

VETERANS = load_dataset("veterans").patients
KM = km_figure(kaplan_meier(VETERANS, "os_months", "os_event", "histology"), title="OS",
               caption="Veterans")


def test_report_holds_figures_tables_filters_methods_and_opens_offline():
    content = ReportContent(
        title="Survival: VA lung", cohort="VA lung cancer trial, n = 137",
        filters="Histology: adeno <b>", provenance="Kalbfleisch & Prentice", synthetic=True,
        figures=[("KM by histology", KM), ("Again", KM)],
        tables=[("Medians", pl.DataFrame({"group": ["=cmd()"], "median": [3.5]}))],
        methods=["Kaplan-Meier"], link="http://host/survival?f.histology=adeno")
    text = build_report(content, created=datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<h2>") == 4 and "<li>Kaplan-Meier</li>" in text
    assert "Histology: adeno &lt;b&gt;" in text  # escaped
    assert "not patient records" in text and __version__ in text and "2026-11-25 09:00" in text
    assert 'src="http' not in text and text.count("plotly.js v") == 1  # inlined once, offline
    assert '<td class="num">3.5</td>' in text


def test_long_tables_are_cut_with_a_note():
    frame = pl.DataFrame({"x": list(range(12))})
    html = table_html(frame, limit=10)
    assert html.count("<tr>") == 11 and "First 10 of 12 rows" in html


def test_excel_export_neutralises_formulas():
    data = safe_xlsx(pl.DataFrame({"term": ["=HYPERLINK(1)", "Fatigue"], "n": [-1, 2]}))
    back = pl.read_excel(io.BytesIO(data))
    assert back["term"].to_list() == ["'=HYPERLINK(1)", "Fatigue"]
    assert back["n"].to_list() == [-1, 2]


def test_wrap_keeps_lines_short():
    text = wrap("word " * 60, width=40)
    assert all(len(line) <= 40 for line in text.split("<br>"))


def test_report_tables_carry_the_screen_labels_and_percentages():
    import streamlit as st

    from ui.tables import as_read

    frame = pl.DataFrame({"time": [12.0], "cif": [0.27851], "one_minus_km": [None],
                          "group": ["A"]}, schema_overrides={"one_minus_km": pl.Float64})
    shown = as_read(frame, {"time": st.column_config.NumberColumn("months", format="%g"),
                            "cif": st.column_config.NumberColumn("AJ", format="percent"),
                            "one_minus_km": st.column_config.NumberColumn("1 − KM",
                                                                          format="percent"),
                            "group": "group"})
    assert shown.columns == ["months", "AJ", "1 − KM", "group"]
    assert shown.row(0) == ("12", "27.85%", None, "A")  # "%g", as on screen


def test_the_cox_screen_puts_labelled_tables_and_its_methods_in_the_report():
    from tests.apptest import open_app

    at = open_app("pages/cox.py", ds="veterans", **{"cox.covariates": ["histology", "kps"]})
    shown = at.session_state["_shown_this_run"]
    hr_table = next(frame for title, frame in shown.tables if title.startswith("Hazard ratios"))
    assert "Univariable HR (95% CI)" in hr_table.columns and "uni_hr_ci" not in hr_table.columns
    assert any("Efron ties" in note for note in shown.notes)


def test_report_n_is_the_n_its_figures_analyse():
    from cohort.report import patients_analysed

    assert patients_analysed(4299, []) == "n = 4,299"
    assert patients_analysed(4299, [None, 4299]) == "n = 4,299"
    assert patients_analysed(4299, [4226, 4226]) == "4,226 of 4,299 patients analysed"
    assert patients_analysed(4299, [4226, None, 68]) == "68–4,299 of 4,299 patients analysed"


def test_the_survival_report_header_gives_the_patients_its_curve_analyses():
    from cohort.analysis import SurvivalRequest, analyse_survival
    from tests.apptest import open_app

    at = open_app("pages/survival.py")
    at.button(key="report_prepare").click().run()
    html = at.session_state["report_prepared"][1].decode("utf-8")
    analysed = analyse_survival(load_dataset("oligomet-demo").patients,
                                SurvivalRequest("os_months", "os_event")).n
    assert analysed == 4226
    assert "(synthetic), 4,226 of 4,299 patients analysed<br>" in html
    assert "n = 4,299" not in html


def test_report_tables_format_numbers_as_the_screen_does():
    """The report prints the RMST horizon and values as on screen ('%g', '%.2f'), not 16 digits."""
    import streamlit as st

    from ui.tables import as_read

    frame = pl.DataFrame({"tau": [81.18275154004107, None], "rmst": [40.123456, 2.0]})
    shown = as_read(frame, {"tau": st.column_config.NumberColumn("up to, months", format="%g"),
                            "rmst": st.column_config.NumberColumn("RMST", format="%.2f")})
    assert shown.rows() == [("81.1828", "40.12"), (None, "2.00")]
    assert shown.columns == ["up to, months", "RMST"]
