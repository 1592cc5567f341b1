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
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import polars as pl

from cohort.dates import (
    date_format_text,
    date_orders,
    invalid_dates,
    looks_like_dates,
    parse_dates,
    workbook_date_system,
)
from cohort.dose import add_dose_columns
from cohort.endpoints import DateEndpoints, derive_endpoints, standard_rules
from cohort.headers import (
    MISSING_CODES,
    SYNONYMS,
    VITAL_STATUS,
    date_role,
    header_key,
    unit_in_name,
    without_unit,
)
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
from cohort.text import stripped_text
from cohort.units import DAYS_PER_MONTH, DAYS_PER_UNIT

#: Months per unit of time, for converting stated time units to months (cohort.units).
MONTHS_PER_UNIT: dict[str, float] = {unit: days / DAYS_PER_MONTH for unit, days in DAYS_PER_UNIT.items()}

#: Event codings a user can state: text value (lower case) -> canonical code 0/1/2.
EVENT_CODINGS: dict[str, dict[str, int]] = {
    "0/1 (0 = censored, 1 = event, 2 = competing event)": {"0": 0, "1": 1, "2": 2},
    "1/2 (R style: 1 = censored, 2 = event)": {"1": 0, "2": 1},
    "dead/alive": {"alive": 0, "dead": 1, "living": 0, "deceased": 1, "died": 1},
    "yes/no (yes = event)": {"no": 0, "yes": 1},
    "true/false (true = event)": {"false": 0, "true": 1},
}

MAX_ROWS_LISTED = 10
_SEX_CODES = {"f": "female", "female": "female", "w": "female", "woman": "female",
              "m": "male", "male": "male", "man": "male", "unknown": "unknown", "u": "unknown"}
_BOOL_CODES = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False,
               "y": True, "n": False}

@dataclass(frozen=True)
class Problem:
    """One validation problem: which file, column and spreadsheet rows, and what is wrong."""

    file: str
    column: str | None
    rows: tuple[int, ...]
    message: str
    #: A warning may be accepted (the file then loads); any other problem stops the load.
    warning: bool = False

    def __str__(self) -> str:
        where = f"column '{self.column}'" if self.column else "file"
        text = f"{self.file}, {where}: {self.message}"
        return f"{text} ({_rows_text(self.rows)})" if self.rows else text


class CohortValidationError(Exception):
    """Raised with every problem found; nothing from the file is loaded."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop the load."""
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        """The problems the user may accept."""
        return [p for p in self.problems if p.warning]


class CohortWarnings(CohortValidationError):
    """Raised when the only problems are warnings: the file loads once they are accepted
    (``accept_warnings=True``)."""


@dataclass(frozen=True)
class ReadOptions:
    """What the user states about a patients file: mapping, time unit and event codings.

    ``mapping``: file column -> canonical column (or the file column's own name to keep it).
    ``event_codings``: canonical event column -> key of ``EVENT_CODINGS``.
    ``decimal``: "." or ","; None detects a decimal comma in semicolon-separated files.
    ``identifying``: columns (as named after mapping) the user marks as identifying patients,
    besides those detected (``cohort.schema.identifies_patients``).
    ``time_unit``: unit of mapped duration columns (None: not stated; needed only with them).
    ``event_codings`` also codes the status columns ``dates`` reads (by file column name).
    ``missing_values``: values (compared stripped, lower case) that mean "not recorded" where
    a number, a date or an event code is expected; text columns keep them as text.
    ``dates``: the endpoints derived from date columns (file column names), if any.
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    time_unit: str | None = "months"
    event_codings: Mapping[str, str] = field(default_factory=dict)
    decimal: str | None = None
    identifying: frozenset[str] = frozenset()
    missing_values: frozenset[str] = frozenset()
    dates: DateEndpoints | None = None


def _rows_text(rows: tuple[int, ...]) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_LISTED])
    more = f" and {len(rows) - MAX_ROWS_LISTED} more" if len(rows) > MAX_ROWS_LISTED else ""
    label = "row" if len(rows) == 1 else "rows"
    return f"{label} {shown}{more}"


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

    Exact names win over synonyms, and a header's own words over the header without its unit
    ("OS (days)" -> os_months); English, German and French spellings (``cohort.headers``); no
    canonical column is suggested twice.
    """
    suggestion: dict[str, str | None] = dict.fromkeys(columns)
    taken: set[str] = set()
    by_name = {header_key(c): c for c in canonical}
    for column in columns:
        target = by_name.get(header_key(column))
        if target and target not in taken:
            suggestion[column], _ = target, taken.add(target)
    for keys_of in (lambda c: {header_key(c)}, lambda c: {without_unit(c)}):
        for column in columns:
            if suggestion[column]:
                continue
            keys = keys_of(column)
            for target, synonyms in SYNONYMS.items():
                if target in canonical and target not in taken and keys & set(synonyms):
                    suggestion[column] = target
                    taken.add(target)
                    break
    return suggestion


