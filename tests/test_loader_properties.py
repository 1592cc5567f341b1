"""Property tests of the loader (hypothesis): damaged CSV, Parquet and .xlsx bytes, and valid
tables with mutated cells and headers. Only ``CohortValidationError`` ever leaves the loader; a
loaded cohort has no NaN, infinite or negative time, whole-number columns hold exactly the
file's whole numbers, and no value present in the file became missing without being a
missing marker (empty, NA, NaN).

Damaged bytes go through ``read_cohort`` end to end (the parsing child process: ~0.5 s a file,
so few examples); mutated cells go through ``validate_cohort`` on the text table ``read_table``
returns (in process, so many examples).
"""

from __future__ import annotations

import io
import math

import polars as pl
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohort.io import CohortValidationError, ReadOptions, read_cohort, validate_cohort
from cohort.schema import PATIENT_COLUMNS

ZERO_ONE = "0/1 (0 = censored, 1 = event, 2 = competing event)"
OPTIONS = ReadOptions(time_unit="months",
                      event_codings={"os_event": ZERO_ONE, "pfs_event": ZERO_ONE},
                      missing_values=frozenset({"unknown"}))
#: Cells that mean "not recorded": may load as missing.
MISSING_MARKERS = {"", "na", "nan", "-nan", "+nan", "unknown"}
NASTY = [
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e400", "1e-400",
    "9.3e18", "1e19", "9007199254740993", "-0", "0x10", "1_000", "١٢", "１２", "12 ", " ",
    "", "=1+1", "1,5", '"', "a\nb", "x" * 40_000, "\x00", "-1", "2", "1.0", "unknown",
    "NA", "+5", ".5", "5.", "1e3",
]

BASE = pl.DataFrame({
    "patient_id": ["P1", "P2", "P3", "P4"],
    "age_years": ["61", "70.5", "48", "55"],
    "ecog": ["0", "1", "2", "1"],
    "n_metastases": ["1", "3", "2", "5"],
    "os_months": ["12.5", "30", "7.25", "44"],
    "os_event": ["1", "0", "1", "0"],
    "pfs_months": ["6", "22", "3", "40"],
    "pfs_event": ["1", "1", "1", "0"],
    "nodes": ["0", "4", "unknown", "2"],
    "note": ["a", "b", "c", "d"],
})
WHOLE = [c for c in BASE.columns if PATIENT_COLUMNS.get(c, pl.String()).is_integer()]


def _assert_sound(cohort_patients: pl.DataFrame, table: pl.DataFrame) -> None:
    """The loaded patients keep every value of the text ``table`` (read as the file is)."""
    for column in [c for c in cohort_patients.columns if c.endswith("_months")]:
        times = cohort_patients[column].drop_nulls()
        assert not times.is_nan().any() and times.is_finite().all(), column
        assert (times >= 0).all(), column
    for column in WHOLE:
        assert cohort_patients[column].dtype == pl.Int64, column
        for text, value in zip(table[column], cohort_patients[column], strict=True):
            if value is not None:
                assert float(text) == value and math.isfinite(float(text)), (column, text)
    for column in [c for c in table.columns if c in cohort_patients.columns]:
        for text, value in zip(table[column], cohort_patients[column], strict=True):
            if value is None and text is not None:
                assert text.strip().lower() in MISSING_MARKERS, (column, repr(text))


@st.composite
def mutated_tables(draw) -> pl.DataFrame:
    """``BASE`` with some cells replaced by nasty or arbitrary text."""
    cells = {c: list(BASE[c]) for c in BASE.columns}
    for _ in range(draw(st.integers(1, 3))):
        column = draw(st.sampled_from(BASE.columns))
        row = draw(st.integers(0, BASE.height - 1))
        cells[column][row] = draw(st.one_of(st.sampled_from(NASTY), st.sampled_from(NASTY),
                                            st.sampled_from(NASTY), st.none(),
                                            st.text(max_size=12)))
    return pl.DataFrame(cells, schema=dict.fromkeys(cells, pl.String))


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated_tables())
def test_mutated_cells_are_converted_or_reported(table: pl.DataFrame):
    try:
        cohort = validate_cohort(table, "mutated.csv", OPTIONS)
    except CohortValidationError:
        return
    _assert_sound(cohort.patients, table)


