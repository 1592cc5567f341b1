"""Registry exports with dates, read with the suggested options taken as they are: the derived
endpoints equal the bundled trials' own durations, and KM, log-rank and Cox equal exactly."""

from __future__ import annotations

import polars as pl
import pytest

from cohort.cox import fit_cox
from cohort.datasets import load_dataset
from cohort.io import ReadOptions, read_cohort, suggest_options
from cohort.survival import kaplan_meier, logrank
from tests.registry_exports import FORMATS, clinic_export, export_bytes, gbsg2_dates, veterans_dates


def _load(export: pl.DataFrame, file_format: str):
    data, name = export_bytes(export, file_format)
    options = suggest_options(data, name)
    return read_cohort(data, name, options), options


@pytest.fixture(scope="module", params=FORMATS)
def gbsg2(request):
    export, truth = gbsg2_dates()
    cohort, options = _load(export, request.param)
    return cohort, options, truth


@pytest.fixture(scope="module", params=FORMATS)
def veterans(request):
    export, truth = veterans_dates()
    cohort, options = _load(export, request.param)
    return cohort, options, truth


def test_gbsg2_suggestion_reads_recurrence_free_survival_from_the_dates(gbsg2):
    cohort, options, truth = gbsg2
    assert options.dates is not None and options.dates.time_zero == "RT start"
    assert [r.key for r in options.dates.rules] == ["pfs"]
    assert cohort.patients["pfs_days"].to_list() == truth["days"].to_list()
    assert cohort.patients["pfs_event"].to_list() == truth["event"].to_list()
    assert options.mapping == {"MRN": "patient_id", "Age at diagnosis": "age_years",
                               "Arm": "regimen"}


def test_veterans_suggestion_reads_overall_survival_with_vital_status(veterans):
    cohort, options, truth = veterans
    assert options.dates.vital_status == "Vital status"
    assert options.dates.death == options.dates.last_contact == "Date of death or last contact"
    assert cohort.patients["os_days"].to_list() == truth["days"].to_list()
    assert cohort.patients["os_event"].to_list() == truth["event"].to_list()


def test_the_dates_themselves_are_not_kept(veterans):
    cohort, options, _ = veterans
    assert not set(options.dates.date_columns()) & set(cohort.patients.columns)
    assert "Vital status" not in cohort.patients.columns


def _km_and_logrank(patients: pl.DataFrame, time: str, event: str, by: str):
    km = kaplan_meier(patients, time=time, event=event, by=by)
    return km, logrank(patients, time=time, event=event, by=by)


def test_gbsg2_km_logrank_and_cox_equal_those_of_the_trial_durations(gbsg2):
    cohort, _, _ = gbsg2
    bundled = load_dataset("gbsg2").patients
    ours = cohort.patients.with_columns(pl.col("Positive nodes").alias("positive_nodes"))
    km, test = _km_and_logrank(ours, "pfs_months", "pfs_event", "regimen")
    km_ref, test_ref = _km_and_logrank(bundled, "pfs_months", "pfs_event", "regimen")
    assert km.equals(km_ref)
    assert (test.chisq, test.df) == (test_ref.chisq, test_ref.df)
    fit = fit_cox(ours, time="pfs_months", event="pfs_event",
                  covariates=["age_years", "positive_nodes", "regimen"])
    fit_ref = fit_cox(bundled, time="pfs_months", event="pfs_event",
                      covariates=["age_years", "positive_nodes", "regimen"])
    assert fit.terms.equals(fit_ref.terms)
    assert fit.ph_test.equals(fit_ref.ph_test)


def test_veterans_km_and_logrank_equal_those_of_the_trial_durations(veterans):
    cohort, _, _ = veterans
    bundled = load_dataset("veterans").patients.with_columns(
        pl.col("regimen").str.replace(" chemotherapy", ""))
    km, test = _km_and_logrank(cohort.patients, "os_months", "os_event", "regimen")
    km_ref, test_ref = _km_and_logrank(bundled, "os_months", "os_event", "regimen")
    assert km.equals(km_ref)
    assert test.chisq == test_ref.chisq


def test_clinic_export_loads_with_suggestions_unchanged():
    export = clinic_export()
    data = export.write_csv(separator=";").encode()
    options = suggest_options(data, "registry.csv")
    assert options.mapping["MRN"] == "patient_id"
    assert options.mapping["Arm"] == "regimen"
    assert options.mapping["Age at diagnosis"] == "age_years"
    assert "unknown" in options.missing_values
    assert options.event_codings == {"Vital status": "dead/alive"}
    assert [r.key for r in options.dates.rules] == ["os", "pfs"]
    cohort = read_cohort(data, "registry.csv", options)
    nodes = cohort.patients["Positive nodes"]
    assert nodes.dtype == pl.Int64 and nodes.null_count() == 3
    assert cohort.patients["sex"].unique().sort().to_list() == ["female", "male"]
    assert cohort.patients["os_event"].sum() == (export["Vital status"] == "dead").sum()