def suggest_coding(values: list[str], codes: frozenset[str] = frozenset()) -> str | None:
    """The event coding (key of ``EVENT_CODINGS``) whose codes take every value (lower case;
    missing ``codes`` aside), or None where the values do not settle it: 1/2 alone may be
    R's 1 = censored, 2 = event, or 0/1/2 without anyone censored."""
    found = {v.strip().lower() for v in values} - set(codes) - {""}
    if not found or found <= {"1", "2"} and "0" not in found:
        return None
    return next((name for name, coding in EVENT_CODINGS.items() if found <= set(coding)),
                None)


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

    def add(self, column: str | None, mask: pl.Series | None, message: str,
            warning: bool = False) -> None:
        """Record a problem on ``column`` at the rows where ``mask`` is true (None: whole
        column); a ``warning`` may be accepted by the user."""
        if mask is not None and self.blank is not None:
            mask = mask & ~self.blank
        rows = _row_numbers(mask) if mask is not None else ()
        if mask is None or rows:
            label = self.labels.get(column, column) if column else None
            self.problems.append(Problem(self.file_name, label, rows, message, warning))

    def numeric(self, text: pl.Series, column: str, integer: bool = False) -> pl.Series:
        """The text as numbers (whole ones if ``integer``); empty cells and NaN markers are
        missing; any other value that is not such a number is a problem with its rows."""
        stripped = stripped_text(text)
        values = _as_numbers(stripped)
        self.add(column, stripped.is_not_null() & values.is_null() & ~_is_nan_text(stripped),
                 "not a number")
        self.add(column, values.is_infinite(), "not a finite number")
        if not integer:
            return values
        whole = _whole_numbers(stripped, values)
        fractional = values.is_finite() & (values != values.round(0))
        self.add(column, fractional, "not a whole number")
        self.add(column, values.is_finite() & ~fractional & whole.is_null(),
                 f"a whole number too large to be exact (beyond {MAX_WHOLE:,.0f})")
        return whole

    def coded(self, text: pl.Series, column: str, codes: Mapping[str, object], what: str
              ) -> pl.Series:
        lowered = stripped_text(text).str.to_lowercase()
        known = lowered.is_in(list(codes)) | lowered.is_null()
        allowed = ", ".join(dict.fromkeys(str(k) for k in codes))
        self.add(column, ~known, f"not a recognised {what} (allowed: {allowed})")
        return lowered.replace_strict(codes, default=None)


def without_missing_codes(text: pl.Series, codes: frozenset[str]) -> pl.Series:
    """The text column with the values that mean "not recorded" (``codes``, compared stripped
    and in lower case) as missing."""
    if not codes:
        return text
    return text.set(text.str.strip_chars().str.to_lowercase().is_in(list(codes)).fill_null(False),
                    None)


