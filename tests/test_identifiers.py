"""Columns that identify patients are never filters, strata, covariates or link values.

The rule (cohort.schema.identifies_patients) catches names with repeats, numeric record numbers,
column names such as MRN or birth date, and values shaped like names, e-mail addresses, phone
numbers or dates; a user can mark any other column.
"""

from __future__ import annotations

import polars as pl
import pytest

from cohort.cox import covariate_options
from cohort.datasets import list_datasets, load_dataset
from cohort.schema import Cohort, identifies_patients, identifying_columns
from cohort.tables import default_variables
from tests.apptest import load_on_data_page, open_app
from ui.filters import filterable_columns

N = 50


def registry(**extra: list) -> pl.DataFrame:
    """50 patients with a centre (a real grouping) and the ``extra`` columns."""
    return pl.DataFrame({
        "patient_id": [f"p{i:03d}" for i in range(N)],
        "centre": ["A", "B"] * (N // 2),
        "age_years": [float(40 + i % 30) for i in range(N)],
        **extra,
    })


NAMES_WITH_REPEATS = [f"DOE^JANE{i % 35:02d}" for i in range(N)]  # 35 values in 50 rows
RECORD_NUMBERS = [5550000 + i for i in range(N)]
LAST_NAMES = ["Doe", "Roe", "Poe", "Moe", "Low", "Lee", "Ray", "Fox", "Kim", "Cho"]
FIRST_NAMES = ["Jane", "Rick", "Ed"]  # with LAST_NAMES: 30 names in 50 rows


@pytest.mark.parametrize("name, values", [
    ("patient_name", NAMES_WITH_REPEATS),
    ("who", NAMES_WITH_REPEATS),  # the HL7 shape, whatever the column is called
    ("mrn", RECORD_NUMBERS),
    ("chart", RECORD_NUMBERS),  # whole numbers of 7 digits, all distinct
    ("MRN", [f"{i % 20}" for i in range(N)]),  # by its name, even with repeats
    ("Date of birth", [f"19{50 + i % 30}-0{1 + i % 9}-1{i % 10}" for i in range(N)]),
    ("contact", [f"user{i % 30}@example.org" for i in range(N)]),
    ("surname_first", [f"{LAST_NAMES[i % 10]}, {FIRST_NAMES[i // 10 % 3]}" for i in range(N)]),
])
def test_identifying_columns_are_detected(name: str, values: list):
    patients = registry(**{name: values})
    assert identifies_patients(patients[name])
    assert name not in filterable_columns(patients)
    assert name not in covariate_options(patients)
    assert name not in default_variables(patients)


@pytest.mark.parametrize("name, values", [
    ("centre", ["A", "B"] * (N // 2)),
    ("histology", ["Adenocarcinoma, NOS"] * 40 + ["Squamous cell carcinoma, NOS"] * 10),
    ("drug_dose_mg", [1000.0, 1500.0] * (N // 2)),
    ("days_to_rt", list(range(10, 10 + N))),  # distinct whole numbers, but not record-number sized
    ("dobutamine", ["yes", "no"] * (N // 2)),
])
def test_ordinary_columns_stay_available(name: str, values: list):
    patients = registry(**{name: values})
    assert not identifies_patients(patients[name])
    assert name in filterable_columns(patients)


def test_bundled_datasets_keep_every_filter():
    for info in list_datasets():
        assert load_dataset(info.key).identifying == {"patient_id"}, info.key


def test_a_user_can_mark_any_column_as_identifying():
    patients = registry(ward=["W1", "W2", "W3"] * 16 + ["W1", "W2"])
    assert identifying_columns(patients) == {"patient_id"}
    cohort = Cohort("registry.csv", patients, marked_identifying=frozenset({"ward", "absent"}))
    assert cohort.identifying == {"patient_id", "ward"}
    assert "ward" not in filterable_columns(patients, cohort.identifying)
    assert "ward" not in covariate_options(patients, cohort.identifying)


def shown_notices(at) -> str:
    """The warnings on screen as the user reads them (markdown escapes removed)."""
    return "\n".join(str(w.value) for w in at.warning).replace("\\", "")


def upload_csv() -> bytes:
    patients = registry(patient_name=NAMES_WITH_REPEATS, mrn=RECORD_NUMBERS,
                        os_months=[float(1 + i) for i in range(N)],
                        os_event=[i % 2 for i in range(N)])
    return patients.write_csv().encode()


def test_identifying_upload_columns_get_no_filter_stratum_or_link():
    at = load_on_data_page(open_app(), "registry.csv", upload_csv())
    offered = [o for box in at.multiselect if box.label == "More filters" for o in box.options]
    assert "Centre" in offered and not {"Patient name", "Mrn"} & set(offered)
    at.switch_page("pages/survival.py").run()
    strata = at.selectbox(key="surv.by").options
    assert "Centre" in strata and not {"Patient name", "Mrn"} & set(strata)
    assert not at.exception


def test_a_link_naming_an_identifying_column_is_ignored():
    at = open_app(**{"ds": "veterans", "f.patient_id": "3", "survival.by": "patient_id"})
    assert "f.patient_id" in shown_notices(at)
    at.switch_page("pages/survival.py").run()
    assert "Stratify by" in shown_notices(at)
    assert "f.patient_id" not in at.query_params and "survival.by" not in at.query_params
    assert at.selectbox(key="surv.by").value is None


def test_a_column_marked_on_the_data_page_gets_no_filter():
    from cohort.io import EVENT_CODINGS

    at = open_app()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="upload.patients").set_value(("registry.csv", upload_csv(), "text/csv"))
    at.run()
    detected = next(c.value for c in at.caption if "Identifying columns detected" in c.value)
    assert "patient\\_name" in detected and "mrn" in detected
    assert "os\\_months" not in detected  # distinct numbers, judged as numbers, not as text
    marking = next(m for m in at.multiselect if m.label.startswith("Also identifying"))
    assert "centre" in marking.options and "mrn" not in marking.options
    marking.set_value(["centre"]).run()
    next(s for s in at.selectbox if s.label.startswith("Unit of the time")).set_value("months").run()
    coding = next(s for s in at.selectbox if s.label.startswith("How is"))
    coding.set_value(next(k for k in EVENT_CODINGS if k.startswith("0/1"))).run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    offered = [o for box in at.multiselect if box.label == "More filters" for o in box.options]
    assert "Centre" not in offered
