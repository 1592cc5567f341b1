"""Links to the Cox model, Toxicity and Dose screens: the URL holds each view option.

A link opens the screen with its options set and the matching numbers on screen; changing an
option writes it into the URL; a bad value is a notice, never an exception.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import polars as pl
from streamlit.testing.v1 import AppTest

from cohort.cox import fit_cox, univariable_multivariable_table, univariable_screen
from cohort.datasets import DEFAULT_DATASET, load_dataset
from cohort.dose import DEFAULT_ALPHA_BETA_GY
from cohort.schema import column_label
from cohort.toxicity import grade_matrix, shown_by_grade
from tests.apptest import as_read, open_app, param

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120
COX, TOX, DOSE = "pages/cox.py", "pages/toxicity.py", "pages/dose.py"
TOX_KEY, DOSE_KEY = f"tox.{DEFAULT_DATASET}", f"dose.{DEFAULT_DATASET}"


def notices(at: AppTest) -> str:
    """The notices about link values the app ignored (not the screens' own warnings)."""
    return "\n".join(as_read(w.value) for w in at.warning if w.icon == ":material/link_off:")


def texts(elements) -> str:
    return "\n".join(as_read(e.value) for e in elements)


def figure(at: AppTest, title_start: str) -> dict:
    """The plotly figure on screen whose title starts with ``title_start``, as JSON."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {}).get("text", "")
        if title.startswith(title_start):
            return spec
    raise AssertionError(f"no figure titled {title_start!r}")


# --- Cox model ------------------------------------------------------------------------------


def veterans_table(covariates: list[str], reference: dict[str, str]) -> pl.DataFrame:
    patients = load_dataset("veterans").patients
    result = fit_cox(patients, "os_months", "os_event", covariates, reference=reference)
    univariable = univariable_screen(patients, "os_months", "os_event", covariates,
                                     reference=reference)
    return univariable_multivariable_table(univariable, result.terms)


def test_cox_link_fits_the_linked_covariates():
    at = open_app(COX, ds="veterans", **{"cox.covariates": ["histology", "kps"]})
    assert at.multiselect(key="cox.veterans.covariates").value == ["histology", "kps"]
    # the default reference is the largest group: small cell (48 of 137)
    assert at.selectbox(key="cox.veterans.ref.histology").value == "smallcell"
    shown = at.dataframe[0].value
    expected = veterans_table(["histology", "kps"], {"histology": "smallcell"})
    assert list(shown["level"]) == expected["level"].fill_null("").to_list()
    assert list(shown["uni_hr_ci"]) == expected["uni_hr_ci"].to_list()
    assert list(shown["multi_hr_ci"]) == expected["multi_hr_ci"].to_list()
    assert [c for c in shown["covariate"] if c] == [column_label("histology"),
                                                    column_label("kps")]
    assert {"cox.covariates"} <= set(at.query_params)
    assert "cox.ref.histology" not in at.query_params  # the default reference stays out
    assert not notices(at)


def test_cox_link_with_reference_level_strata_and_endpoint():
    at = open_app(COX, ds="veterans", **{"cox.endpoint": "OS",
                                          "cox.covariates": ["histology", "regimen"],
                                          "cox.ref.histology": "squamous",
                                          "cox.strata": "prior_therapy"})
    assert at.selectbox(key="cox.veterans.ref.histology").value == "squamous"
    assert at.multiselect(key="cox.veterans.strata").value == ["prior_therapy"]
    shown = at.dataframe[0].value
    assert shown[shown["level"] == "squamous"].iloc[0]["multi_hr_ci"] == "reference"
    assert "stratified by Prior therapy" in texts(at.caption)
    assert param(at, "cox.ref.histology") == ["squamous"]
    assert param(at, "cox.strata") == ["prior_therapy"]


def test_cox_widgets_write_the_url():
    at = open_app(COX, ds="veterans")
    assert not [k for k in at.query_params if k.startswith("cox.")]
    at.multiselect(key="cox.veterans.covariates").set_value(["histology", "age_years"]).run()
    assert param(at, "cox.covariates") == ["histology", "age_years"]
    at.selectbox(key="cox.veterans.ref.histology").set_value("large").run()
    assert param(at, "cox.ref.histology") == ["large"]
    at.selectbox(key="cox.veterans.ref.histology").set_value("smallcell").run()
    assert "cox.ref.histology" not in at.query_params
    at.multiselect(key="cox.veterans.covariates").set_value([]).run()
    assert "cox.covariates" not in at.query_params  # back to the default: nothing chosen
    assert param(at, "ds") == ["veterans"]


def test_cox_bad_link_values_are_notices():
    at = open_app(COX, ds="veterans", **{"cox.covariates": ["histology", "unicorn"],
                                          "cox.ref.histology": "nonsense",
                                          "cox.endpoint": "XYZ"})
    warned = notices(at)
    assert "'unicorn'" in warned
    assert "Histology" in warned and "'nonsense'" in warned and "Endpoint" in warned
    assert at.multiselect(key="cox.veterans.covariates").value == ["histology"]
    assert at.selectbox(key="cox.veterans.ref.histology").value == "smallcell"


def test_cox_link_to_the_first_level_keeps_it_as_reference():
    # links written when the first level was the default name it, and it stays the reference
    at = open_app(COX, ds="veterans", **{"cox.covariates": ["histology"],
                                          "cox.ref.histology": "adeno"})
    assert at.selectbox(key="cox.veterans.ref.histology").value == "adeno"
    shown = at.dataframe[0].value
    assert shown[shown["level"] == "adeno"].iloc[0]["multi_hr_ci"] == "reference"
    assert param(at, "cox.ref.histology") == ["adeno"]


# --- Toxicity -------------------------------------------------------------------------------


def test_toxicity_link_to_late_phase_shows_late_terms_only():
    at = open_app(TOX, **{"toxicity.phase": "late"})
    assert at.selectbox(key=f"{TOX_KEY}.phase").value == "late"
    cohort = load_dataset(DEFAULT_DATASET)
    late = grade_matrix(cohort.toxicities, cohort.patients, phase="late").by_grade
    acute = grade_matrix(cohort.toxicities, cohort.patients, phase="acute").by_grade
    shown = at.dataframe[0].value
    assert list(shown["term"]) == late["term"].to_list()
    assert not set(shown["term"]) & (set(acute["term"]) - set(late["term"]))
    first = late.row(0, named=True)
    assert shown.iloc[0]["any_grade"] == shown_by_grade(
        grade_matrix(cohort.toxicities, cohort.patients, phase="late"))["any_grade"][0]
    assert shown.iloc[0]["any_grade"].startswith(f"{first['any_grade']} (")
    assert "(late)" in texts(at.caption)
    assert param(at, "toxicity.phase") == ["late"]


def test_toxicity_link_group_terms_and_frame():
    at = open_app(TOX, **{"toxicity.phase": "acute", "toxicity.by": "sex",
                           "toxicity.terms": "12", "toxicity.highlight": "0"})
    assert at.selectbox(key=f"{TOX_KEY}.by").value == "sex"
    assert at.number_input(key=f"{TOX_KEY}.terms").value == 12
    assert at.toggle(key=f"{TOX_KEY}.highlight").value is False
    assert len(at.dataframe) == 2
    assert {g.split(" (n=")[0] for g in at.dataframe[1].value["group"]} >= {"female", "male"}
    heatmap = next(json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    assert len(heatmap["data"][0]["y"]) == 12
    assert not heatmap["layout"].get("shapes")  # grade >= 3 frames off
    assert not notices(at)


def test_toxicity_widgets_write_the_url():
    at = open_app(TOX)
    at.number_input(key=f"{TOX_KEY}.terms").set_value(30).run()  # all 30 terms
    assert param(at, "toxicity.terms") == ["30"]
    at.selectbox(key=f"{TOX_KEY}.phase").set_value("acute").run()
    assert not at.exception
    assert param(at, "toxicity.phase") == ["acute"]
    assert at.number_input(key=f"{TOX_KEY}.terms").value == 25  # acute has 25: kept in range
    assert param(at, "toxicity.terms") == ["25"]
    at.toggle(key=f"{TOX_KEY}.highlight").set_value(False).run()
    assert param(at, "toxicity.highlight") == ["0"]
    at.number_input(key=f"{TOX_KEY}.terms").set_value(15).run()
    assert param(at, "toxicity.terms") == ["15"]
    at.selectbox(key=f"{TOX_KEY}.phase").set_value("late").run()  # 5 terms: no terms widget
    assert not at.exception
    assert "toxicity.terms" not in at.query_params
    at.selectbox(key=f"{TOX_KEY}.phase").set_value(None).run()
    assert "toxicity.phase" not in at.query_params
    assert at.number_input(key=f"{TOX_KEY}.terms").value == 20  # a widget not drawn resets


def test_toxicity_bad_link_values_are_notices():
    at = open_app(TOX, **{"toxicity.phase": "sometimes", "toxicity.terms": "9999",
                           "toxicity.by": "unicorn"})
    warned = notices(at)
    assert "'sometimes'" in warned and "'9999'" in warned and "'unicorn'" in warned
    assert at.selectbox(key=f"{TOX_KEY}.phase").value is None
    assert at.number_input(key=f"{TOX_KEY}.terms").value == 20


def test_link_for_another_screen_waits_for_it():
    at = open_app(COX, ds="veterans", **{"toxicity.by": "histology"})
    assert not notices(at)
    at.switch_page(TOX).run()
    assert not at.exception
    assert "no toxicity records" in texts(at.info)  # veterans has none: the value is dropped


# --- Dose -----------------------------------------------------------------------------------


def plotly_array(value: dict | list) -> np.ndarray:
    """An array of a figure's JSON: a list, or numpy's bytes as plotly encodes them."""
    if isinstance(value, list):
        return np.array(value)
    return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])


def eqd2(patients: pl.DataFrame, alpha_beta: float) -> list[float]:
    """EQD2 per patient and treated site, by the LQ formula (independent of cohort.dose)."""
    d = pl.col("rt_total_dose_gy") / pl.col("rt_fractions")
    return sorted(
        patients.filter(pl.col("treated_sites").list.len() > 0)
        .explode("treated_sites")
        .select((pl.col("rt_total_dose_gy") * (d + alpha_beta) / (2 + alpha_beta)).alias("e"))
        .drop_nulls()["e"].round(6).to_list())


def test_dose_link_recomputes_eqd2():
    at = open_app(DOSE, **{"dose.ab": "3"})
    assert at.number_input(key=f"{DOSE_KEY}.alpha_beta").value == 3.0
    assert "EQD2 with α/β = 3 Gy" in texts(at.caption)
    spec = figure(at, "EQD2")
    assert "α/β = 3 Gy" in spec["layout"]["title"]["text"]
    markers = [trace for trace in spec["data"] if trace["type"] == "scatter"]
    shown = sorted(round(float(x), 6) for trace in markers for x in np.repeat(
        plotly_array(trace["x"]), plotly_array(trace["marker"]["size"])))  # a marker per value
    patients = load_dataset(DEFAULT_DATASET).patients
    assert shown == eqd2(patients, 3.0)
    assert shown != eqd2(patients, DEFAULT_ALPHA_BETA_GY)
    assert param(at, "dose.ab") == ["3"]


def test_dose_link_grouping_plot_and_cut():
    at = open_app(DOSE, **{"dose.by": "rt_technique", "dose.plot": "strip",
                            "dose.cut": "80"})
    assert at.selectbox(key=f"{DOSE_KEY}.by").value == "rt_technique"
    assert at.selectbox(key=f"{DOSE_KEY}.kind").value == "strip"
    assert at.number_input(key=f"{DOSE_KEY}.cut").value == 80.0
    assert "by technique" in figure(at, "BED10")["layout"]["title"]["text"]
    groups = {t.get("name", "").split(" (")[0] for t in figure(at, "Local failure")["data"]}
    assert any("80" in g for g in groups), groups
    assert not notices(at)


def test_dose_widgets_write_the_url():
    at = open_app(DOSE)
    at.number_input(key=f"{DOSE_KEY}.alpha_beta").set_value(2.5).run()
    assert param(at, "dose.ab") == ["2.5"]
    at.selectbox(key=f"{DOSE_KEY}.kind").set_value("strip").run()
    assert param(at, "dose.plot") == ["strip"]
    at.number_input(key=f"{DOSE_KEY}.cut").set_value(90.0).run()
    assert param(at, "dose.cut") == ["90"]
    at.number_input(key=f"{DOSE_KEY}.alpha_beta").set_value(DEFAULT_ALPHA_BETA_GY).run()
    assert "dose.ab" not in at.query_params


def test_dose_malformed_alpha_beta_is_a_notice():
    at = open_app(DOSE, **{"dose.ab": "abc", "dose.cut": "-5", "dose.plot": "pie"})
    warned = notices(at)
    assert "α/β" in warned and "'abc'" in warned
    assert "BED10 cut" in warned and "'pie'" in warned
    assert at.number_input(key=f"{DOSE_KEY}.alpha_beta").value == DEFAULT_ALPHA_BETA_GY
    assert at.number_input(key=f"{DOSE_KEY}.cut").value == 100.0
    assert "dose.ab" not in at.query_params


def test_cox_reference_levels_come_from_the_rows_the_model_uses():
    # TTNT is recorded for the mCRC groups only, none of which is "oligometastatic".
    at = open_app(COX, **{"cox.endpoint": "TTNT", "cox.covariates": ["oligo_state"]})
    reference = at.selectbox(key=f"cox.{DEFAULT_DATASET}.ref.oligo_state")
    with_ttnt = load_dataset(DEFAULT_DATASET).patients.drop_nulls(["ttnt_months", "ttnt_event"])
    assert reference.options == sorted(with_ttnt["oligo_state"].unique().to_list())
    assert "oligometastatic" not in reference.options
    assert not [w for w in at.warning if "not in the data" in as_read(w.value)]