def _convert_patients(table: pl.DataFrame, options: ReadOptions, check: _Checker
                      ) -> pl.DataFrame:
    converted: dict[str, pl.Series] = {}
    codes = options.missing_values
    for column in table.columns:
        text = table[column]
        dtype = PATIENT_COLUMNS.get(column)
        if dtype is not None and (dtype.is_numeric() or dtype == pl.Boolean()):
            text = without_missing_codes(text, codes)
        if column.endswith("_event") and column in PATIENT_COLUMNS:
            converted[column] = _convert_event(text, column, options, check)
        elif column.endswith("_months") and column in PATIENT_COLUMNS:
            converted |= _convert_time(text, column, options, check)
        elif column == "treated_sites":
            converted[column] = _split_sites(text)
        elif column == "sex":
            converted[column] = check.coded(text, column, _SEX_CODES, "sex").cast(pl.String)
        elif dtype == pl.Boolean():  # dlt, toxicity_assessed
            converted[column] = check.coded(text, column, _BOOL_CODES, "yes/no value")
        elif dtype is not None and dtype.is_numeric():
            converted[column] = check.numeric(text, column, integer=dtype.is_integer())
        elif dtype == pl.String():  # identifiers and names stay text: "001" is not 1
            converted[column] = text.str.strip_chars()
        else:
            converted[column] = _numeric_or_text(text, column, check, codes)
    return pl.DataFrame(converted)


def _convert_time(text: pl.Series, column: str, options: ReadOptions, check: _Checker
                  ) -> dict[str, pl.Series]:
    """A duration column in months; stated in days, also its exact days (``K_days``)."""
    if options.time_unit not in MONTHS_PER_UNIT:
        check.add(column, None, "state the unit of the time columns")
        return {column: pl.Series(column, [None] * len(text), dtype=pl.Float64)}
    values = check.numeric(text, column)
    check.add(column, values < 0, "negative time")
    times = {column: values * MONTHS_PER_UNIT[options.time_unit]}
    if options.time_unit == "days":
        times[column.removesuffix("_months") + "_days"] = values
    return times


def _convert_event(text: pl.Series, column: str, options: ReadOptions, check: _Checker
                   ) -> pl.Series:
    """The event column as codes 0/1/2 by its stated coding (missing where empty)."""
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


#: Whole numbers up to this size are exact as 64-bit floats (2**53).
MAX_WHOLE = 2.0**53


def _whole_numbers(stripped: pl.Series, values: pl.Series) -> pl.Series:
    """Whole numbers as Int64: integer text exactly, else whole floats up to ``MAX_WHOLE``;
    null where neither."""
    exact = stripped.cast(pl.Int64, strict=False)
    small = values.is_finite() & (values == values.round(0)) & (values.abs() <= MAX_WHOLE)
    floats = values.set(~small.fill_null(False), None).cast(pl.Int64)
    return exact.fill_null(floats)


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


def _numeric_or_text(text: pl.Series, column: str, check: _Checker,
                     codes: frozenset[str] = frozenset()) -> pl.Series:
    """A kept column as numbers when every value parses as one, or is one of the missing
    ``codes`` (then missing); infinities are a problem. Else the stripped text, codes kept."""
    numeric = _numbers_with_codes_missing(text, column, check, codes)
    if numeric is not None:
        return numeric
    stripped = stripped_text(text)
    values = _as_numbers(stripped)
    numbers = stripped.is_not_null() & ~_is_nan_text(stripped)
    if numbers.any() and values.is_not_null().sum() == numbers.sum():
        check.add(column, values.is_infinite(), "not a finite number")
        finite = values.filter(values.is_finite())
        whole = ((finite == finite.round(0)) & (finite.abs() <= MAX_WHOLE)).all()
        return _whole_numbers(stripped, values) if whole else values
    return stripped


def _numbers_with_codes_missing(text: pl.Series, column: str, check: _Checker,
                                codes: frozenset[str]) -> pl.Series | None:
    """The kept column as numbers when, its missing codes aside, every value is one; else
    None (it stays text)."""
    without = without_missing_codes(text, codes)
    if not codes or without.null_count() == text.null_count():
        return None
    if without.null_count() == len(without):
        return None
    numeric = _numeric_or_text(without, column, check)
    return numeric if numeric.dtype != pl.String else None


