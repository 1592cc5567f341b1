"""Reading a clinician's own files: CSV, Parquet or Excel -> mapped, validated ``Cohort``.

Every source is first read as text columns (one parsing path for all formats: ``cohort.parse``,
run in a memory- and time-limited child process by ``cohort.sandbox``, within the limits of
``cohort.limits``), then mapped to canonical columns, converted with the time unit and event
coding the user stated, and validated (``validate_cohort``; ``read_cohort`` does both).
A file with any problem raises ``CohortValidationError`` listing every problem with its column
and spreadsheet rows (row 1 is the header, so the first patient is row 2); nothing is returned
from a failing file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from cohort.dose import add_dose_columns
from cohort.limits import (
    DEFAULT_LIMITS,
    FileProblem,
    ReadLimits,
    check_file_size,
    open_workbook,
    workbook_sheets,
)
from cohort.sandbox import parse_in_child
from cohort.schema import (
    OLIGO_STATES,
    PATIENT_COLUMNS,
    PATIENT_ID,
    RESPONSES,
    TOXICITY_COLUMNS,
    TOXICITY_PHASES,
    TOXICITY_REQUIRED,
    Cohort,
)
from cohort.units import DAYS_PER_MONTH, DAYS_PER_UNIT

#: Months per unit of time, for converting stated time units to months (cohort.units).
MONTHS_PER_UNIT: dict[str, float] = {unit: days / DAYS_PER_MONTH for unit, days in DAYS_PER_UNIT.items()}

#: Event codings a user can state: text value (lower case) -> canonical code 0/1/2.
EVENT_CODINGS: dict[str, dict[str, int]] = {
    "0/1 (0 = censored, 1 = event, 2 = competing event)": {"0": 0, "1": 1, "2": 2},
    "1/2 (R style: 1 = censored, 2 = event)": {"1": 0, "2": 1},
    "dead/alive": {"alive": 0, "dead": 1},
    "yes/no (yes = event)": {"no": 0, "yes": 1},
    "true/false (true = event)": {"false": 0, "true": 1},
}

MAX_ROWS_LISTED = 10
_SEX_CODES = {"f": "female", "female": "female", "w": "female", "woman": "female",
              "m": "male", "male": "male", "man": "male", "unknown": "unknown", "u": "unknown"}
_BOOL_CODES = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False,
               "y": True, "n": False}

#: Other spellings of canonical column names, compared after normalising (lower case, a-z0-9).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "patient_id": ("id", "patient", "patientid", "pid", "subject", "subjectid", "mrn", "caseid"),
    "age_years": ("age", "ageyears", "ageatrt", "ageattreatment"),
    "sex": ("gender",),
    "histology": ("histo", "celltype", "primary", "primarytumor", "primarytumour", "tumortype"),
    "treated_sites": ("site", "sites", "treatedsite", "rtsite", "rtsites", "targetsite"),
    "n_metastases": ("nmets", "metastases", "nummets", "numberofmetastases", "nlesions"),
    "oligo_state": ("oligo", "oligostate", "oligostatus"),
    "ecog": ("ps", "ecogps", "performancestatus"),
    "rt_technique": ("technique", "rttechnique", "modality"),
    "rt_total_dose_gy": ("dose", "totaldose", "totaldosegy", "dosegy", "rtdose", "rtdosegy"),
    "rt_fractions": ("fractions", "fx", "nfractions", "fractionsn", "nfx"),
    "regimen": ("treatment", "systemic", "systemictherapy", "chemo", "drug", "arm", "horth"),
    "drug_dose_mg": ("drugdose", "drugdosemg"),
    "dose_level": ("level", "doselevel"),
    "line_of_therapy": ("line", "therapyline", "lot"),
    "best_response": ("response", "bestresponse", "recist"),
    "os_months": ("os", "ostime", "survivaltime", "survtime", "time", "osmonths", "osdays"),
    "os_event": ("osevent", "osstatus", "status", "dead", "death", "vitalstatus", "died"),
    "pfs_months": ("pfs", "pfstime", "pfsmonths", "rfs", "rfstime", "dfs", "dfstime"),
    "pfs_event": ("pfsevent", "pfsstatus", "progression", "rfsevent", "rfsstatus", "dfsevent"),
    "lc_months": ("lc", "lctime", "lcmonths", "localcontroltime"),
    "lc_event": ("lcevent", "lcstatus", "localfailure"),
    "ttnt_months": ("ttnt", "ttnttime", "ttntmonths"),
    "ttnt_event": ("ttntevent", "ttntstatus"),
    "term": ("toxicity", "adverseevent", "ae", "ctcaeterm"),
    "grade": ("ctcaegrade", "toxgrade"),
    "phase": ("timing", "acutelate"),
    "onset_months": ("onset", "onsettime"),
}


@dataclass(frozen=True)
class Problem:
    """One validation problem: which file, column and spreadsheet rows, and what is wrong."""

    file: str
    column: str | None
    rows: tuple[int, ...]
    message: str

    def __str__(self) -> str:
        where = f"column '{self.column}'" if self.column else "file"
        text = f"{self.file}, {where}: {self.message}"
        return f"{text} ({_rows_text(self.rows)})" if self.rows else text


class CohortValidationError(Exception):
    """Raised with every problem found; nothing from the file is loaded."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class ReadOptions:
    """What the user states about a patients file: mapping, time unit and event codings.

    ``mapping``: file column -> canonical column (or the file column's own name to keep it).
    ``event_codings``: canonical event column -> key of ``EVENT_CODINGS``.
    ``decimal``: "." or ","; None detects a decimal comma in semicolon-separated files.
    ``identifying``: columns (as named after mapping) the user marks as identifying patients,
    besides those detected (``cohort.schema.identifies_patients``).
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    time_unit: str = "months"
    event_codings: Mapping[str, str] = field(default_factory=dict)
    decimal: str | None = None
    identifying: frozenset[str] = frozenset()


def _rows_text(rows: tuple[int, ...]) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_LISTED])
    more = f" and {len(rows) - MAX_ROWS_LISTED} more" if len(rows) > MAX_ROWS_LISTED else ""
    label = "row" if len(rows) == 1 else "rows"
    return f"{label} {shown}{more}"


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# --------------------------------------------------------------------------- reading


def is_excel(data: bytes) -> bool:
    """Whether the bytes are an .xlsx workbook (a zip archive)."""
    return data[:4] == b"PK\x03\x04"


def excel_sheets(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> list[str]:
    """The sheet names of an .xlsx workbook, in order; [] for other or unreadable files. Read
    from the workbook's (size-bounded) list of sheets; nothing else is parsed."""
    if not is_excel(data) or len(data) > limits.max_file_bytes:
        return []
    try:
        return list(workbook_sheets(open_workbook(data, limits)))
    except FileProblem:  # read_table reports why the file cannot be read
        return []


