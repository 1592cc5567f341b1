"""Data: bundled datasets, uploading your own file (map, state units and codes, validate), templates."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
import streamlit as st

from cohort.datasets import list_datasets
from cohort.dates import workbook_date_system
from cohort.endpoints import endpoint_counts
from cohort.headers import MISSING_CODES
from cohort.io import (
    EVENT_CODINGS,
    MONTHS_PER_UNIT,
    CohortValidationError,
    CohortWarnings,
    ReadOptions,
    blank_rows,
    date_column_roles,
    event_values,
    excel_sheets,
    is_excel,
    numbers_as_on_load,
    read_table,
    source_label,
    suggest_mapping,
    suggest_reading,
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
from ui.date_endpoints import date_endpoints_form
from ui.hardening import run_through_entry_script
from ui.session import configured_cohorts, current_view, keep_upload, uploaded_cohort
from ui.text import literal_markdown

run_through_entry_script()

FILE_TYPES = ["csv", "txt", "parquet", "xlsx"]
KEEP = "(keep as is)"
NO_SHEET = "(none)"
PREVIEW_ROWS = 5
_PARSED = "upload.parsed"  # session state: what the current uploads parsed to
_WARNED = "upload.warned"  # session state: (form key, options, warnings) of the last attempt


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


def suggested_reading(upload: Upload, table_key: tuple, table: pl.DataFrame) -> ReadOptions:
    """``suggest_reading`` of the upload's parsed table, made once and kept with it."""
    key = (upload.digest, "suggestion", *table_key)
    store = _parsed_uploads()
    if key not in store:
        store[key] = suggest_reading(table, upload_date_system(upload))
    return store[key]


def upload_date_system(upload: Upload) -> int:
    """The Excel date system of the upload (1900 for anything but a 1904 workbook), read once
    and kept with the parsed upload."""
    key = (upload.digest, "date system")
    store = _parsed_uploads()
    if key not in store:
        store[key] = workbook_date_system(upload.data) if is_excel(upload.data) else 1900
    return store[key]


def found_date_columns(upload: Upload, table_key: tuple, table: pl.DataFrame,
                       missing: frozenset[str], mapping: dict[str, str | None]) -> list[str]:
    """The date columns of the parsed table (not mapped to canonical columns), found once per
    mapping and missing codes and kept with the parsed upload."""
    canonical = tuple(sorted(c for c, t in mapping.items() if t and t in PATIENT_COLUMNS))
    key = (upload.digest, "dates", *table_key, tuple(sorted(missing)), canonical)
    store = _parsed_uploads()
    if key not in store:
        store[key] = list(date_column_roles(table, missing, canonical))
    return store[key]


def mapping_widgets(columns: list[str], canonical: dict, key: str,
                    suggestion: dict[str, str] | None = None) -> dict[str, str | None]:
    """A selectbox per file column, preset to the suggested canonical column."""
    suggestion = suggestion if suggestion is not None else suggest_mapping(columns, canonical)
    targets = [KEEP, *canonical]
    mapping: dict[str, str | None] = {}
    slots = st.columns(3)
    for index, column in enumerate(columns):
        preset = suggestion.get(column) or KEEP
        chosen = slots[index % 3].selectbox(
            f"{literal_markdown(column)} →", targets, index=targets.index(preset),
            key=f"{key}.{column}", help=COLUMN_DESCRIPTIONS.get(preset),
        )
        mapping[column] = None if chosen == KEEP else chosen
    return mapping


def coding_widget(table: pl.DataFrame, column: str, what: str, key: str,
                  suggested: str | None) -> str | None:
    """Ask how ``column`` (``what`` it holds) is coded, preset to the coding its values
    settle (never preset where they do not: 1/2 may be R style or 0/1/2)."""
    found = ", ".join(event_values(table, column)[:8])
    codings = list(EVENT_CODINGS)
    return st.selectbox(
        literal_markdown(f"How is '{column}' ({what}) coded? Values in the file: {found}"),
        codings, index=codings.index(suggested) if suggested in codings else None,
        placeholder="choose the coding", key=key,
    )


def event_coding_widgets(table: pl.DataFrame, mapping: dict[str, str | None], key: str,
                         suggested: Mapping[str, str]) -> dict[str, str | None]:
    """The coding of each mapped event column."""
    return {target: coding_widget(table, source, target, f"{key}.coding.{target}",
                                  suggested.get(target))
            for source, target in mapping.items()
            if target and target.endswith("_event") and source in table.columns}


def unit_widget(mapping: dict[str, str | None], suggested: str | None, key: str) -> str | None:
    """The unit of the mapped duration columns (None when none is mapped or not stated)."""
    if not any(t and t.endswith("_months") for t in mapping.values()):
        return None
    units = list(MONTHS_PER_UNIT)
    return st.selectbox("Unit of the time columns (converted to months)", units,
                        index=units.index(suggested) if suggested in units else None,
                        placeholder="choose the unit", key=f"{key}.unit")


def missing_codes_widget(suggested: frozenset[str], key: str) -> frozenset[str]:
    """The values read as "not recorded" where numbers, dates or codes are expected."""
    choices = sorted(set(MISSING_CODES) | suggested)
    chosen = st.multiselect("Values meaning “not recorded” (where a number, date or code is "
                            "expected; text columns keep them)", choices,
                            default=sorted(suggested), key=f"{key}.missing")
    return frozenset(chosen)


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


