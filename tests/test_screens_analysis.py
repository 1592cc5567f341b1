"""AppTest interactions with the Cox model, Toxicity and Dose screens."""

from __future__ import annotations

import numpy as np
import polars as pl
from streamlit.testing.v1 import AppTest

from cohort.dose import add_dose_columns
from cohort.io import EVENT_CODINGS
from cohort.schema import Cohort
from tests.apptest import ROOT, TIMEOUT, as_read, metric, open_app

COX, TOX, DOSE = "pages/cox.py", "pages/toxicity.py", "pages/dose.py"


def on_screen(dataset: str, screen: str) -> AppTest:
    at = open_app()
    at.selectbox(key="dataset").set_value(dataset).run()
    at.switch_page(screen).run()
    return at


def with_cohort(cohort: Cohort, screen: str) -> AppTest:
    """The app with ``cohort`` as this session's upload, on ``screen``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["uploaded_cohort"] = cohort
    at.session_state["dataset_pending"] = "uploaded"
    at.run()
    at.switch_page(screen).run()
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def texts(elements) -> str:
    return "\n".join(as_read(e.value) for e in elements)


def demo_cohort(n: int = 60, seed: int = 11) -> Cohort:
    """A small oligomet-like cohort: RT dose, LC with competing deaths, phase 1, toxicities."""
    rng = np.random.default_rng(seed)
    fractions = rng.choice([1, 3, 5], n)
    total = np.where(fractions == 1, 24.0, np.where(fractions == 3, 54.0, 35.0))
    fractions[:21], total[:21] = 10, [40.0] * 16 + [50.0] * 5  # phase 1: 40 or 50 Gy / 10 fx
    levels = [(1, 25.0, 3, 0), (2, 37.5, 3, 0), (3, 50.0, 10, 1), (4, 62.5, 5, 2)]
    level_rows = [(lv, mg, i < k) for lv, mg, size, k in levels for i in range(size)]
    level_rows += [(None, None, None)] * (n - len(level_rows))
    patients = pl.DataFrame({
        "patient_id": [f"D{i:03d}" for i in range(n)],
        "sex": rng.choice(["female", "male"], n),
        "histology": rng.choice(["clear cell RCC", "colorectal adenocarcinoma"], n),
        "treated_sites": [["lung"], ["liver", "bone"], ["lymph node"]] * (n // 3),
        "rt_technique": rng.choice(["SBRT", "IMRT"], n),
        "rt_total_dose_gy": total, "rt_fractions": fractions,
        "dose_level": [r[0] for r in level_rows], "drug_dose_mg": [r[1] for r in level_rows],
        "dlt": [r[2] for r in level_rows],
        "os_months": rng.exponential(30, n) + 0.5, "os_event": rng.choice([0, 1], n),
        "lc_months": rng.exponential(20, n) + 0.5, "lc_event": rng.choice([0, 1, 2], n),
    }, schema_overrides={"dose_level": pl.Int64, "drug_dose_mg": pl.Float64,
                         "dlt": pl.Boolean})
    tox = pl.DataFrame({"patient_id": ["D000", "D000", "D001", "D002", "D003"],
                        "term": ["fatigue", "=pneumonitis", "fatigue", "nausea", "fatigue"],
                        "grade": [1, 3, 2, 4, 3], "phase": ["acute", "late", "acute",
                                                            "acute", "late"]})
    return Cohort("Demo test cohort", add_dose_columns(patients), tox, "test", synthetic=True)


# --- Cox model ------------------------------------------------------------------------------


def test_cox_on_veterans_shows_the_hr_table():
    at = on_screen("veterans", COX)
    ok(at)
    assert "Choose one or more covariates" in texts(at.info)
    at.multiselect(key="cox.veterans.covariates").set_value(["histology", "kps"]).run()
    ok(at)
    table = at.dataframe[0].value
    large = table[table["level"] == "large"].iloc[0]
    assert large["uni_hr_ci"] == "0.46 (0.28–0.76)"  # against small cell, the largest group
    assert large["multi_hr_ci"].endswith(")") and large["multi_p_text"]
    assert table[table["level"] == "smallcell"].iloc[0]["multi_hr_ci"] == "reference"
    assert metric(at, "Patients used") == "137" and metric(at, "Events") == "128"
    assert "Efron ties" in texts(at.caption) and "cox.zph" in texts(at.caption)
    tests = at.dataframe[1].value
    assert list(tests["test"]) == ["Likelihood ratio", "Wald", "Score"]


def test_cox_reference_level_and_strata():
    at = on_screen("veterans", COX)
    at.multiselect(key="cox.veterans.covariates").set_value(["histology", "regimen"]).run()
    at.selectbox(key="cox.veterans.ref.histology").set_value("squamous").run()
    at.multiselect(key="cox.veterans.strata").set_value(["prior_therapy"]).run()
    ok(at)
    table = at.dataframe[0].value
    assert table[table["level"] == "squamous"].iloc[0]["multi_hr_ci"] == "reference"
    adeno = table[table["level"] == "adeno"].iloc[0]
    assert float(adeno["multi_hr_ci"].split()[0]) > 1
    assert "stratified by Prior therapy" in texts(at.caption)


def test_cox_other_endpoint_and_competing_note():
    at = with_cohort(demo_cohort(), COX)
    ok(at)
    at.selectbox(key="cox.uploaded.endpoint").set_value("LC").run()
    assert "cause-specific" in texts(at.caption)
    at.selectbox(key="cox.uploaded.endpoint").set_value("Other").run()
    at.selectbox(key="cox.uploaded.time").set_value("lc_months").run()
    at.selectbox(key="cox.uploaded.event").set_value("lc_event").run()
    at.multiselect(key="cox.uploaded.covariates").set_value(["bed10_gy", "sex"]).run()
    ok(at)
    assert at.dataframe[0].value["covariate"].tolist()[:1] == ["BED10 (Gy)"]


def test_cox_missing_covariate_rows_are_counted():
    cohort = demo_cohort()
    patients = cohort.patients.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col("sex")).alias("sex"))
    at = with_cohort(Cohort("c", patients, None, "test"), COX)
    at.multiselect(key="cox.uploaded.covariates").set_value(["sex"]).run()
    ok(at)
    assert "5 of 60 rows left out: missing 'sex' (5)." in texts(at.warning)
    assert metric(at, "Rows left out") == "5" and metric(at, "Patients used") == "55"


# --- Toxicity -------------------------------------------------------------------------------


def test_toxicity_without_records_says_so():
    at = on_screen("gbsg2", TOX)
    ok(at)
    assert "no toxicity records" in texts(at.info) and "Data page" in texts(at.info)


def upload(at: AppTest) -> None:
    at.switch_page("pages/data.py").run()
    patients = (b"patient_id,arm,os_months,os_event\n"
                b"A,x,10,1\nB,x,20,0\nC,y,30,1\nD,y,40,0\n")
    tox = (b"patient_id,term,grade,phase\nA,fatigue,1,acute\nA,fatigue,3,late\n"
           b"B,@nausea,2,acute\nC,fatigue,2,acute\n")
    at.file_uploader(key="upload.patients").set_value(("p.csv", patients, "text/csv")).run()
    at.file_uploader(key="upload.toxicities").set_value(("t.csv", tox, "text/csv")).run()
    next(s for s in at.selectbox if s.label.startswith("Unit of the time")).set_value(
        "months").run()
    coding = next(s for s in at.selectbox if as_read(s.label).startswith("How is 'os_event'"))
    coding.set_value(next(k for k in EVENT_CODINGS if k.startswith("0/1"))).run()
    at.button[0].click().run()
    ok(at)


def test_toxicity_on_an_uploaded_cohort():
    at = open_app()
    upload(at)
    at.switch_page(TOX).run()
    ok(at)
    # No toxicity_assessed column: the denominator is A, B and C (D has no record).
    assert ("Percent of the 3 patients with a toxicity record; 1 of the 4 patients in the cohort "
            "without a toxicity record (not in the denominator)") in texts(at.caption)
    fatigue = at.dataframe[0].value.set_index("term").loc["fatigue"]
    assert (fatigue["grade_2"], fatigue["grade_3"]) == ("1 (33.3%)", "1 (33.3%)")
    assert fatigue["any_grade"] == "2 (66.7%)"
    assert at.dataframe[0].value.set_index("term").loc["@nausea", "grade_2"] == "1 (33.3%)"
    at.selectbox(key="tox.uploaded.phase").set_value("acute").run()
    fatigue = at.dataframe[0].value.set_index("term").loc["fatigue"]
    assert (fatigue["grade_1"], fatigue["grade_3"]) == ("1 (33.3%)", "0 (0.0%)")
    at.selectbox(key="tox.uploaded.by").set_value("regimen").run()  # "arm" maps to regimen
    ok(at)
    by_group = at.dataframe[1].value
    assert set(by_group["group"]) == {"x (n=2)", "y (n=1)"}
    assert by_group[(by_group["term"] == "fatigue") & (by_group["group"] == "x (n=2)")
                    ].iloc[0]["n_any"] == "1 (50.0%)"
    downloads = [b.proto.label for b in at.get("download_button")
                 if b.proto.label.startswith(("CSV", "Excel", "Download"))
                 and "report" not in b.proto.label.lower()]
    assert downloads == ["CSV", "Excel"] * 2  # one pair per table, no per-screen duplicates


def test_toxicity_phase_without_records():
    cohort = demo_cohort()
    at = with_cohort(cohort, TOX)
    ok(at)
    at.selectbox(key="tox.uploaded.by").set_value("sex").run()
    at.toggle(key="tox.uploaded.highlight").set_value(False).run()
    ok(at)
    assert "Percent of the 4 patients with a toxicity record; 56 of the 60" in texts(at.caption)


# --- Dose -----------------------------------------------------------------------------------


def test_dose_on_veterans_explains_what_is_missing():
    at = on_screen("veterans", DOSE)
    ok(at)
    info = texts(at.info)
    assert "no radiotherapy dose columns" in info and "Local control by dose needs" in info
    assert "No dose-level / DLT columns" in texts(at.caption)


def test_dose_screen_on_a_demo_like_cohort():
    at = with_cohort(demo_cohort(), DOSE)
    ok(at)
    dlt = at.dataframe[0].value
    assert [f"{d}/{n}" for d, n in zip(dlt["dlt"], dlt["n"], strict=True)] == [
        "0/3", "0/3", "1/10", "2/5"]
    assert dlt["upper"].round(2).tolist() == [70.76, 70.76, 44.5, 85.34]
    assert "HR per 10 Gy BED10 (95% CI)" in [m.label for m in at.metric]
    assert "cause-specific" in texts(at.caption)
    at.number_input(key="dose.uploaded.alpha_beta").set_value(3.0).run()
    assert "α/β = 3 Gy" in texts(at.caption)
    at.selectbox(key="dose.uploaded.by").set_value("rt_technique").run()
    at.selectbox(key="dose.uploaded.kind").set_value("strip").run()
    at.number_input(key="dose.uploaded.cut").set_value(60.0).run()
    ok(at)