def source_label(file_name: str, sheet: str | None = None) -> str:
    """How problems name a file, with the sheet of a workbook: "registry.xlsx, sheet 'tox'"."""
    return f"{file_name}, sheet '{sheet}'" if sheet else file_name


def read_table(data: bytes, file_name: str, decimal: str | None = None,
               sheet: str | None = None, limits: ReadLimits = DEFAULT_LIMITS) -> pl.DataFrame:
    """The file's table with every column as text (lists joined by ';'); raises
    ``CohortValidationError`` on an unreadable file or one past ``limits``.

    Format comes from the content (Parquet 'PAR1', xlsx zip 'PK'), else CSV: UTF-8, Latin-1 or
    UTF-16 with a byte-order mark, comma, semicolon or tab separated, decimal point or comma
    (converted to a point). ``sheet`` names the sheet of a workbook (default: the first);
    ``file_name`` is for messages. Parsed in a child process (``cohort.sandbox``) within the
    limits' memory and time.
    """
    def fail(problems: list[FileProblem]) -> CohortValidationError:
        return CohortValidationError([Problem(file_name, p.column, p.rows, p.message)
                                      for p in problems])

    try:
        check_file_size(data, limits)
    except FileProblem as problem:
        raise fail([problem]) from None
    if not data.strip():
        raise CohortValidationError([Problem(file_name, None, (), "the file is empty")])
    parsed = parse_in_child(data, decimal, sheet, limits)
    if isinstance(parsed, list):
        raise fail(parsed)
    if parsed.height == 0 or blank_rows(parsed).all():
        raise CohortValidationError([Problem(file_name, None, (), "the file has no data rows")])
    return parsed


def blank_rows(table: pl.DataFrame) -> pl.Series:
    """True for the rows with no value at all (empty lines): ignored, but still counted in the
    row numbers that problems give."""
    return table.select(pl.all_horizontal(pl.all().is_null()).alias("blank")).to_series()


# --------------------------------------------------------------------------- mapping


