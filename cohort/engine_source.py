"""A configured dataset opened as an engine table (ibis) instead of being read into memory.

A Parquet file or a DuckDB database opens in an embedded DuckDB, a PostgreSQL source through
its Streamlit secrets; the configured mapping, time unit and event codings are compiled into
the query (columns renamed to the canonical names, durations in months, events as 0/1/2), so
``cohort.engine`` can filter and count there. What needs rows (a Cox fit) gets only the
filtered rows and the columns it uses, and a clear refusal past a row limit.

Not compiled (``EngineError``): endpoints derived from dates, "missing value" codes, and text
columns that the in-memory reader converts (treated sites, sex); such a dataset stays on the
in-memory path. Rows are not validated one by one as an upload is; what would make the
numbers differ from the in-memory reading's (codes outside the stated event coding, negative
times, missing or duplicate patient ids) is counted once when the dataset opens
(:func:`reading_problems`) and the dataset is not offered.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path

import ibis
import ibis.expr.types as ir
import polars as pl
from ibis.backends import BaseBackend
from ibis.backends.duckdb import Backend as DuckDBBackend

from cohort.config import DatasetConfig, Source
from cohort.dose import DEFAULT_ALPHA_BETA_GY
from cohort.engine import EngineError, filtered
from cohort.filters import CohortFilter
from cohort.io import EVENT_CODINGS, MONTHS_PER_UNIT
from cohort.schema import PATIENT_COLUMNS, PATIENT_ID, is_numeric
from cohort.sources import Connections
from cohort.text import WHITESPACE, stripped_text

#: Canonical columns whose in-memory reading converts text (not compiled here; a source
#: column already of the canonical type, a list of sites or a Boolean, is read as it is).
_CONVERTED_TEXT = ("treated_sites", "sex", "dlt", "toxicity_assessed")


#: Prefix of the columns :func:`engine_table` adds beside each decoded event, time and text
#: column: its value as stored in the source. Decoding every row costs DuckDB more than the
#: GROUP BY itself (0.8-0.9 s of 2.8 s at 100M rows; stripping a text stratum 0.5 s), so the
#: Survival counts group by the stored value and decode the few thousand fetched keys
#: (:func:`decoders`, cohort.engine_analysis).
STORED_PREFIX = "_stored_"

#: Decodes stored values (a fetched Series) into the canonical column's values.
Decoder = Callable[[pl.Series], pl.Series]


_SURROUNDING_WHITESPACE = f"^[{WHITESPACE}]+|[{WHITESPACE}]+$"


def stripped(text: ir.StringValue) -> ir.StringValue:
    """``text`` without the surrounding whitespace polars' ``str.strip_chars()`` strips."""
    return text.re_replace(_SURROUNDING_WHITESPACE, "")


def stored_column(canonical: str) -> str:
    """The engine table's column holding ``canonical``'s stored (undecoded) value."""
    return STORED_PREFIX + canonical


def canonical_columns(table: ir.Table) -> list[str]:
    """The columns of an engine table without the stored twins."""
    return [c for c in table.columns if not c.startswith(STORED_PREFIX)]


class RowLimitError(EngineError):
    """More filtered rows than a model may fetch; the message says how many and the limit."""


def connection_for(dataset: DatasetConfig, connections: Connections) -> BaseBackend:
    """A connection to the engine that holds the dataset's patients (DuckDB files read-only,
    embedded DuckDB held to the dataset's ``engine_memory_mb``)."""
    source = dataset.patients
    if source.kind == "file":
        if source.path.suffix.lower() != ".parquet":
            raise EngineError(f"{source.label}: only Parquet files open in the engine")
        con = ibis.duckdb.connect()
        return _bounded(con, _private_spill(con), dataset.engine_memory_mb)
    if source.kind == "duckdb":
        return _bounded(ibis.duckdb.connect(str(source.path), read_only=True),
                        _file_spill(source.path), dataset.engine_memory_mb)
    params = {k: v for k, v in dict(connections(source.connection)).items() if k != "dialect"}
    params = {{"username": "user"}.get(k, k): v for k, v in params.items()}
    return ibis.postgres.connect(**params)


def read_source(con: BaseBackend, source: Source) -> ir.Table:
    """The source's file, table or query as an ibis table of ``con``."""
    if source.kind == "file":
        return con.read_parquet(source.path)
    return con.table(source.table) if source.table else con.sql(source.query)