def patients_table(patients: Upload) -> tuple[pl.DataFrame, tuple, str | None, list[str]] | None:
    """The patients sheet chosen and parsed, with its key, sheet and the workbook's sheets;
    None (problems shown) when it cannot be read."""
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
        return None
    empty = int(blank_rows(table).sum())
    ignored = f" ({empty} empty {'line' if empty == 1 else 'lines'} ignored)" if empty else ""
    st.caption(literal_markdown(f"{label}: {table.height - empty:,} rows{ignored}, "
                                f"{table.width} columns. First rows:"))
    st.dataframe(table.head(PREVIEW_ROWS), hide_index=True)
    return table, (label, decimal_choice, sheet), sheet, sheets


def reading_widgets(patients: Upload, table: pl.DataFrame, table_key: tuple, key: str
                    ) -> tuple[ReadOptions, list[str]]:
    """The reading the user confirms (preset from the suggestion) and what is still to state."""
    suggestion = suggested_reading(patients, table_key, table)
    st.markdown("**1. Map the file's columns** (suggested from their names; check each)")
    mapping = mapping_widgets(table.columns, PATIENT_COLUMNS, key, dict(suggestion.mapping))
    st.markdown("**2. Units, codes and missing values** (suggested from the names and values)")
    unit = unit_widget(mapping, suggestion.time_unit, key)
    codings = event_coding_widgets(table, mapping, key, suggestion.event_codings)
    missing = missing_codes_widget(suggestion.missing_values, key)
    dates, todo = None, []
    date_columns = found_date_columns(patients, table_key, table, missing, mapping)
    if date_columns:
        st.markdown("**3. Endpoints from dates**")
        dates, status_codings, todo = date_endpoints_form(
            table, date_columns, suggestion.dates, missing, upload_date_system(patients), key,
            coding_widget)
        codings |= status_codings
    st.markdown("**Identifying columns**")
    marked = identifying_widget(patients, table_key, table, mapping, key)
    if unit is None and any(t and t.endswith("_months") for t in mapping.values()):
        todo.insert(0, "the time unit")
    todo += [f"the coding of {c}" for c, v in codings.items() if v is None and c in
             mapping.values()]
    options = ReadOptions(mapping=mapping, time_unit=unit, event_codings=codings,
                          decimal=table_key[1], identifying=marked, missing_values=missing,
                          dates=dates)
    return options, todo


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
    read = patients_table(patients)
    if read is None:
        return
    table, table_key, sheet, sheets = read
    key = f"map.{patients.digest[:16]}.{sheet or ''}"
    options, todo = reading_widgets(patients, table, table_key, key)
    tox_upload, tox_sheet = toxicity_source(patients, sheet, sheets, toxicities, key)
    tox_name = tox_upload.name if tox_upload is not None else "toxicities"
    tox_mapping, tox_table = None, None
    if tox_upload is not None:
        st.markdown(f"**Toxicity columns** ({literal_markdown(source_label(tox_name, tox_sheet))})")
        try:
            tox_table = parsed_table(tox_upload, source_label(tox_name, tox_sheet),
                                     options.decimal, tox_sheet)
            tox_mapping = mapping_widgets(tox_table.columns, TOXICITY_COLUMNS,
                                          f"tox.{tox_upload.digest[:16]}.{tox_sheet or ''}")
        except CohortValidationError as error:
            show_problems(error.problems, "The toxicities file cannot be used; nothing was loaded.")
            return
    if todo:
        st.warning(literal_markdown("Before loading, state " + " and ".join(todo) + "."))

    def load(accept_warnings: bool) -> None:
        try:
            cohort = validate_cohort(table, patients.name, options, tox_table, tox_name,
                                     tox_mapping, patients_sheet=sheet, toxicities_sheet=tox_sheet,
                                     accept_warnings=accept_warnings)
        except CohortWarnings as warned:
            st.session_state[_WARNED] = (key, options, warned.problems)
            return
        except CohortValidationError as error:
            st.session_state.pop(_WARNED, None)
            kept = current_view().cohort.name
            show_problems(error.errors, f"{len(error.errors)} problem(s) found; nothing was "
                                        f"loaded, and '{kept}' stays loaded.")
            if error.warnings:
                show_warnings(error.warnings, "Also, to check:")
            return
        st.session_state.pop(_WARNED, None)
        keep_upload(cohort)
        st.rerun()

    if st.button("Validate and load", type="primary", disabled=bool(todo)):
        load(accept_warnings=False)
    warned = st.session_state.get(_WARNED)
    if warned and warned[0] == key and warned[1] == options:
        show_warnings(warned[2], f"{len(warned[2])} warning(s): check them in the file, or "
                                 "load it as it is.")
        if st.button(f"Load anyway, with {len(warned[2])} warning(s)"):
            load(accept_warnings=True)


def show_warnings(problems: list, heading: str) -> None:
    """Warnings (loading may go on) as bullets, as text, under ``heading``."""
    lines = "\n".join(f"- {literal_markdown(problem)}" for problem in problems)
    st.warning(f"**{literal_markdown(heading)}**\n\n{lines}", icon=":material/warning:")


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
server_datasets = configured_cohorts()
if server_datasets:
    st.subheader("This server's datasets")
    for configured in server_datasets.values():
        st.markdown(f"**{literal_markdown(configured.name)}**  \n"
                    f"{literal_markdown(configured.provenance)}")
uploaded = uploaded_cohort()
if uploaded is not None:
    tox = f" and {uploaded.toxicities.height:,} toxicity rows" if uploaded.toxicities is not None else ""
    st.success(f"Loaded in this session: **{literal_markdown(uploaded.name)}** "
               f"({uploaded.n_patients:,} patients{tox}). Choose it under Dataset in the sidebar. "
               "It stays in your browser session only.")
    st.caption(literal_markdown(uploaded.provenance))
    if uploaded.endpoints():
        st.dataframe(endpoint_counts(uploaded.patients, uploaded.endpoints()), hide_index=True)

st.subheader("Upload your own")
upload_section()
st.subheader("Templates")
templates_section()
