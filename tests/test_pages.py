"""Every screen renders without an exception on every bundled dataset (Streamlit AppTest)."""

from __future__ import annotations

import pytest

from cohort.datasets import list_datasets
from cohort.io import EVENT_CODINGS
from cohort.templates import template_xlsx
from tests.apptest import ROOT, as_read, load_on_data_page, metric, open_app

SCREENS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
DATASETS = [info.key for info in list_datasets()]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_renders(screen, dataset):
    at = open_app()
    at.selectbox(key="dataset").set_value(dataset).run()
    at.switch_page(screen).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_filter_changes_the_count_on_every_screen():
    at = open_app()
    at.selectbox(key="dataset").set_value("veterans").run()
    assert metric(at, "Patients in cohort") == "137"
    at.multiselect(key="flt.veterans.histology").set_value(["adeno", "large"]).run()
    assert metric(at, "Patients in cohort") == "54"
    for screen in SCREENS:
        at.switch_page(screen).run()
        assert metric(at, "Patients in cohort") == "54"


def test_upload_through_the_data_page():
    at = open_app()
    at.switch_page("pages/data.py").run()
    csv = b"id,age,time_days,dead\nA,50,100,1\nB,60,200,0\nC,70,300,1\n"
    at.file_uploader(key="upload.patients").set_value(("mine.csv", csv, "text/csv")).run()
    assert not at.exception
    unit = next(s for s in at.selectbox if s.label.startswith("Unit of the time"))
    unit.set_value("days").run()
    at.selectbox(key=next(s.key for s in at.selectbox if s.key.endswith(".time_days")))\
        .set_value("os_months").run()
    at.selectbox(key=next(s.key for s in at.selectbox if s.key.endswith(".dead")))\
        .set_value("os_event").run()
    coding = next(s for s in at.selectbox if as_read(s.label).startswith("How is 'dead'"))
    coding.set_value(next(k for k in EVENT_CODINGS if k.startswith("0/1"))).run()
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="dataset").value == "uploaded"
    assert metric(at, "Patients in cohort") == "3"
    at.switch_page("pages/survival.py").run()
    assert not at.exception
    medians = at.dataframe[0].value  # days 100 (event), 200, 300 (event): KM median = 300 days
    assert list(medians["n"]) == [3] and list(medians["events"]) == [2]
    assert list(medians["median_text"]) == [f"{300 / (365.25 / 12):.1f} (3.3–NR)"]


def test_upload_the_template_workbook_with_both_sheets():
    at = load_on_data_page(open_app(), "registry.xlsx", template_xlsx(), XLSX)
    sheet = next(s for s in at.selectbox if s.label.startswith("Sheet with the patients"))
    assert sheet.value == "patients" and sheet.options == ["patients", "toxicities", "dictionary"]
    toxicities = next(s for s in at.selectbox if s.label.startswith("Toxicities from another sheet"))
    assert toxicities.value == "toxicities" and toxicities.options == [
        "(none)", "toxicities", "dictionary"]
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert metric(at, "Patients in cohort") == "3"
    assert any("registry.xlsx" in as_read(s.value) and "3 toxicity rows" in s.value
               for s in at.success)


def test_failed_upload_keeps_the_loaded_dataset():
    at = open_app()
    at.selectbox(key="dataset").set_value("gbsg2").run()
    load_on_data_page(at, "bad.csv", b"patient_id,os_months,os_event\nA,5,1\nA,-2,9\n")
    message = as_read(at.error[0].value)
    assert "nothing was loaded" in message and "GBSG2" in message
    assert "duplicate patient_id (rows 2, 3)" in message and "negative time (row 3)" in message
    assert at.selectbox(key="dataset").value == "gbsg2"
    assert metric(at, "Patients in cohort") == "686"


def test_switching_between_pages_in_the_pages_folder_runs_the_entry_script():
    """app.py (sidebar, dataset, link) runs before every page of pages/, as on the server."""
    at = open_app()
    for page, title in [("pages/survival.py", "Survival"), ("pages/cox.py", "Cox model"),
                        ("pages/data.py", "Data"), ("pages/cohort.py", "Cohort")]:
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.title[0].value == title
        assert metric(at, "Patients in cohort") == "4,299"