def suggest_mapping(columns: list[str], canonical: Mapping[str, object] = PATIENT_COLUMNS
                    ) -> dict[str, str | None]:
    """For each file column, the canonical column its name suggests (None: keep as is).

    Exact names win over synonyms; no canonical column is suggested twice.
    """
    suggestion: dict[str, str | None] = dict.fromkeys(columns)
    taken: set[str] = set()
    by_name = {_normalise(c): c for c in canonical}
    for column in columns:
        target = by_name.get(_normalise(column))
        if target and target not in taken:
            suggestion[column], _ = target, taken.add(target)
    for column in columns:
        if suggestion[column]:
            continue
        key = _normalise(column)
        for target, synonyms in _SYNONYMS.items():
            if target in canonical and target not in taken and key in synonyms:
                suggestion[column] = target
                taken.add(target)
                break
    return suggestion


def apply_mapping(table: pl.DataFrame, mapping: Mapping[str, str | None], file_name: str
                  ) -> pl.DataFrame:
    """The table with file columns renamed to their canonical names; unmapped columns kept."""
    renames = {src: dst for src, dst in mapping.items() if dst and dst != src and src in table}
    targets = list(renames.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    clashes = [t for t in targets if t in table.columns and t not in renames]
    problems = [Problem(file_name, t, (), "more than one file column is mapped to it")
                for t in doubled]
    problems += [Problem(file_name, t, (), "a file column has this name and another column "
                                           "is mapped to it") for t in clashes]
    if problems:
        raise CohortValidationError(problems)
    return table.rename(renames)


def event_values(table: pl.DataFrame, column: str) -> list[str]:
    """Distinct non-missing values of a text column, sorted, for stating the event coding."""
    values = table[column].drop_nulls().str.strip_chars().unique().sort()
    return values.to_list()


# --------------------------------------------------------------------------- validation


def _row_numbers(mask: pl.Series) -> tuple[int, ...]:
    """Spreadsheet rows (header = row 1) where ``mask`` is true."""
    return tuple(int(i) + 2 for i in mask.arg_true().to_list())


class _Checker:
    """Collects problems while converting text columns of one file to canonical dtypes."""

    def __init__(self, file_name: str, mapping: Mapping[str, str | None] | None = None,
                 blank: pl.Series | None = None):
        self.file_name = file_name
        self.blank = blank  # empty lines: never a problem
        self.problems: list[Problem] = []
        self.labels = {dst: f"{src}' -> '{dst}" for src, dst in (mapping or {}).items()
                       if dst and dst != src}

    def add(self, column: str | None, mask: pl.Series | None, message: str) -> None:
        """Record a problem on ``column`` at the rows where ``mask`` is true (None: whole column)."""
        if mask is not None and self.blank is not None:
            mask = mask & ~self.blank
        rows = _row_numbers(mask) if mask is not None else ()
        if mask is None or rows:
            label = self.labels.get(column, column) if column else None
            self.problems.append(Problem(self.file_name, label, rows, message))

    def numeric(self, text: pl.Series, column: str, integer: bool = False) -> pl.Series:
        stripped = text.str.strip_chars()
        values = _as_numbers(stripped)
        self.add(column, stripped.is_not_null() & values.is_null() & ~_is_nan_text(stripped),
                 "not a number")
        self.add(column, values.is_infinite(), "not a finite number")
        if integer:
            fractional = values.is_not_null() & (values != values.round(0))
            self.add(column, fractional, "not a whole number")
            return values.cast(pl.Int64, strict=False)
        return values

    def coded(self, text: pl.Series, column: str, codes: Mapping[str, object], what: str
              ) -> pl.Series:
        lowered = text.str.strip_chars().str.to_lowercase()
        known = lowered.is_in(list(codes)) | lowered.is_null()
        allowed = ", ".join(dict.fromkeys(str(k) for k in codes))
        self.add(column, ~known, f"not a recognised {what} (allowed: {allowed})")
        return lowered.replace_strict(codes, default=None)


def _convert_patients(table: pl.DataFrame, options: ReadOptions, check: _Checker
                      ) -> pl.DataFrame:
    factor = MONTHS_PER_UNIT[options.time_unit]
    converted: dict[str, pl.Series] = {}
    for column in table.columns:
        text = table[column]
        dtype = PATIENT_COLUMNS.get(column)
        if column.endswith("_event") and column in PATIENT_COLUMNS:
            converted[column] = _convert_event(text, column, options, check)
        elif column.endswith("_months") and column in PATIENT_COLUMNS:
            months = check.numeric(text, column) * factor
            check.add(column, months < 0, "negative time")
            converted[column] = months
        elif column == "treated_sites":
            converted[column] = _split_sites(text)
        elif column == "sex":
            converted[column] = check.coded(text, column, _SEX_CODES, "sex").cast(pl.String)
        elif column == "dlt":
            converted[column] = check.coded(text, column, _BOOL_CODES, "yes/no value")
        elif dtype is not None and dtype.is_numeric():
            converted[column] = check.numeric(text, column, integer=dtype.is_integer())
        elif dtype == pl.String():  # identifiers and names stay text: "001" is not 1
            converted[column] = text.str.strip_chars()
        else:
            converted[column] = _numeric_or_text(text, column, check)
    return pl.DataFrame(converted)


def _convert_event(text: pl.Series, column: str, options: ReadOptions, check: _Checker
                   ) -> pl.Series:
    coding = options.event_codings.get(column)
    if coding not in EVENT_CODINGS:
        check.add(column, None, "state how events are coded in this column")
        return pl.Series(column, [None] * len(text), dtype=pl.Int64)
    codes = check.coded(text, column, EVENT_CODINGS[coding], "code of the stated event coding")
    return codes.cast(pl.Int64)


def _split_sites(text: pl.Series) -> pl.Series:
    return (
        text.str.to_lowercase()
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.len_chars() > 0))
    )