def _parsed_date_column(text: pl.Series, column: str, spec: DateEndpoints,
                        codes: frozenset[str], check: _Checker) -> pl.Series:
    """A date column as ``Date`` (missing where empty or a missing code); values that are no
    date, or whose day/month order is not known, are problems with their rows."""
    text = without_missing_codes(text, codes)
    order = spec.orders.get(column)
    possible = date_orders(text)
    if order is None and len(possible) == 1:
        order = possible[0]
    if order is None and len(possible) > 1:
        check.add(column, None, "state whether these dates are day/month/year or "
                                "month/day/year (no day above 12 settles it)")
        return pl.Series(column, [None] * len(text), dtype=pl.Date)
    parsed = parse_dates(text, order, spec.date_system)
    check.add(column, invalid_dates(text, parsed),
              f"not a valid date (read as {date_format_text(order)}, ISO yyyy-mm-dd or an "
              "Excel date)")
    return parsed


def _coded_status(text: pl.Series, column: str, options: ReadOptions, check: _Checker
                  ) -> pl.Series:
    """A status column that decides events (vital status) as 0/1 by its stated coding."""
    text = without_missing_codes(text, options.missing_values)
    codes = _convert_event(text, column, options, check)
    check.add(column, codes == 2, "a status here is 0 or 1 (event or not), not 2")
    return codes


def _date_endpoints(raw: pl.DataFrame, options: ReadOptions, check: _Checker
                    ) -> pl.DataFrame | None:
    """The columns of the endpoints derived from the file's dates (``K_days``, ``K_months``,
    ``K_event``), or None when no dates are stated or a stated column is not in the file."""
    spec = options.dates
    if spec is None:
        return None
    named = [*spec.date_columns(), *spec.status_columns()]
    absent = [c for c in named if c not in raw.columns]
    for column in absent:
        check.add(column, None, "the endpoints from dates name this column, but the file "
                                "has no column of that name")
    if absent:
        return None
    dates = pl.DataFrame([_parsed_date_column(raw[c], c, spec, options.missing_values, check)
                          for c in spec.date_columns()])
    status = pl.DataFrame([_coded_status(raw[c], c, options, check)
                           for c in spec.status_columns()])
    derived = derive_endpoints(dates, status, spec)
    for finding in derived.checks:
        rows = pl.Series([False] * raw.height).scatter(list(finding.rows), True)
        check.add(finding.column, rows, finding.message, warning=finding.warning)
    return derived.columns


def _with_date_endpoints(frame: pl.DataFrame, derived: pl.DataFrame | None,
                         options: ReadOptions, check: _Checker) -> pl.DataFrame:
    """The converted patients with the date-derived endpoint columns, without the date and
    status columns they were derived from (the dates identify patients; the times suffice)."""
    if derived is None:
        return frame
    for column in derived.columns:
        if column in frame.columns:
            check.add(column, None, "derived from the dates and also mapped from a file "
                                    "column: map that column to '(keep as is)' or drop the "
                                    "endpoint from dates")
    spec = options.dates
    consumed = {options.mapping.get(c) or c for c in (*spec.date_columns(),
                                                    *spec.status_columns())}
    kept = frame.drop([c for c in frame.columns if c in consumed or c in derived.columns])
    return pl.concat([kept, derived], how="horizontal")


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
    accept_warnings: bool = False,
) -> Cohort:
    """A validated ``Cohort`` from file bytes; raises ``CohortValidationError`` listing all
    problems in both files (``CohortWarnings`` when all are warnings not accepted). Times are
    converted to months; dose columns are derived. The sheets name the sheets of .xlsx
    workbooks (both tables may come from one workbook)."""
    raw = read_table(patients, source_label(patients_name, patients_sheet), options.decimal,
                     patients_sheet)
    tox_raw = None
    if toxicities is not None:
        tox_raw = read_table(toxicities, source_label(toxicities_name, toxicities_sheet),
                             options.decimal, toxicities_sheet)
    return validate_cohort(raw, patients_name, options, tox_raw, toxicities_name,
                           toxicity_mapping, patients_sheet, toxicities_sheet, accept_warnings)


