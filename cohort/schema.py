"""Canonical columns, dtypes and vocabularies of a cohort (see DESIGN.md, "Data model")."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property

import polars as pl

PATIENT_ID = "patient_id"

#: Canonical patient columns and their polars dtypes. Only ``patient_id`` is required.
PATIENT_COLUMNS: dict[str, pl.DataType] = {
    "patient_id": pl.String(),
    "study": pl.String(),
    "age_years": pl.Float64(),
    "sex": pl.String(),
    "histology": pl.String(),
    "treated_sites": pl.List(pl.String()),
    "n_metastases": pl.Int64(),
    "oligo_state": pl.String(),
    "ecog": pl.Int64(),
    "rt_technique": pl.String(),
    "rt_total_dose_gy": pl.Float64(),
    "rt_fractions": pl.Int64(),
    "regimen": pl.String(),
    "drug_dose_mg": pl.Float64(),
    "dose_level": pl.Int64(),
    "dlt": pl.Boolean(),
    "toxicity_assessed": pl.Boolean(),
    "line_of_therapy": pl.Int64(),
    "best_response": pl.String(),
    "os_months": pl.Float64(),
    "os_event": pl.Int64(),
    "pfs_months": pl.Float64(),
    "pfs_event": pl.Int64(),
    "lc_months": pl.Float64(),
    "lc_event": pl.Int64(),
    "ttnt_months": pl.Float64(),
    "ttnt_event": pl.Int64(),
}

#: Columns derived on load from dose and fractionation (cohort.dose.add_dose_columns).
DERIVED_DOSE_COLUMNS = ("dose_per_fraction_gy", "bed10_gy", "eqd2_gy")

#: Canonical toxicity columns (long format, one row per patient x term x phase).
TOXICITY_COLUMNS: dict[str, pl.DataType] = {
    "patient_id": pl.String(),
    "term": pl.String(),
    "grade": pl.Int64(),
    "phase": pl.String(),
    "onset_months": pl.Float64(),
}
TOXICITY_REQUIRED = ("patient_id", "term", "grade")

SEX_VALUES = ("female", "male", "unknown")
OLIGO_STATES = (
    "oligometastatic",
    "oligoprogressive",
    "oligopersistent",
    "oligorecurrent",
    "unknown",
)
RESPONSES = ("CR", "PR", "SD", "PD", "NE")
TOXICITY_PHASES = ("acute", "late")
#: Outcomes observed after treatment starts. As covariates of survival from the start of treatment
#: they bias hazard ratios (a responder had to live long enough to respond: immortal time).
POST_TREATMENT_COLUMNS = ("best_response", "lesion_responses", "dlt", "failure_pattern",
                          "further_progression", "alive_without_disease")
#: Event codes: 0 censored, 1 event, 2 competing event (LC, TTNT: death first).
EVENT_CODES = (0, 1, 2)


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event endpoint: time column (months for canonical ones) and event column."""

    key: str
    label: str
    time: str
    event: str
    competing_label: str | None = None


ENDPOINTS: dict[str, Endpoint] = {
    e.key: e
    for e in (
        Endpoint("OS", "Overall survival", "os_months", "os_event"),
        Endpoint("PFS", "Progression-free survival", "pfs_months", "pfs_event"),
        Endpoint("LC", "Local control", "lc_months", "lc_event", "death before local failure"),
        Endpoint(
            "TTNT", "Time to next-line therapy", "ttnt_months", "ttnt_event",
            "death before next-line therapy",
        ),
    )
}


@dataclass(frozen=True)
class Cohort:
    """A patients table (one row per patient), optional toxicities, a name and its provenance."""

    name: str
    patients: pl.DataFrame
    toxicities: pl.DataFrame | None = None
    provenance: str = ""
    synthetic: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    #: Columns the user marked as identifying patients (added to those detected).
    marked_identifying: frozenset[str] = frozenset()

    @cached_property
    def identifying(self) -> frozenset[str]:
        """Columns that identify patients: never filters, strata, covariates or link values."""
        return identifying_columns(self.patients, self.marked_identifying)

    @property
    def n_patients(self) -> int:
        return self.patients.height

    def endpoints(self) -> list[Endpoint]:
        """The endpoints of the patients' columns (:func:`endpoints_of`)."""
        return endpoints_of(self.patients.columns)


def endpoints_of(columns: Collection[str]) -> list[Endpoint]:
    """Canonical endpoints whose time and event columns are both present, then any other
    ``K_months`` / ``K_event`` pair (an endpoint derived from dates under its own name)."""
    cols = set(columns)
    canonical = [e for e in ENDPOINTS.values() if e.time in cols and e.event in cols]
    known = {e.time for e in ENDPOINTS.values()}
    custom = [Endpoint(c.removesuffix("_months").upper(),
                       c.removesuffix("_months").replace("_", " ").capitalize(), c,
                       c.removesuffix("_months") + "_event")
              for c in columns
              if c.endswith("_months") and c not in known
              and c.removesuffix("_months") + "_event" in cols]
    return canonical + custom