def _connect(dataset: DatasetConfig, connections: Connections) -> ir.Table:
    """The dataset's patients source as an ibis table on a connection of its own."""
    return read_source(connection_for(dataset, connections), dataset.patients)


def shares_engine(patients: Source, toxicities: Source) -> bool:
    """Whether the toxicities can be read on the patients' connection (a query joins them):
    a Parquet file beside Parquet or a DuckDB file, the same DuckDB file, the same
    PostgreSQL connection."""
    if toxicities.kind == "file":
        return (patients.kind in ("file", "duckdb")
                and toxicities.path.suffix.lower() == ".parquet")
    if toxicities.kind == "duckdb":
        return patients.kind == "duckdb" and patients.path == toxicities.path
    return patients.kind == "postgres" and patients.connection == toxicities.connection


def _private_spill(con: DuckDBBackend) -> str:
    """A temporary directory for ``con``'s own in-memory database, removed with it."""
    spill = tempfile.mkdtemp(prefix="oligomet-duckdb-")
    weakref.finalize(con, shutil.rmtree, spill, ignore_errors=True)
    return spill


_FILE_SPILLS: dict[Path, str] = {}
_FILE_SPILLS_LOCK = threading.Lock()


def _file_spill(path: Path) -> str:
    """The temporary directory of the DuckDB file ``path``, one for the server's life: every
    connection of the process to one file shares its database (and its settings)."""
    with _FILE_SPILLS_LOCK:
        if path not in _FILE_SPILLS:
            _FILE_SPILLS[path] = tempfile.mkdtemp(prefix="oligomet-duckdb-")
            atexit.register(shutil.rmtree, _FILE_SPILLS[path], ignore_errors=True)
        return _FILE_SPILLS[path]


def _bounded(con: DuckDBBackend, spill: str, memory_mb: int) -> DuckDBBackend:
    """``con`` held to ``memory_mb`` megabytes, spilling to ``spill``, without DuckDB's
    progress bar (it would print into the server log). DuckDB's own default is 80 % of the
    machine's memory: joining 100M patients to their 100M toxicity records took 16 GB."""
    con.raw_sql(f"SET enable_progress_bar = false; SET temp_directory = '{spill}'; "
                f"SET memory_limit = '{int(memory_mb)}MB'")
    return con


def _event_codes(value: ir.Value, coding: str) -> ir.IntegerValue:
    """The column as codes 0/1/2 of its stated coding (text compared stripped, lower case).
    An integer column is compared as integers with the codes written as integers (its text
    is its digits, so the codes are the same) and never cast to text row by row."""
    codes: Mapping[str, int] = EVENT_CODINGS[coding]
    if value.type().is_integer():
        numeric = {int(k): code for k, code in codes.items() if k.lstrip("-").isdigit()
                   and str(int(k)) == k}
        if not numeric:
            return ibis.null("int64")
        return value.cases(*numeric.items(), else_=ibis.null("int64"))
    text = stripped(value.cast("string")).lower()
    return text.cases(*codes.items(), else_=ibis.null("int64"))


def _decoded_events(coding: str) -> Decoder:
    """Stored event values to codes 0/1/2 as the in-memory reading decodes their text."""
    codes = EVENT_CODINGS[coding]
    return lambda stored: (stripped_text(stored.cast(pl.String)).str.to_lowercase()
                           .replace_strict(codes, default=None, return_dtype=pl.Int64))


def _decoded_text(stored: pl.Series) -> pl.Series:
    """Stored text (or integers) as the in-memory reading keeps a text column: stripped."""
    return stored.cast(pl.String).str.strip_chars()


def _decoded_times(months_per_unit: float) -> Decoder:
    """Stored times to months with the arithmetic of :func:`_canonical`."""
    return lambda stored: stored.cast(pl.Float64, strict=False) * months_per_unit


def _is_event(canonical: str) -> bool:
    return canonical.endswith("_event") and canonical in PATIENT_COLUMNS


def _is_time(canonical: str) -> bool:
    return canonical.endswith("_months") and canonical in PATIENT_COLUMNS


def _is_text(canonical: str) -> bool:
    return PATIENT_COLUMNS.get(canonical) == pl.String() and canonical not in _CONVERTED_TEXT


