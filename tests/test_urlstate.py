"""The view state in the URL: links reproduce a view; bad parameters are notices, not crashes."""

from __future__ import annotations

import polars as pl
from streamlit.testing.v1 import AppTest

from cohort.datasets import DEFAULT_DATASET
from tests.apptest import ROOT, as_read, load_on_data_page, open_app, param


def count(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Patients in cohort")


def test_link_opens_dataset_and_filters():
    at = open_app(**{"ds": "gbsg2", "f.regimen": "tamoxifen", "f.age_years": "40~60"})
    assert not at.exception
    assert at.selectbox(key="dataset").value == "gbsg2"
    assert at.multiselect(key="flt.gbsg2.regimen").value == ["tamoxifen"]
    assert at.slider(key="flt.gbsg2.age_years").value == (40.0, 60.0)
    raw = pl.read_csv(ROOT / "tests/reference/data/gbsg2.csv")
    expected = raw.filter((pl.col("horTh") == "yes") & pl.col("age").is_between(40, 60)).height
    assert count(at) == str(expected)


def test_changing_a_filter_rewrites_the_url():
    at = open_app(ds="veterans")
    at.multiselect(key="flt.veterans.histology").set_value(["adeno", "large"]).run()
    assert param(at, "f.histology") == ["adeno", "large"]
    assert param(at, "ds") == ["veterans"]
    at.selectbox(key="dataset").set_value(DEFAULT_DATASET).run()
    assert "ds" not in at.query_params  # the default dataset is left out


def test_malformed_and_unknown_parameters_are_ignored_with_a_notice():
    at = open_app(**{"ds": "veterans", "f.histology": ["adeno", "unicorn"],
                      "f.age_years": "abc~60", "zzz": "1"})
    assert not at.exception
    notices = " ".join(as_read(w.value) for w in at.warning)
    assert "'unicorn'" in notices and "Age (years)" in notices and "'zzz'" in notices
    assert at.multiselect(key="flt.veterans.histology").value == ["adeno"]
    assert count(at) == "27"


def test_unknown_dataset_falls_back_to_the_default():
    at = open_app(ds="no-such-dataset")
    assert not at.exception
    assert at.selectbox(key="dataset").value == DEFAULT_DATASET
    assert any("Dataset" in as_read(w.value) for w in at.warning)


def test_link_to_an_upload_asks_for_the_file_and_keeps_the_view():
    at = open_app(**{"ds": "uploaded", "file": "registry.csv", "f.histology": "lung"})
    assert not at.exception
    assert any("upload **registry\\.csv**" in i.value for i in at.info)
    assert param(at, "ds") == ["uploaded"] and param(at, "f.histology") == ["lung"]


def test_a_file_name_in_a_link_is_shown_as_text_never_as_markdown():
    crafted = "x.csv** now. [Download the fixed template](https://example.com/bad) **y"
    at = open_app(**{"ds": "uploaded", "file": crafted})
    notice = next(i.value for i in at.info if "Patient data never travels" in i.value)
    assert "](" not in notice.replace("\\]\\(", "") and "\\[Download" in notice
    assert "https\\:\u2060\\/\\/example\\.com" in notice  # escaped, and no autolink


def test_landmarks_written_short_are_understood_any_positive_one_too_and_bad_ones_keep_the_default():
    at = open_app("pages/survival.py", **{"survival.landmarks": ["6", "36"]})
    assert at.multiselect(key="surv.landmarks.months").value == [6.0, 36.0]
    at = open_app("pages/survival.py", **{"survival.landmarks": ["7"]})  # not offered: typed
    assert at.multiselect(key="surv.landmarks.months").value == [7.0]
    for bad in (["-7"], ["abc"], ["0"], ["inf"]):
        at = open_app("pages/survival.py", **{"survival.landmarks": bad})
        assert at.multiselect(key="surv.landmarks.months").value == [12.0, 24.0]
        assert any("Ignored the link's value for Landmark times" in as_read(w.value)
                   for w in at.warning)


def test_a_link_to_an_upload_analyses_nothing_until_the_file_is_there_then_opens_its_view():
    at = open_app("pages/survival.py", **{"ds": "uploaded", "file": "mine.csv",
                                            "survival.by": "centre"})
    assert not at.dataframe and not at.get("plotly_chart")  # not the demo cohort in its place
    assert param(at, "survival.by") == ["centre"]  # the view's option waits in the link
    csv = b"patient_id,centre,os_months,os_event\nA,x,10,1\nB,x,20,0\nC,y,30,1\nD,y,40,0\n"
    load_on_data_page(at, "mine.csv", csv)
    at.switch_page("pages/survival.py").run()
    assert not at.exception
    assert at.selectbox(key="surv.by").value == "centre"
    assert list(at.dataframe[0].value["group"]) == ["x", "y"]
