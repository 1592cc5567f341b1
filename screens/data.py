"""Data: bundled datasets, uploading your own file (map, state units and codes, validate), templates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl
import streamlit as st

from cohort.datasets import list_datasets
from cohort.io import (
    EVENT_CODINGS,
    MONTHS_PER_UNIT,
    CohortValidationError,
    ReadOptions,
    blank_rows,
    event_values,
    excel_sheets,
    numbers_as_on_load,
    read_table,
    source_label,
    suggest_mapping,
    validate_cohort,
)
from cohort.schema import (
    COLUMN_DESCRIPTIONS,
    PATIENT_COLUMNS,
    PATIENT_ID,
    TOXICITY_COLUMNS,
    identifying_columns,
)
from cohort.templates import data_dictionary, template_csv, template_xlsx
from ui.session import current_view, keep_upload, uploaded_cohort
from ui.text import literal_markdown

FILE_TYPES = ["csv", "txt", "parquet", "xlsx"]
KEEP = "(keep as is)"
NO_SHEET = "(none)"
PREVIEW_ROWS = 5
_PARSED = "upload.parsed"  # session state: what the current uploads parsed to


@dataclass(frozen=True)
class Upload:
    """An uploaded file's name and bytes, and the sha256 of the bytes (hashed once per run)."""

    name: str
    data: bytes
    digest: str


def as_upload(file) -> Upload | None:
    """The Streamlit ``UploadedFile`` as an ``Upload`` (None when nothing is uploaded)."""
    if file is None:
        return None
    data = file.getvalue()
    return Upload(file.name, data, hashlib.sha256(data).hexdigest())


def _parsed_uploads() -> dict:
    """This session's parsed uploads: (sha256 of the bytes, ...) -> problems, table or sheets."""
    return st.session_state.setdefault(_PARSED, {})


def forget_other_uploads(*uploads: Upload | None) -> None:
    """Drop what files no longer uploaded parsed to: the store holds the current uploads only."""
    current = {upload.digest for upload in uploads if upload is not None}
    store = _parsed_uploads()
    for key in [k for k in store if k[0] not in current]:
        del store[key]


def parsed_table(upload: Upload, label: str, decimal: str | None, sheet: str | None
                 ) -> pl.DataFrame:
    """``read_table`` of an upload, parsed once per file, sheet and decimal separator and kept
    in this session; its problems are raised again on every rerun."""
    key = (upload.digest, "table", label, decimal, sheet)
    store = _parsed_uploads()
    if key not in store:
        try:
            store[key] = read_table(upload.data, label, decimal, sheet)
        except CohortValidationError as error:
            store[key] = error.problems
    if isinstance(store[key], list):
        raise CohortValidationError(store[key])
    return store[key]


def parsed_sheets(upload: Upload) -> list[str]:
    """``excel_sheets`` of an upload, read once per file and kept in this session."""
    key = (upload.digest, "sheets")
    store = _parsed_uploads()
    if key not in store:
        store[key] = excel_sheets(upload.data)
    return store[key]


def show_problems(problems: list, heading: str) -> None:
    """Every validation problem as a bullet (as text: problems quote file and column names),
    under a heading saying nothing was loaded."""
    lines = "\n".join(f"- {literal_markdown(problem)}" for problem in problems)
    st.error(f"**{literal_markdown(heading)}**\n\n{lines}")


def mapping_widgets(columns: list[str], canonical: dict, key: str) -> dict[str, str | None]:
    """A selectbox per file column, preset to the suggested canonical column."""
    suggestion = suggest_mapping(columns, canonical)
    targets = [KEEP, *canonical]
    mapping: dict[str, str | None] = {}
    slots = st.columns(3)
    for index, column in enumerate(columns):
        preset = suggestion[column] or KEEP
        chosen = slots[index % 3].selectbox(
            f"{literal_markdown(column)} →", targets, index=targets.index(preset), key=f"{key}.{column}",
            help=COLUMN_DESCRIPTIONS.get(preset),
        )
        mapping[column] = None if chosen == KEEP else chosen
    return mapping


def event_coding_widgets(table: pl.DataFrame, mapping: dict[str, str | None], key: str
                         ) -> dict[str, str | None]:
    """Ask how each mapped event column is coded; never preset."""
    codings: dict[str, str | None] = {}
    for source, target in mapping.items():
        if target and target.endswith("_event") and source in table.columns:
            found = ", ".join(event_values(table, source)[:8])
            codings[target] = st.selectbox(
                literal_markdown(f"How is '{source}' ({target}) coded? Values in the file: "
                                 f"{found}"),
                list(EVENT_CODINGS), index=None, placeholder="choose the coding",
                key=f"{key}.coding.{target}",
            )
    return codings