def decoders(dataset: DatasetConfig) -> dict[str, Decoder]:
    """Canonical event, time and text column -> the decoding of its stored values (the column
    ``stored_column(canonical)`` of :func:`engine_table`), equal to the engine's own."""
    options = dataset.options
    decoded: dict[str, Decoder] = {}
    for canonical in options.mapping.values():
        if _is_event(canonical) and options.event_codings.get(canonical) in EVENT_CODINGS:
            decoded[canonical] = _decoded_events(options.event_codings[canonical])
        elif _is_time(canonical) and options.time_unit in MONTHS_PER_UNIT:
            decoded[canonical] = _decoded_times(MONTHS_PER_UNIT[options.time_unit])
        elif _is_text(canonical):
            decoded[canonical] = _decoded_text
    return decoded


def _canonical(value: ir.Value, canonical: str, dataset: DatasetConfig) -> ir.Value:
    options = dataset.options
    if _is_event(canonical):
        coding = options.event_codings.get(canonical)
        if coding not in EVENT_CODINGS:
            raise EngineError("state how events are coded")
        return _event_codes(value, coding)
    if _is_number_column(canonical) and value.type().is_string():
        raise EngineError("stored as text: numbers written as text are "
                          "parsed on reading (decimal commas, blanks): not compiled")
    if _is_time(canonical):
        if options.time_unit not in MONTHS_PER_UNIT:
            raise EngineError("state the unit of the time columns")
        return value.cast("float64") * MONTHS_PER_UNIT[options.time_unit]
    if canonical in _CONVERTED_TEXT and value.type().is_string():
        raise EngineError("converted from text on reading: not compiled")
    if _is_text(canonical):
        return text_value(value)
    return value


def _named_canonical(source: ir.Table, column: str, canonical: str, dataset: DatasetConfig
                     ) -> ir.Value:
    """:func:`_canonical` of the source's ``column``; its refusal names the source and column."""
    try:
        return _canonical(source[column], canonical, dataset)
    except EngineError as error:
        raise EngineError(f"{dataset.patients.label}, column '{column}' ({canonical}): "
                          f"{error}") from None


def text_value(value: ir.Value) -> ir.StringValue:
    """A text column as the in-memory reading keeps it: text stripped, integers as their
    digits (a histology coded 1-4 is four groups, not a number split at its median)."""
    if value.type().is_string():
        return stripped(value)
    if value.type().is_integer():
        return value.cast("string")
    raise EngineError(f"stored as {value.type()}, not as text or integer "
                      "codes: not compiled")


def _is_number_column(canonical: str) -> bool:
    return canonical in PATIENT_COLUMNS and is_numeric(PATIENT_COLUMNS[canonical])


def engine_table(dataset: DatasetConfig, connections: Connections) -> ir.Table:
    """The dataset's patients as a lazy ibis table with the canonical columns (only the mapped
    ones) and, beside each decoded event and time column, its stored value
    (:func:`stored_column`); raises :class:`EngineError` for a reading the engine path does not compile."""
    refuse_in_memory_readings(dataset)
    return patients_table(dataset, _connect(dataset, connections))


def refuse_in_memory_readings(dataset: DatasetConfig) -> None:
    """Raise :class:`EngineError` for a reading only the in-memory path does (before any
    connection: an OMOP source, whose endpoints come from dates, has no table to read)."""
    options = dataset.options
    if options.dates is not None or options.missing_values:
        raise EngineError("endpoints from dates and missing-value codes are read in memory")


def patients_table(dataset: DatasetConfig, source: ir.Table) -> ir.Table:
    """:func:`engine_table` of the patients source table ``source``."""
    refuse_in_memory_readings(dataset)
    options = dataset.options
    absent = [c for c in options.mapping if c not in source.columns]
    if absent:
        raise EngineError(f"{dataset.patients.label}: no column {', '.join(absent)}")
    canonical = {canonical: _named_canonical(source, column, canonical, dataset)
                 for column, canonical in options.mapping.items()}
    decoded = decoders(dataset)
    stored = {stored_column(canonical): source[column]
              for column, canonical in options.mapping.items() if canonical in decoded}
    return _with_dose_columns(source.select(**canonical, **stored))


