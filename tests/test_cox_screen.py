"""The Cox model screen on the demonstration cohort: cells, reference levels, units per HR and
the covariates the model leaves out (on screen, in the report, on the slide, in the files)."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from cohort.cox import (
    fit_cox,
    format_hr_ci,
    hr_table_text,
    largest_level,
    univariable_multivariable_table,
    univariable_screen,
)
from cohort.datasets import DEFAULT_DATASET, load_dataset
from cohort.export import safe_csv, safe_xlsx
from tests.apptest import as_read, open_app, param

COX = "pages/cox.py"
KEY = f"cox.{DEFAULT_DATASET}"
#: gtv_ml is recorded for the liver SBRT study only, so its rows have a single study.
LEFT_OUT = {"cox.covariates": ["study", "gtv_ml", "age_years"]}
STUDY_REASON = "the same value (Lee 2009 liver SBRT phase 1) in every row used"


@pytest.fixture(scope="module")
def patients() -> pl.DataFrame:
    return load_dataset(DEFAULT_DATASET).patients


def hr_frame(at: AppTest):
    """The hazard-ratio table on screen (pandas)."""
    return next(d.value for d in at.dataframe if "uni_hr_ci" in d.value.columns)


def no_missing_text(frame) -> bool:
    """No cell is missing or shows a missing value as a word."""
    cells = [str(v) for v in frame.to_numpy().ravel()]
    return not frame.isna().to_numpy().any() and not {"None", "nan", "NaN", "null"} & set(cells)


def test_default_reference_is_the_largest_group(patients):
    at = open_app(COX, **{"cox.covariates": ["regimen", "age_years"]})
    used = patients.drop_nulls(["os_months", "os_event", "regimen", "age_years"])
    assert largest_level(used["regimen"]) == "FOLFOX"
    assert at.selectbox(key=f"{KEY}.ref.regimen").value == "FOLFOX"
    shown = hr_frame(at)
    assert shown[shown["level"] == "FOLFOX"].iloc[0]["multi_hr_ci"] == "reference"
    assert "cox.ref.regimen" not in at.query_params
    at.selectbox(key=f"{KEY}.ref.regimen").set_value("sunitinib").run()
    assert param(at, "cox.ref.regimen") == ["sunitinib"]  # the user can still choose


def test_cells_say_a_dash_where_a_value_does_not_apply():
    at = open_app(COX, **LEFT_OUT)
    shown = hr_frame(at)
    assert no_missing_text(shown)
    study = shown[shown["multi_hr_ci"] == "not in model"]
    assert len(study) == 5 and set(study["multi_n"]) == set(study["multi_events"]) == {"–"}
    report = at.session_state["_shown_this_run"].tables
    for _, frame in report:
        assert no_missing_text(frame.to_pandas())


def test_exported_files_have_no_none_text(patients):
    covariates = ["study", "gtv_ml", "age_years"]
    multi = fit_cox(patients, "os_months", "os_event", covariates)
    table = univariable_multivariable_table(
        univariable_screen(patients, "os_months", "os_event", covariates), multi.terms)
    assert table["multi_n"].null_count() == 5  # left-out rows: empty in the files, not "None"
    assert b"None" not in safe_csv(table) and b"None" not in safe_csv(hr_table_text(table))
    back = pl.read_excel(io.BytesIO(safe_xlsx(table)))
    assert not back.select(pl.col(pl.String).str.contains("None").any()).row(0)[0]


def test_age_per_10_years_from_the_link_and_the_widget(patients):
    at = open_app(COX, **{"cox.covariates": ["age_years", "sex"], "cox.per.age_years": "10"})
    assert at.selectbox(key=f"{KEY}.per.age_years").value == 10
    row = hr_frame(at).iloc[0]
    assert row["covariate"] == "Age (per 10 years)"
    model = fit_cox(patients, "os_months", "os_event", ["age_years", "sex"],
                    reference={"sex": "male"}, per={"age_years": 10})
    age = model.terms.filter(pl.col("covariate") == "age_years").row(0, named=True)
    assert row["multi_hr_ci"] == format_hr_ci(age["hr"], age["lower"], age["upper"])
    assert param(at, "cox.per.age_years") == ["10"]
    at.selectbox(key=f"{KEY}.per.age_years").set_value(1).run()
    assert hr_frame(at).iloc[0]["covariate"] == "Age (years)"
    assert "cox.per.age_years" not in at.query_params


def test_a_bad_unit_in_a_link_is_a_notice():
    at = open_app(COX, **{"cox.covariates": ["age_years"], "cox.per.age_years": "-3"})
    assert at.selectbox(key=f"{KEY}.per.age_years").value == 1
    assert any("'-3'" in as_read(w.value) for w in at.warning)


def test_left_out_covariates_are_listed_with_the_reason():
    at = open_app(COX, **LEFT_OUT)
    dropped = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert dropped.to_dict("records") == [
        {"covariate": "Study", "level": "", "reason": STUDY_REASON}]
    assert any(m.value == "**Left out of the model**" for m in at.markdown)
    report = dict(at.session_state["_shown_this_run"].tables)
    assert report["Covariates left out of the model: Overall survival"].row(0) == (
        "Study", "", STUDY_REASON)


def test_the_slide_says_what_the_model_left_out():
    at = open_app(COX, present="1", **LEFT_OUT)
    assert as_read(at.title[-1].value).startswith("Forest plot")
    slide = json.loads(at.get("plotly_chart")[-1].proto.spec)
    notes = " ".join(a["text"] for a in slide["layout"]["annotations"])
    assert f"Left out of the model: Study: {STUDY_REASON}" in notes.replace("<br>", " ")