def detected_identifying(upload: Upload, table_key: tuple, table: pl.DataFrame,
                         renames: dict[str, str]) -> frozenset[str]:
    """The columns of the upload's parsed ``table`` (named as after ``renames``) detected as
    identifying, judged as they will load; kept with the parsed upload (0.4 s at 100k rows)."""
    key = (upload.digest, "identifying", *table_key, tuple(sorted(renames.items())))
    store = _parsed_uploads()
    if key not in store:
        store[key] = identifying_columns(numbers_as_on_load(table.rename(renames)))
    return store[key]


def identifying_widget(upload: Upload, table_key: tuple, table: pl.DataFrame,
                       mapping: dict[str, str | None], key: str) -> frozenset[str]:
    """Columns the user marks as identifying patients, beside those detected (named as after
    mapping): never filters, strata, covariates or link values."""
    renames = {c: t for c, t in mapping.items() if t and t != c and c in table.columns}
    if len(set(renames.values()) | (set(table.columns) - set(renames))) < table.width:
        renames = {}  # two columns mapped to one name: validation says so; detect on file names
    detected = detected_identifying(upload, table_key, table, renames) - {PATIENT_ID}
    named = [renames.get(c, c) for c in table.columns]
    others = [c for c in named if c not in detected and c != PATIENT_ID]
    found = ", ".join(sorted(detected)) or "none besides patient_id"
    st.caption(literal_markdown(f"Identifying columns detected (names, record numbers, dates, "
                                f"contact details): {found}. They are never filters, groups or "
                                "link values."))
    chosen = st.multiselect("Also identifying (mark any other column that could identify a "
                            "patient)", others, key=f"{key}.identifying",
                            placeholder="none")
    return frozenset(chosen)


def choose_sheet(sheets: list[str], label: str, key: str, prefer: str,
                 exclude: str | None = None, optional: bool = False) -> str | None:
    """The sheet of a workbook holding a table (None for a single-sheet workbook or other file,
    or when ``optional`` and the user says none); preset to a sheet whose name contains
    ``prefer``."""
    candidates = [sheet for sheet in sheets if sheet != exclude]
    if len(sheets) < 2 or not candidates:
        return None
    options = ([NO_SHEET] if optional else []) + candidates
    preferred = next((o for o in options if prefer in o.lower()), options[0])
    chosen = st.selectbox(label, options, index=options.index(preferred), key=key)
    return None if chosen == NO_SHEET else chosen


def toxicity_source(patients: Upload, patients_sheet: str | None, sheets: list[str],
                    toxicities: Upload | None, key: str) -> tuple[Upload | None, str | None]:
    """Where the toxicities come from: their own file (and sheet), another sheet of the
    patients' workbook, or nowhere: (upload or None, sheet)."""
    if toxicities is not None:
        sheet = choose_sheet(parsed_sheets(toxicities), "Sheet with the toxicities",
                             f"{key}.tox_sheet", prefer="tox")
        return toxicities, sheet
    sheet = choose_sheet(sheets, "Toxicities from another sheet of this workbook (optional)",
                         f"{key}.tox_sheet", prefer="tox", exclude=patients_sheet, optional=True)
    return (None, None) if sheet is None else (patients, sheet)