def validate_cohort(
    raw: pl.DataFrame,
    patients_name: str,
    options: ReadOptions,
    tox_raw: pl.DataFrame | None = None,
    toxicities_name: str = "toxicities",
    toxicity_mapping: Mapping[str, str | None] | None = None,
    patients_sheet: str | None = None,
    toxicities_sheet: str | None = None,
    accept_warnings: bool = False,
) -> Cohort:
    """A validated ``Cohort`` from tables ``read_table`` returned (as ``read_cohort``, without
    reading the files again); raises ``CohortValidationError`` listing all problems (its
    subclass ``CohortWarnings`` when all are warnings and ``accept_warnings`` is false).
    Endpoints stated in ``options.dates`` are derived from the file's dates."""
    patients_label = source_label(patients_name, patients_sheet)
    blank = blank_rows(raw)
    check = _Checker(patients_label, options.mapping, blank)
    frame = _convert_patients(apply_mapping(raw, options.mapping, patients_label), options, check)
    frame = _with_date_endpoints(frame, _date_endpoints(raw, options, check), options, check)
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
    _raise_problems(check.problems, accept_warnings)
    return Cohort(
        name=patients_name,
        patients=add_dose_columns(frame),
        toxicities=tox_frame,
        provenance=_provenance(patients_label, options, check.problems,
                               source_label(toxicities_name, toxicities_sheet)
                               if tox_raw is not None else None),
        marked_identifying=frozenset(options.identifying),
    )


def _raise_problems(problems: list[Problem], accept_warnings: bool) -> None:
    """Raise ``CohortValidationError`` on any error, ``CohortWarnings`` on warnings not
    accepted."""
    if any(not p.warning for p in problems):
        raise CohortValidationError(problems)
    if problems and not accept_warnings:
        raise CohortWarnings(problems)


def _provenance(patients_label: str, options: ReadOptions, problems: list[Problem],
                toxicities_label: str | None) -> str:
    """Where the cohort came from, how its endpoints were made, and the warnings accepted."""
    text = f"Uploaded file {patients_label}"
    if toxicities_label:
        text += f" with toxicities from {toxicities_label}"
    return "; ".join([text, *reading_notes(options, problems)])


def reading_notes(options: ReadOptions, problems: list[Problem]) -> list[str]:
    """What a cohort's provenance says of its reading: the endpoints derived from dates and
    the warnings accepted."""
    notes = []
    if options.dates is not None:
        keys = ", ".join(rule.key.upper() for rule in options.dates.rules)
        notes.append(f"{keys} derived from dates, in whole days from "
                     f"'{options.dates.time_zero}' (the dates themselves are not kept)")
    if problems:
        notes.append(f"loaded with {len(problems)} warning(s) accepted")
    return notes


# --------------------------------------------------------------------------- suggestions


def suggest_options(data: bytes, file_name: str, sheet: str | None = None) -> ReadOptions:
    """The whole reading of a raw patients file, proposed from its headers and values: column
    mapping, time unit (None where no header names it), event codings (where the values settle
    them), missing-value codes present, and the endpoints derived from its date columns
    (roles from the headers; day/month order where the values settle it; the workbook's date
    system). Raises ``CohortValidationError`` when the file cannot be read."""
    table = read_table(data, file_name, None, sheet)
    return suggest_reading(table, workbook_date_system(data) if is_excel(data) else 1900)