def _with_dose_columns(table: ir.Table) -> ir.Table:
    """``table`` with dose_per_fraction_gy, bed10_gy and eqd2_gy derived from total dose and
    fractions in the engine, with the float arithmetic of ``cohort.dose.add_dose_columns``
    (the in-memory reading); unchanged without both columns."""
    if not {"rt_total_dose_gy", "rt_fractions"} <= set(table.columns):
        return table
    total = table.rt_total_dose_gy.cast("float64")
    fractions = table.rt_fractions.cast("float64")
    has_course = fractions > 0
    bed10 = total * (1.0 + total / fractions / 10.0)
    eqd2 = total * (1.0 + total / fractions / DEFAULT_ALPHA_BETA_GY) / (
        1.0 + 2.0 / DEFAULT_ALPHA_BETA_GY)
    missing = ibis.null("float64")
    return table.mutate(dose_per_fraction_gy=has_course.ifelse(total / fractions, missing),
                        bed10_gy=has_course.ifelse(bed10, missing),
                        eqd2_gy=has_course.ifelse(eqd2, missing))


def reading_problems(dataset: DatasetConfig, connections: Connections) -> list[str]:
    """What the engine reading would silently miscount, as the in-memory reading refuses it:
    per event column the values outside its stated coding, per time column the negative
    times, and missing or duplicate patient ids. Each problem names the source, the column
    and how many rows (never a value); [] when the reading is clean."""
    source = _connect(dataset, connections)
    return _row_problems(source, dataset) + _id_problems(source, dataset)


def _row_problems(source: ir.Table, dataset: DatasetConfig) -> list[str]:
    """Codes outside an event coding and negative times, in one aggregate query."""
    checks: dict[str, tuple[str, str, ir.BooleanValue]] = {}
    for i, (column, canonical) in enumerate(dataset.options.mapping.items()):
        value = source[column]
        coded = _named_canonical(source, column, canonical, dataset)
        if _is_event(canonical):
            checks[f"_{i}"] = (column, "not a code of its stated event coding",
                               value.notnull() & coded.isnull())
        elif _is_time(canonical):
            checks[f"_{i}"] = (column, "negative time", coded < 0)
        elif canonical == PATIENT_ID:
            checks[f"_{i}"] = (column, "missing patient_id", coded.isnull())
    if not checks:
        return []
    sums = {key: check.cast("int32").sum().fill_null(0) for key, (_, _, check) in checks.items()}
    row = source.aggregate(**sums).to_polars().row(0, named=True)
    return [f"{dataset.patients.label}, column '{column}': {int(row[key]):,} row(s) {words}"
            for key, (column, words, _) in checks.items() if row[key]]


def _id_problems(source: ir.Table, dataset: DatasetConfig) -> list[str]:
    """Rows sharing their patient id with another row (counted as the in-memory reading
    counts them: every such row), from a GROUP BY over the ids."""
    columns = [c for c, canonical in dataset.options.mapping.items() if canonical == PATIENT_ID]
    if not columns:
        return []
    stored = source[columns[0]]
    ids = source.select(id=stored if stored.type().is_integer()  # its text is its digits
                        else _named_canonical(source, columns[0], PATIENT_ID, dataset))
    ids = ids.filter(ids.id.notnull())
    repeated = ids.group_by("id").aggregate(n=ids.count())
    repeated = repeated.filter(repeated.n > 1)
    n = int(repeated.aggregate(rows=repeated.n.sum().fill_null(0)).to_pyarrow()["rows"][0]
            .as_py())
    return ([f"{dataset.patients.label}, column '{columns[0]}': {n:,} row(s) duplicate "
             "patient_id"] if n else [])


def model_rows(table: ir.Table, cohort_filter: CohortFilter, columns: list[str],
               row_limit: int) -> pl.DataFrame:
    """The filtered rows with only ``columns``, for a model that needs rows (Cox); the count
    runs first in the engine and raises :class:`RowLimitError` above ``row_limit``."""
    subset = filtered(table, cohort_filter).select(*columns)
    n = int(subset.count().to_pyarrow().as_py())
    if n > row_limit:
        raise RowLimitError(f"{n:,} patients match the filter; a model fetches at most "
                            f"{row_limit:,} rows: narrow the filter")
    return subset.to_polars()