#: One line per canonical column, for the data dictionary and the column-mapping screen.
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "patient_id": "Unique patient identifier (required).",
    "study": "Source cohort or institution.",
    "age_years": "Age at treatment, years.",
    "sex": "female / male / unknown.",
    "histology": "Primary tumour type, e.g. 'colorectal adenocarcinoma', 'clear cell RCC'.",
    "treated_sites": "Irradiated sites separated by ';', e.g. 'lung;lymph node'.",
    "n_metastases": "Number of metastases at treatment.",
    "oligo_state": "oligometastatic / oligoprogressive / oligopersistent / oligorecurrent / unknown.",
    "ecog": "ECOG performance status 0-4.",
    "rt_technique": "SBRT / SRS / IMRT / 3D-CRT / IGRT ...",
    "rt_total_dose_gy": "Total radiation dose, Gy.",
    "rt_fractions": "Number of fractions.",
    "regimen": "Systemic regimen; 'none' when radiotherapy alone.",
    "drug_dose_mg": "Drug dose in a dose-escalation study, mg.",
    "dose_level": "Dose level in a dose-escalation study.",
    "dlt": "Dose-limiting toxicity (yes/no).",
    "toxicity_assessed": "Assessed for toxicity (yes/no), with or without a recorded toxicity: "
                         "the toxicity rates' denominator. Without this column, patients with a "
                         "toxicity record are the denominator.",
    "line_of_therapy": "Line of systemic therapy.",
    "best_response": "CR / PR / SD / PD / NE.",
    "os_months": "Time to death or last follow-up (unit stated on upload).",
    "os_event": "Death (event) or censored.",
    "pfs_months": "Time to progression, death or last follow-up.",
    "pfs_event": "Progression or death (event) or censored.",
    "lc_months": "Time to local failure, death or last follow-up.",
    "lc_event": "Local failure (1), censored (0), death before local failure (2).",
    "ttnt_months": "Time to next-line systemic therapy, death or last follow-up.",
    "ttnt_event": "Next-line therapy (1), censored (0), death first (2).",
    "term": "CTCAE term of a toxicity.",
    "grade": "CTCAE grade 1-5.",
    "phase": "acute / late.",
    "onset_months": "Months from start of treatment to onset.",
}

#: Labels users see for canonical and derived columns; other columns are shown humanised.
COLUMN_LABELS: dict[str, str] = {
    "patient_id": "Patient", "study": "Study", "age_years": "Age (years)", "sex": "Sex",
    "histology": "Histology", "treated_sites": "Treated site", "n_metastases": "Metastases (n)",
    "oligo_state": "Oligometastatic state", "ecog": "ECOG", "rt_technique": "Technique",
    "rt_total_dose_gy": "Total dose (Gy)", "rt_fractions": "Fractions",
    "dose_per_fraction_gy": "Dose per fraction (Gy)", "bed10_gy": "BED10 (Gy)",
    "eqd2_gy": "EQD2 (Gy)", "regimen": "Systemic regimen", "drug_dose_mg": "Drug dose (mg)",
    "dose_level": "Dose level", "dlt": "Dose-limiting toxicity",
    "toxicity_assessed": "Assessed for toxicity", "line_of_therapy": "Line of therapy",
    "best_response": "Best response", "kps": "Karnofsky score",
    "os_months": "OS time (months)", "os_event": "OS event", "pfs_months": "PFS time (months)",
    "pfs_event": "PFS event", "lc_months": "LC time (months)", "lc_event": "LC event",
    "ttnt_months": "TTNT time (months)", "ttnt_event": "TTNT event",
    "os_days": "OS time (days)", "pfs_days": "PFS time (days)", "lc_days": "LC time (days)",
    "ttnt_days": "TTNT time (days)",
}


#: Name endings of an endpoint's time (months) and event columns.
OUTCOME_SUFFIXES = ("_months", "_event")


def is_outcome_column(name: str, columns: Collection[str]) -> bool:
    """Whether ``name`` holds an endpoint's time or event, never a filter, stratum, Table 1 row,
    toxicity group or covariate: a ``_months`` or ``_event`` column, or a ``K_days`` column
    whose endpoint is among ``columns`` (``K_months`` or ``K_event``; registry dates give
    ``K_days`` beside them). A ``_days`` column of no endpoint (e.g. ``rt_duration_days``) is
    not an outcome."""
    if name.endswith(OUTCOME_SUFFIXES):
        return True
    base = name.removesuffix("_days")
    return base != name and bool({f"{base}_months", f"{base}_event"} & set(columns))


