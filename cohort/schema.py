"""Canonical columns, dtypes and vocabularies of a cohort (see DESIGN.md, "Data model")."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def n_patients(self) -> int:
        return self.patients.height

    def endpoints(self) -> list[Endpoint]:
        """Canonical endpoints whose time and event columns are both present."""
        cols = set(self.patients.columns)
        return [e for e in ENDPOINTS.values() if e.time in cols and e.event in cols]

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
    "dose_level": "Dose level", "dlt": "Dose-limiting toxicity", "line_of_therapy": "Line of therapy",
    "best_response": "Best response", "kps": "Karnofsky score",
    "os_months": "OS time (months)", "os_event": "OS event", "pfs_months": "PFS time (months)",
    "pfs_event": "PFS event", "lc_months": "LC time (months)", "lc_event": "LC event",
    "ttnt_months": "TTNT time (months)", "ttnt_event": "TTNT event",
}


def is_numeric(dtype: pl.DataType) -> bool:
    """True for number columns (booleans are categories here, not numbers)."""
    return dtype.is_numeric() and dtype != pl.Boolean


#: Share of distinct values above which a text column is taken to identify patients.
IDENTIFYING_SHARE = 0.8


def identifies_patients(column: pl.Series) -> bool:
    """Whether a text column gives (nearly) every patient a value of their own: a name, a record
    number, a date of birth as text. Its values are never offered where they would go into a
    link (filters, reference levels): that would put identities in the URL."""
    values = column.drop_nulls()
    return (column.dtype == pl.String and values.len() > 1
            and values.n_unique() >= IDENTIFYING_SHARE * values.len())


def column_label(column: str) -> str:
    """The label users see for a column."""
    return COLUMN_LABELS.get(column, column.replace("_", " ").capitalize())
