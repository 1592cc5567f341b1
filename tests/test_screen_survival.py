"""The Survival screen: endpoints, strata, competing events, and numbers from cohort.analysis."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from cohort.analysis import SurvivalRequest, analyse_survival
from cohort.datasets import load_dataset
from tests.apptest import as_read, open_app

SURVIVAL = "screens/survival.py"


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