@pytest.mark.parametrize(("headers", "expected"), [
    (["MRN", "Age at diagnosis", "Arm", "Sex"],
     ["patient_id", "age_years", "regimen", "sex"]),
    (["Patientennummer", "Alter", "Geschlecht", "Histologie", "Gesamtdosis (Gy)", "Fraktionen"],
     ["patient_id", "age_years", "sex", "histology", "rt_total_dose_gy", "rt_fractions"]),
    (["N° patient", "Âge au diagnostic", "Sexe", "Bras", "Dose totale"],
     ["patient_id", "age_years", "sex", "regimen", "rt_total_dose_gy"]),
    (["id", "OS (days)", "status", "PFS_months", "pfs status"],
     ["patient_id", "os_months", "os_event", "pfs_months", "pfs_event"]),
    (["Subject ID", "ECOG PS", "Technique", "Dose (Gy)", "fx", "Treatment arm"],
     ["patient_id", "ecog", "rt_technique", "rt_total_dose_gy", "rt_fractions", "regimen"]),
])
def test_suggested_mapping_of_header_spellings(headers, expected):
    from cohort.io import suggest_mapping

    assert list(suggest_mapping(headers).values()) == expected


@pytest.mark.parametrize(("header", "unit"), [
    ("OS (days)", "days"), ("os_months", "months"), ("Survival time, weeks", "weeks"),
    ("Überleben (Monate)", "months"), ("Follow-up years", "years"), ("survie (jours)", "days"),
    ("time", None),
])
def test_time_unit_from_a_column_name(header, unit):
    data = f'id,"{header}",status\na,10,dead\nb,20,alive\n'.encode()
    assert suggest_options(data, "x.csv").time_unit == unit


@pytest.mark.parametrize(("values", "coding"), [
    (["dead", "alive"], "dead/alive"), (["Yes", "no"], "yes/no (yes = event)"),
    (["0", "1"], "0/1 (0 = censored, 1 = event, 2 = competing event)"),
    (["0", "1", "2"], "0/1 (0 = censored, 1 = event, 2 = competing event)"),
    (["1", "2"], None), (["TRUE", "FALSE"], "true/false (true = event)"),
    (["dead", "alive", "unknown"], "dead/alive"),
])
def test_event_coding_from_the_values(values, coding):
    rows = "\n".join(f"p{i},{i + 1},{v}" for i, v in enumerate(values))
    options = suggest_options(f"id,os_months,os_event\n{rows}\n".encode(), "x.csv")
    assert options.event_codings.get("os_event") == coding


def test_a_suggestion_without_dates_or_durations_states_no_unit():
    options = suggest_options(b"id,age\na,50\nb,60\n", "x.csv")
    assert options.dates is None and options.time_unit is None
    assert isinstance(options, ReadOptions)


def test_a_landmark_of_365_days_on_a_date_export_counts_rs_patients_at_risk(veterans):
    from cohort.analysis import SurvivalRequest, analyse_survival

    cohort, _, truth = veterans
    result = analyse_survival(cohort.patients, SurvivalRequest(
        "os_months", "os_event", unit="days", landmarks=(365.0, 180.0)))
    rows = {r["time"]: r for r in result.landmarks.iter_rows(named=True)}
    days = truth["days"]
    assert rows[365.0]["n_risk"] == (days >= 365).sum()  # R: summary(fit, times = 365)$n.risk
    assert rows[180.0]["n_risk"] == (days >= 180).sum()
    assert result.medians["median"].to_list() == [80.0]  # R: 80 days


def test_durations_stated_in_days_keep_their_exact_days():
    from cohort.analysis import SurvivalRequest, analyse_survival

    data = b"id,OS (days),status\n" + b"".join(
        f"p{i},{d},{'dead' if i % 3 else 'alive'}\n".encode()
        for i, d in enumerate([100, 365, 365, 400, 730, 20, 365, 900]))
    cohort = read_cohort(data, "d.csv", suggest_options(data, "d.csv"))
    assert cohort.patients["os_days"].to_list() == [100, 365, 365, 400, 730, 20, 365, 900]
    result = analyse_survival(cohort.patients, SurvivalRequest(
        "os_months", "os_event", unit="days", landmarks=(365.0,)))
    assert result.landmarks["n_risk"].to_list() == [6]