def is_numeric(dtype: pl.DataType) -> bool:
    """True for number columns (booleans are categories here, not numbers)."""
    return dtype.is_numeric() and dtype != pl.Boolean


#: Share of distinct values above which a text column is taken to identify patients.
IDENTIFYING_SHARE = 0.8
#: Share of distinct values above which a column of whole numbers of 4+ digits is taken to be a
#: record number (registry, chart or hospital number).
RECORD_NUMBER_SHARE = 0.9
#: Column names (lower case, letters and digits only) that say the column identifies a person.
IDENTIFYING_NAMES = re.compile(
    r"^(patient|pt|full|first|last|given|family|sur|fore|middle|maiden|mother|father|next"
    r"ofkin|contact)?names?$"
    r"|^(patient|pt|local|hospital)?(mrn|dob|ssn)(local|nr|no|number|date)?$|medicalrecord|recordn(o|um|umber)|chartn(o|um|umber)|hospitaln(o|um|umber)"
    r"|casen(o|um|umber)|accession|socialsecurity|nhsn(o|um|umber)|insurancen(o|um|umber)"
    r"|passport|nationalid|personnumm|initials|dateofbirth|birth|geburt|email|phone"
    r"|telephone|mobile|address|street|postcode|postalcode|zipcode"
)
#: Text values that name or reach a person: HL7 names (DOE^JANE), 'Doe, Jane', e-mail addresses,
#: phone numbers, full dates (a date of birth, of treatment: identifying under HIPAA).
IDENTIFYING_VALUES = re.compile(
    r"^[^\s^]+\^[^\s^]+"
    r"|^[A-Z][A-Za-z'\-]+,\s*[A-Z][A-Za-z'\-]+$"
    r"|^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
    r"|^\+?[\d\s()\-/.]{9,}\d$"
    r"|^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}[./]\d{1,2}[./]\d{2,4}$"
)
#: Share of a text column's values matching :data:`IDENTIFYING_VALUES` that marks it identifying,
#: when at least :data:`PERSON_LIKE_DISTINCT_SHARE` of its values are distinct (a category such as
#: 'Adenocarcinoma, NOS' repeats far more often than a name).
IDENTIFYING_VALUE_SHARE = 0.5
PERSON_LIKE_DISTINCT_SHARE = 0.3


def _normalised_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _nearly_unique_text(values: pl.Series) -> bool:
    return values.len() > 1 and values.n_unique() >= IDENTIFYING_SHARE * values.len()


def _person_like_text(values: pl.Series) -> bool:
    if values.len() < 2 or values.n_unique() < PERSON_LIKE_DISTINCT_SHARE * values.len():
        return False
    matches = values.str.strip_chars().str.contains(IDENTIFYING_VALUES.pattern)
    return matches.mean() >= IDENTIFYING_VALUE_SHARE


def _record_numbers(values: pl.Series) -> bool:
    """Whole numbers, every one of 4 or more digits, nearly all distinct."""
    if values.len() < 2 or not values.dtype.is_numeric():
        return False
    numbers = values.cast(pl.Float64)
    if not numbers.is_finite().all() or not (numbers == numbers.round(0)).all():
        return False
    return bool(numbers.abs().min() >= 1000) and values.n_unique() >= RECORD_NUMBER_SHARE * values.len()


def identifies_patients(column: pl.Series) -> bool:
    """Whether a column identifies patients, by its name (MRN, name, birth date, ...) or its
    values: text giving (nearly) every patient a value of their own, text shaped like names,
    e-mail addresses, phone numbers or dates, or record numbers (whole numbers of 4+ digits,
    nearly all distinct). Its values are never offered where they would go into a link
    (filters, strata, reference levels): that would put identities in the URL."""
    if column.name == PATIENT_ID or IDENTIFYING_NAMES.search(_normalised_name(column.name)):
        return True
    values = column.drop_nulls()
    if column.dtype == pl.String:
        return _nearly_unique_text(values) or _person_like_text(values)
    return is_numeric(column.dtype) and _record_numbers(values)


def identifying_columns(patients: pl.DataFrame, marked: frozenset[str] = frozenset()
                        ) -> frozenset[str]:
    """The patients' columns that identify patients: those ``marked`` by the user and those
    :func:`identifies_patients` detects."""
    detected = {c for c in patients.columns if identifies_patients(patients[c])}
    return frozenset(detected | (set(marked) & set(patients.columns)))


def column_label(column: str) -> str:
    """The label users see for a column."""
    return COLUMN_LABELS.get(column, column.replace("_", " ").capitalize())