def _csv_bytes() -> bytes:
    return BASE.write_csv().encode()


def _parquet_bytes() -> bytes:
    frame = BASE.with_columns(pl.col("os_months", "pfs_months").cast(pl.Float64),
                              pl.col("ecog", "os_event").cast(pl.Int64))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, BASE.columns)
    for r, row in enumerate(BASE.iter_rows(), start=1):
        sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """``original`` with bytes flipped, inserted, deleted, a range duplicated or the end cut."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 64))]
        else:
            del data[at:]
    return bytes(data)


def _read_damaged(data: bytes, name: str) -> None:
    try:
        cohort = read_cohort(data, name, OPTIONS)
    except CohortValidationError:
        return
    assert all(c.strip() for c in cohort.patients.columns), cohort.patients.columns
    for column in [c for c in cohort.patients.columns if c.endswith("_months")]:
        times = cohort.patients[column].drop_nulls()
        assert times.is_finite().all() and (times >= 0).all(), column


BYTES_SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])


@BYTES_SETTINGS
@given(damaged(_csv_bytes()))
def test_damaged_csv_bytes_load_or_are_refused(data: bytes):
    _read_damaged(data, "damaged.csv")


@BYTES_SETTINGS
@given(damaged(_parquet_bytes()))
def test_damaged_parquet_bytes_load_or_are_refused(data: bytes):
    _read_damaged(data, "damaged.parquet")


@BYTES_SETTINGS
@given(damaged(_xlsx_bytes()))
def test_damaged_xlsx_bytes_load_or_are_refused(data: bytes):
    _read_damaged(data, "damaged.xlsx")


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(["", " ", "os_months", "patient_id", "x", "é", "\t", "a,b"]),
                min_size=1, max_size=3))
def test_mutated_headers_load_or_are_refused(replacements: list[str]):
    names = list(BASE.columns)
    for index, name in enumerate(replacements):
        names[(3 * index + 1) % len(names)] = name
    header = ",".join(f'"{n}"' for n in names)
    body = "\n".join(",".join(row) for row in BASE.iter_rows())
    _read_damaged(f"{header}\n{body}\n".encode(), "headers.csv")


def _loaded(csv: str) -> pl.DataFrame:
    return read_cohort(csv.encode(), "x.csv", OPTIONS).patients


def _refused(csv: str) -> str:
    try:
        read_cohort(csv.encode(), "x.csv", OPTIONS)
    except CohortValidationError as error:
        return str(error)
    raise AssertionError("loaded")


def test_the_defects_fuzzing_found():
    for huge in ("1e308", "9.3e18", "1e19"):
        assert "too large to be exact (beyond 9,007,199,254,740,992) (row 2)" in _refused(
            f"patient_id,ecog\nA,{huge}\nB,1\n")
        assert _loaded(f"patient_id,kept\nA,{huge}\nB,3\n")["kept"].to_list() == [
            float(huge), 3.0]
    assert "column 2 holds values but has no name" in _refused(
        "patient_id,,os_months,os_event\nA,1,2,1\nB,,3,0\n")
    for infinite in ("inf", "-inf", "Infinity", "1e400"):
        assert "not a finite number (row 2)" in _refused(
            f"patient_id,os_months,os_event\nA,{infinite},1\nB,3,0\n")
    blank = _loaded("patient_id,os_months,os_event,ecog\nA, ,1, \nB,3,0,1\n")
    assert blank["os_months"].to_list() == [None, 3.0] and blank["ecog"].to_list() == [None, 1]
    exact = _loaded("patient_id,n_metastases\nA,9007199254740993\nB,2\n")
    assert exact["n_metastases"].to_list() == [9007199254740993, 2]