def upload_section() -> None:
    patients_file = st.file_uploader("Patients table (one row per patient)", type=FILE_TYPES,
                                     key="upload.patients")
    toxicities_file = st.file_uploader("Toxicities table (optional, one row per toxicity; or a "
                                       "sheet of the patients' workbook)", type=FILE_TYPES,
                                       key="upload.toxicities")
    patients, toxicities = as_upload(patients_file), as_upload(toxicities_file)
    forget_other_uploads(patients, toxicities)
    if patients is None:
        st.info("Upload a CSV (comma, semicolon or tab; UTF-8, Latin-1 or UTF-16), Parquet or "
                "Excel file. The templates below show the expected columns.")
        return
    sheets = parsed_sheets(patients)
    sheet = choose_sheet(sheets, "Sheet with the patients (one row per patient)",
                         f"sheet.{patients.digest[:16]}", prefer="patient")
    key = f"map.{patients.digest[:16]}.{sheet or ''}"
    decimal = st.radio("Decimal separator", ["detect", ".", ","], horizontal=True,
                       key=f"{key}.decimal",
                       help="Detected: a comma in semicolon- or tab-separated files")
    decimal_choice = None if decimal == "detect" else decimal
    label = source_label(patients.name, sheet)
    try:
        table = parsed_table(patients, label, decimal_choice, sheet)
    except CohortValidationError as error:
        show_problems(error.problems, "This file cannot be used; nothing was loaded.")
        return
    empty = int(blank_rows(table).sum())
    ignored = f" ({empty} empty {'line' if empty == 1 else 'lines'} ignored)" if empty else ""
    st.caption(literal_markdown(f"{label}: {table.height - empty:,} rows{ignored}, "
                                f"{table.width} columns. First rows:"))
    st.dataframe(table.head(PREVIEW_ROWS), hide_index=True)

    st.markdown("**1. Map the file's columns** (suggested from their names; check each)")
    mapping = mapping_widgets(table.columns, PATIENT_COLUMNS, key)
    st.markdown("**2. State the time unit and how events are coded; mark identifying columns**")
    unit = st.selectbox("Unit of the time columns (converted to months)", list(MONTHS_PER_UNIT),
                        index=None, placeholder="choose the unit", key=f"{key}.unit")
    codings = event_coding_widgets(table, mapping, key)
    marked = identifying_widget(patients, (label, decimal_choice, sheet), table, mapping, key)
    tox_upload, tox_sheet = toxicity_source(patients, sheet, sheets, toxicities, key)
    tox_name = tox_upload.name if tox_upload is not None else "toxicities"
    tox_mapping, tox_table = None, None
    if tox_upload is not None:
        st.markdown(f"**Toxicity columns** ({literal_markdown(source_label(tox_name, tox_sheet))})")
        try:
            tox_table = parsed_table(tox_upload, source_label(tox_name, tox_sheet), decimal_choice,
                                     tox_sheet)
            tox_mapping = mapping_widgets(tox_table.columns, TOXICITY_COLUMNS,
                                          f"tox.{tox_upload.digest[:16]}.{tox_sheet or ''}")
        except CohortValidationError as error:
            show_problems(error.problems, "The toxicities file cannot be used; nothing was loaded.")
            return

    missing = ([] if unit else ["the time unit"]) + [f"the coding of {c}" for c, v in codings.items()
                                                       if v is None]
    if missing:
        st.warning("Before loading, state " + " and ".join(missing) + ".")
    if st.button("Validate and load", type="primary", disabled=bool(missing)):
        options = ReadOptions(mapping=mapping, time_unit=unit, event_codings=codings,
                              decimal=decimal_choice, identifying=marked)
        try:
            cohort = validate_cohort(table, patients.name, options, tox_table, tox_name,
                                     tox_mapping, patients_sheet=sheet, toxicities_sheet=tox_sheet)
        except CohortValidationError as error:
            kept = current_view().cohort.name
            show_problems(error.problems, f"{len(error.problems)} problem(s) found; nothing was "
                                          f"loaded, and '{kept}' stays loaded.")
            return
        keep_upload(cohort)
        st.rerun()


def templates_section() -> None:
    cols = st.columns(3)
    cols[0].download_button("Patients template (CSV)", template_csv("patients"),
                            "patients_template.csv", "text/csv")
    cols[1].download_button("Toxicities template (CSV)", template_csv("toxicities"),
                            "toxicities_template.csv", "text/csv")
    cols[2].download_button(
        "Both + data dictionary (.xlsx)", template_xlsx(), "oligomet_template.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    with st.expander("Data dictionary"):
        st.dataframe(data_dictionary(), hide_index=True)


st.title("Data")
st.subheader("Bundled datasets")
for info in list_datasets():
    st.markdown(f"**{info.title}**{' — synthetic' if info.synthetic else ''}  \n{info.provenance}")
uploaded = uploaded_cohort()
if uploaded is not None:
    tox = f" and {uploaded.toxicities.height:,} toxicity rows" if uploaded.toxicities is not None else ""
    st.success(f"Loaded in this session: **{literal_markdown(uploaded.name)}** "
               f"({uploaded.n_patients:,} patients{tox}). Choose it under Dataset in the sidebar. "
               "It stays in your browser session only.")

st.subheader("Upload your own")
upload_section()
st.subheader("Templates")
templates_section()
