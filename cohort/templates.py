"""Upload templates: example patients and toxicities, and the data dictionary (CSV and .xlsx)."""

from __future__ import annotations

import io

import polars as pl

from cohort.export import text_only_workbook
from cohort.io import to_text_table
from cohort.schema import COLUMN_DESCRIPTIONS, PATIENT_COLUMNS, TOXICITY_COLUMNS


def example_patients() -> pl.DataFrame:
    """Three example patients in canonical columns (times in months, events coded 0/1/2)."""
    rows = {
        "patient_id": ["P001", "P002", "P003"],
        "study": ["Institution A"] * 3,
        "age_years": [64.0, 58.0, 71.0],
        "sex": ["male", "female", "male"],
        "histology": ["colorectal adenocarcinoma", "clear cell RCC", "non-small cell lung cancer"],
        "treated_sites": [["lung"], ["bone", "lymph node"], ["liver"]],
        "n_metastases": [2, 3, 1],
        "oligo_state": ["oligoprogressive", "oligometastatic", "oligorecurrent"],
        "ecog": [0, 1, 1],
        "rt_technique": ["SBRT", "SBRT", "IMRT"],
        "rt_total_dose_gy": [50.0, 37.5, 50.0],
        "rt_fractions": [5, 5, 25],
        "regimen": ["FOLFOX", "pazopanib", "none"],
        "drug_dose_mg": [None, 800.0, None],
        "dose_level": [None, None, None],
        "dlt": [False, False, None],
        "toxicity_assessed": [True, True, True],
        "line_of_therapy": [2, 1, None],
        "best_response": ["PR", "SD", "CR"],
        "os_months": [24.3, 18.1, 9.6],
        "os_event": [0, 1, 0],
        "pfs_months": [8.2, 6.5, 9.6],
        "pfs_event": [1, 1, 0],
        "lc_months": [24.3, 12.0, 9.6],
        "lc_event": [0, 1, 0],
        "ttnt_months": [9.5, 18.1, 9.6],
        "ttnt_event": [1, 2, 0],
    }
    return pl.DataFrame(rows, schema=PATIENT_COLUMNS)


def example_toxicities() -> pl.DataFrame:
    """Example toxicity rows: one per patient, term and phase with the worst CTCAE grade."""
    rows = {
        "patient_id": ["P001", "P001", "P002"],
        "term": ["Fatigue", "Pneumonitis", "Hypertension"],
        "grade": [1, 2, 3],
        "phase": ["acute", "late", "acute"],
        "onset_months": [0.5, 4.0, 1.0],
    }
    return pl.DataFrame(rows, schema=TOXICITY_COLUMNS)


def data_dictionary() -> pl.DataFrame:
    """Table, column, type, required and description of every template column."""
    def rows(table: str, columns: dict, required: set[str]) -> list[dict]:
        return [
            {"table": table, "column": name, "type": _type_name(dtype),
             "required": "yes" if name in required else "no",
             "description": COLUMN_DESCRIPTIONS.get(name, "")}
            for name, dtype in columns.items()
        ]
    entries = rows("patients", PATIENT_COLUMNS, {"patient_id"})
    entries += rows("toxicities", TOXICITY_COLUMNS, {"patient_id", "term", "grade"})
    return pl.DataFrame(entries)


def _type_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.List):
        return "text list (';'-separated)"
    if dtype.is_integer():
        return "whole number"
    if dtype.is_float():
        return "number"
    return "yes/no" if dtype == pl.Boolean else "text"


def template_csv(table: str) -> bytes:
    """The 'patients' or 'toxicities' example as CSV bytes."""
    frame = example_patients() if table == "patients" else example_toxicities()
    return to_text_table(frame).write_csv().encode()


def template_xlsx() -> bytes:
    """An .xlsx workbook with sheets patients, toxicities and dictionary."""
    buffer = io.BytesIO()
    with text_only_workbook(buffer) as workbook:
        for sheet, frame in (("patients", to_text_table(example_patients())),
                             ("toxicities", example_toxicities()),
                             ("dictionary", data_dictionary())):
            frame.write_excel(workbook, worksheet=sheet, autofit=True)
    return buffer.getvalue()