def suggest_reading(table: pl.DataFrame, date_system: int = 1900) -> ReadOptions:
    """``suggest_options`` of a table ``read_table`` returned (``date_system``: the workbook's,
    for Excel serial numbers)."""
    missing = _missing_codes_present(table)
    mapping = {c: t for c, t in suggest_mapping(table.columns).items() if t}
    dates = suggest_dates(table, missing, date_system, mapped=mapping)
    if dates is not None:
        derived = {f"{r.key}_{part}" for r in dates.rules for part in ("months", "event")}
        consumed = {*dates.date_columns(), *dates.status_columns()}
        mapping = {c: t for c, t in mapping.items() if t not in derived and c not in consumed}
    codings = {target: coding for source, target in mapping.items()
               if target.endswith("_event")
               and (coding := suggest_coding(event_values(table, source), missing))}
    if dates is not None:
        codings |= {c: coding for c in dates.status_columns()
                    if (coding := suggest_coding(event_values(table, c), missing))}
    durations = [source for source, target in mapping.items() if target.endswith("_months")]
    units = {u for source in durations if (u := unit_in_name(source))}
    return ReadOptions(mapping=mapping, time_unit=units.pop() if len(units) == 1 else None,
                       event_codings=codings, missing_values=missing, dates=dates)


def _missing_codes_present(table: pl.DataFrame) -> frozenset[str]:
    """The missing-value codes (``cohort.headers.MISSING_CODES``) that occur in the table."""
    codes = list(MISSING_CODES)
    found = table.lazy().select(
        pl.col(c).str.strip_chars().str.to_lowercase().filter(
            pl.col(c).str.strip_chars().str.to_lowercase().is_in(codes)).unique().implode()
        for c in table.columns
    ).collect()
    return frozenset(v for c in found.columns for v in found[c][0])


def date_column_roles(table: pl.DataFrame, missing: frozenset[str] = frozenset(),
                      mapped: Collection[str] = ()) -> dict[str, str | None]:
    """The table's date columns (every value a date, or with a date header, an Excel serial)
    -> the role their header suggests (``cohort.headers.DATE_ROLES``; None: no role). Columns
    ``mapped`` to a canonical column are not dates ("Age at diagnosis")."""
    roles: dict[str, str | None] = {}
    for column in table.columns:
        if column in mapped:
            continue
        text = without_missing_codes(table[column], missing)
        role = date_role(column)
        if looks_like_dates(text) or (role and looks_like_dates(text, serials=True)):
            roles[column] = role
    return roles


def suggest_dates(table: pl.DataFrame, missing: frozenset[str] = frozenset(),
                  date_system: int = 1900, mapped: Collection[str] = ()) -> DateEndpoints | None:
    """The endpoints the table's date columns (not ``mapped`` to canonical columns) give (OS,
    PFS, LC, TTNT as the dates allow), or None without a time zero or any end of follow-up."""
    roles = date_column_roles(table, missing, mapped)
    first = {role: column for column, role in reversed(roles.items()) if role}
    time_zero = next((first[r] for r in ("rt_start", "rt_end", "diagnosis", "registration")
                      if r in first), None)
    combined = first.get("death_or_last_contact")
    death = combined or first.get("death")
    last_contact = combined or first.get("last_contact")
    if time_zero is None or (death is None and last_contact is None):
        return None
    vital = _vital_status_column(table, set(roles), missing)
    if combined and vital is None:
        return None
    rules = standard_rules(death=death is not None, progression=first.get("progression"),
                           local_failure=first.get("local_failure"),
                           next_treatment=first.get("next_treatment"))
    orders = {c: o[0] for c in roles
              if len(o := date_orders(without_missing_codes(table[c], missing))) == 1}
    return DateEndpoints(time_zero=time_zero, rules=rules, death=death, vital_status=vital,
                         last_contact=last_contact, orders=orders, date_system=date_system)


def _vital_status_column(table: pl.DataFrame, date_columns: set[str],
                         missing: frozenset[str]) -> str | None:
    """The column whose header says vital status and whose values are an event coding."""
    for column in table.columns:
        if column in date_columns or not VITAL_STATUS.search(header_key(column)):
            continue
        values = event_values(table, column)
        if {v.lower() for v in values} - set(missing) and suggest_coding(values, missing):
            return column
    return None


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
