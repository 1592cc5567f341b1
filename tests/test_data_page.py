"""The Data page parses an upload once, not on every rerun, and a refused upload changes
nothing that was loaded (Streamlit AppTest)."""

from __future__ import annotations

import pytest

import cohort.io
from cohort.io import EVENT_CODINGS
from tests.apptest import as_read, load_on_data_page, metric, open_app

GOOD = b"patient_id,age,os_months,os_event\nA,50,10,1\nB,60,20,0\nC,70,30,1\n"
ZERO_ONE = next(k for k in EVENT_CODINGS if k.startswith("0/1"))


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The file names read_table parsed during the test (the page imports it on every run)."""
    calls: list[str] = []
    real = cohort.io.read_table

    def counted(data, file_name, *args, **kwargs):
        calls.append(file_name)
        return real(data, file_name, *args, **kwargs)

    monkeypatch.setattr(cohort.io, "read_table", counted)
    return calls


def selectbox(at, label_start: str):
    return next(s for s in at.selectbox if as_read(s.label).startswith(label_start))


def test_widget_changes_and_validation_do_not_parse_the_upload_again(parses):
    at = open_app("pages/data.py")
    at.file_uploader(key="upload.patients").set_value(("mine.csv", GOOD, "text/csv")).run()
    assert parses == ["mine.csv"]
    selectbox(at, "Unit of the time").set_value("days").run()
    selectbox(at, "age →").set_value("age_years").run()
    selectbox(at, "How is 'os_event'").set_value(ZERO_ONE).run()
    assert parses == ["mine.csv"]
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert metric(at, "Patients in cohort") == "3" and parses == ["mine.csv"]
    at.radio[0].set_value(",").run()  # another decimal separator: another reading of the file
    assert parses == ["mine.csv", "mine.csv"]
    at.switch_page("pages/cohort.py").run()
    at.switch_page("pages/data.py").run()  # the uploader is empty again: nothing kept
    assert parses == ["mine.csv", "mine.csv"] and at.session_state["upload.parsed"] == {}


def test_a_refused_upload_is_not_parsed_again_and_only_current_uploads_are_kept(parses):
    at = open_app("pages/data.py")
    uploader = at.file_uploader(key="upload.patients")
    uploader.set_value(("dup.csv", b"patient_id,x,x\nA,1,2\n", "text/csv")).run()
    assert "columns 'x' (columns 2, 3)" in as_read(at.error[0].value)
    at.radio[0].set_value(".").run()
    at.radio[0].set_value("detect").run()
    assert parses == ["dup.csv", "dup.csv"]  # '.' read once, 'detect' not again
    at.file_uploader(key="upload.patients").set_value(("mine.csv", GOOD, "text/csv")).run()
    kept = at.session_state["upload.parsed"]
    assert {key[2] for key in kept if key[1] == "table"} == {"mine.csv"}


def test_an_upload_past_a_limit_leaves_the_loaded_upload_loaded():
    at = load_on_data_page(open_app(), "first.csv", GOOD)
    assert metric(at, "Patients in cohort") == "3"
    too_long = b"patient_id,os_months,os_event\n" + b"P,1,0\n" * 600_000
    at.file_uploader(key="upload.patients").set_value(("second.csv", too_long, "text/csv")).run()
    assert not at.exception
    (error,) = at.error
    assert "600,000 rows, more than the limit of 500,000" in as_read(error.value)
    assert "nothing was loaded" in as_read(error.value)
    assert "Validate and load" not in [b.label for b in at.button]  # nothing to validate
    assert at.selectbox(key="dataset").value == "uploaded"
    assert at.session_state["uploaded_cohort"].name == "first.csv"
    assert metric(at, "Patients in cohort") == "3"