def _as_numbers(stripped: pl.Series) -> pl.Series:
    """Text as numbers: null where not a number; "nan" (any case) is missing, as CSV's "NaN"."""
    return stripped.cast(pl.Float64, strict=False).fill_nan(None)


def _is_nan_text(stripped: pl.Series) -> pl.Series:
    return stripped.str.to_lowercase().is_in(["nan", "-nan", "+nan"])


def numbers_as_on_load(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` (text columns, as read) with each column whose values are all numbers turned
    into numbers, as a kept column is on load: for judging columns before validation."""
    check = _Checker("")
    return table.with_columns(_numeric_or_text(table[c], c, check).alias(c) for c in table.columns)


def _numeric_or_text(text: pl.Series, column: str, check: _Checker) -> pl.Series:
    """A kept column as numbers when every value parses as one (infinities are a problem),
    else as stripped text."""
    stripped = text.str.strip_chars()
    values = _as_numbers(stripped)
    numbers = stripped.is_not_null() & ~_is_nan_text(stripped)
    if numbers.any() and values.is_not_null().sum() == numbers.sum():
        check.add(column, values.is_infinite(), "not a finite number")
        finite = values.filter(values.is_finite())
        whole = (finite == finite.round(0)).all()
        return values.cast(pl.Int64, strict=False) if whole else values
    return stripped


def _check_patients(patients: pl.DataFrame, check: _Checker) -> None:
    if PATIENT_ID not in patients.columns:
        check.add(PATIENT_ID, None, "required column is missing (map a column to patient_id)")
        return
    ids = patients[PATIENT_ID]
    check.add(PATIENT_ID, ids.is_null(), "missing patient_id")
    check.add(PATIENT_ID, ids.is_not_null() & ids.is_duplicated(), "duplicate patient_id")
    for column in patients.columns:
        if column.endswith("_months") and column in PATIENT_COLUMNS:
            event = column.replace("_months", "_event")
            if event not in patients.columns:
                check.add(event, None, f"missing: '{column}' needs its event column")
        if column.endswith("_event") and column in PATIENT_COLUMNS:
            time = column.replace("_event", "_months")
            if time not in patients.columns:
                check.add(time, None, f"missing: '{column}' needs its time column")
    _check_ranges(patients, check)


def _check_ranges(patients: pl.DataFrame, check: _Checker) -> None:
    limits = {"ecog": (0, 4), "age_years": (0, 120), "rt_fractions": (1, 100),
              "rt_total_dose_gy": (0, 200), "line_of_therapy": (0, 20)}
    for column, (low, high) in limits.items():
        if column in patients.columns:
            values = patients[column]
            check.add(column, values.is_not_null() & ((values < low) | (values > high)),
                      f"outside {low}-{high}")
    vocabularies = {"oligo_state": OLIGO_STATES, "best_response": RESPONSES}
    for column, allowed in vocabularies.items():
        if column in patients.columns and patients[column].dtype == pl.String:
            values = patients[column]
            check.add(column, values.is_not_null() & ~values.is_in(list(allowed)),
                      f"not one of {', '.join(allowed)}")


def _convert_toxicities(table: pl.DataFrame, patient_ids: pl.Series, check: _Checker
                        ) -> pl.DataFrame:
    missing = [c for c in TOXICITY_REQUIRED if c not in table.columns]
    for column in missing:
        check.add(column, None, "required column is missing")
    if missing:
        return table
    converted = table.with_columns(
        check.numeric(table["grade"], "grade", integer=True).alias("grade"),
        pl.col("term").str.strip_chars(),
        pl.col(PATIENT_ID).str.strip_chars(),
    )
    grade = converted["grade"]
    check.add("grade", grade.is_null(), "missing grade")
    check.add("grade", grade.is_not_null() & ((grade < 1) | (grade > 5)), "grade outside 1-5")
    check.add("term", converted["term"].is_null(), "missing term")
    check.add("patient_id", ~converted["patient_id"].is_in(patient_ids.implode()),
              "patient_id not in the patients table")
    if "phase" in converted.columns:
        phase = converted["phase"].str.strip_chars().str.to_lowercase()
        check.add("phase", phase.is_not_null() & ~phase.is_in(list(TOXICITY_PHASES)),
                  "phase is not acute or late")
        converted = converted.with_columns(phase.alias("phase"))
    if "onset_months" in converted.columns:
        onset = check.numeric(converted["onset_months"], "onset_months")
        converted = converted.with_columns(onset.alias("onset_months"))
    return converted


# --------------------------------------------------------------------------- entry point


def read_cohort(
    patients: bytes,
    patients_name: str,
    options: ReadOptions,
    toxicities: bytes | None = None,
    toxicities_name: str = "toxicities",
    toxicity_mapping: Mapping[str, str | None] | None = None,
    patients_sheet: str | None = None,
    toxicities_sheet: str | None = None,
) -> Cohort:
    """A validated ``Cohort`` from file bytes; raises ``CohortValidationError`` listing all
    problems in both files. Times are converted to months; dose columns are derived. The
    sheets name the sheets of .xlsx workbooks (both tables may come from one workbook)."""
    raw = read_table(patients, source_label(patients_name, patients_sheet), options.decimal,
                     patients_sheet)
    tox_raw = None
    if toxicities is not None:
        tox_raw = read_table(toxicities, source_label(toxicities_name, toxicities_sheet),
                             options.decimal, toxicities_sheet)
    return validate_cohort(raw, patients_name, options, tox_raw, toxicities_name,
                           toxicity_mapping, patients_sheet, toxicities_sheet)


def validate_cohort(
    raw: pl.DataFrame,
    patients_name: str,
    options: ReadOptions,
    tox_raw: pl.DataFrame | None = None,
    toxicities_name: str = "toxicities",
    toxicity_mapping: Mapping[str, str | None] | None = None,
    patients_sheet: str | None = None,
    toxicities_sheet: str | None = None,
) -> Cohort:
    """A validated ``Cohort`` from tables ``read_table`` returned (as ``read_cohort``, without
    reading the files again); raises ``CohortValidationError`` listing all problems."""
    patients_label = source_label(patients_name, patients_sheet)
    blank = blank_rows(raw)
    check = _Checker(patients_label, options.mapping, blank)
    frame = _convert_patients(apply_mapping(raw, options.mapping, patients_label), options, check)
    _check_patients(frame, check)
    frame = frame.filter(~blank)
    tox_frame = None
    if tox_raw is not None:
        tox_label = source_label(toxicities_name, toxicities_sheet)
        mapping = toxicity_mapping or suggest_mapping(tox_raw.columns, TOXICITY_COLUMNS)
        tox_blank = blank_rows(tox_raw)
        tox_check = _Checker(tox_label, mapping, tox_blank)
        ids = frame[PATIENT_ID] if PATIENT_ID in frame.columns else pl.Series([], dtype=pl.String)
        tox_frame = _convert_toxicities(apply_mapping(tox_raw, mapping, tox_label), ids,
                                        tox_check).filter(~tox_blank)
        check.problems += tox_check.problems
    if check.problems:
        raise CohortValidationError(check.problems)
    return Cohort(
        name=patients_name,
        patients=add_dose_columns(frame),
        toxicities=tox_frame,
        provenance=f"Uploaded file {patients_label}"
        + (f" with toxicities from {source_label(toxicities_name, toxicities_sheet)}"
           if tox_raw is not None else ""),
        marked_identifying=frozenset(options.identifying),
    )


# --------------------------------------------------------------------------- writing


def to_text_table(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with list columns joined by ';' (the CSV and Excel form of treated_sites)."""
    return frame.with_columns(
        pl.col(c).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List)
    )


def write_table(frame: pl.DataFrame, file_format: str) -> bytes:
    """The frame as file bytes: "csv", "parquet" or "xlsx"."""
    buffer = io.BytesIO()
    if file_format == "csv":
        to_text_table(frame).write_csv(buffer)
    elif file_format == "parquet":
        frame.write_parquet(buffer)
    elif file_format == "xlsx":
        to_text_table(frame).write_excel(buffer, autofit=True)
    else:
        raise ValueError(f"unknown format {file_format!r}")
    return buffer.getvalue()
