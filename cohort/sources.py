"""Reading a configured dataset's source into the validated ``Cohort`` the Data page would give.

A file is read as an upload is (``cohort.io.read_table``: the reading child process and its
limits); a DuckDB or PostgreSQL table or query is fetched with only the columns the reading
uses and turned into the same text table (``text_table``: every value as text, as a Parquet
file is read). Both then go through ``cohort.io.validate_cohort`` with the dataset's
``ReadOptions``: the same conversion, checks and problems as on the Data page.

A source's ``fingerprint`` tells when it changed (a file's size and modification time; a
database table's row count and the maximum of its change column). ``problem_summaries`` gives
what may be logged of a failure: kind, column and row count, never a value.

An OMOP dataset's patients are ``cohort.omop.omop_patients`` run on its database (DuckDB
read-only, PostgreSQL in a read-only session) and turned into the same text table; a total
dose in a unit other than Gy or cGy is a warning naming its rows (the dose is left missing).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from cohort.config import DatasetConfig, Source
from cohort.io import (
    CohortValidationError,
    CohortWarnings,
    Problem,
    _row_numbers,
    read_table,
    reading_notes,
    validate_cohort,
)
from cohort.limits import DEFAULT_LIMITS, FileProblem, check_table_shape
from cohort.omop import UNIT_COLUMN, omop_patients
from cohort.parse import cell_problems
from cohort.schema import Cohort

LOG = logging.getLogger("oligomet.sources")
#: Seconds to wait for a PostgreSQL server before giving up.
CONNECT_TIMEOUT_S = 10
#: Messages whose tail is a reader's own error text (which could quote the file): cut there.
_READER_ERROR_PREFIX = "the file cannot be read as"

#: A connection name -> its parameters (Streamlit's ``[connections.<name>]`` secrets table).
Connections = Callable[[str], Mapping[str, object]]


class SourceError(Exception):
    """A source that cannot be reached or queried; the message names the source and the
    error's type only (a driver's message can carry host, user or values)."""


# --------------------------------------------------------------------------- text tables


def quoted(identifier: str) -> str:
    """An SQL identifier in double quotes ('"' doubled); a dotted name quoted per part."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in identifier.split("."))


def text_table(frame: pl.DataFrame, label: str) -> pl.DataFrame:
    """The fetched ``frame`` as the text table ``read_table`` gives for a file: every column as
    text (lists joined by ';', dates ISO), within the upload limits, cells checked (length,
    control characters); raises ``CohortValidationError`` naming ``label``."""
    try:
        check_table_shape(frame.height, frame.width, DEFAULT_LIMITS)
    except FileProblem as problem:
        raise CohortValidationError([Problem(label, None, (), problem.message)]) from None
    table = frame.with_columns(
        pl.col(c).list.eval(pl.element().cast(pl.String)).list.join(";")
        if isinstance(dtype, pl.List) else pl.col(c).cast(pl.String)
        for c, dtype in frame.schema.items()
    )
    problems = cell_problems(table, DEFAULT_LIMITS)
    if problems:
        raise CohortValidationError([Problem(label, p.column, p.rows, p.message)
                                     for p in problems])
    if table.height == 0:
        raise CohortValidationError([Problem(label, None, (), "the source has no data rows")])
    return table


def _absent(columns: list[str], present: list[str], label: str) -> None:
    """Raise naming each configured column the source lacks."""
    problems = [Problem(label, c, (), "the configuration names this column, but the source "
                                      "has no column of that name")
                for c in columns if c not in present]
    if problems:
        raise CohortValidationError(problems)


def _select_sql(source: Source, columns: list[str] | None, order_by: str | None) -> str:
    """The query fetching ``columns`` (None: all) of the source's table or query; a table in
    the order of ``order_by`` (a query keeps its own order)."""
    selected = ", ".join(quoted(c) for c in columns) if columns else "*"
    if source.table:
        order = f" ORDER BY {quoted(order_by)}" if order_by else ""
        return f"SELECT {selected} FROM {quoted(source.table)}{order}"
    return f"SELECT {selected} FROM ({source.query}) AS configured_source"


def _from_sql(source: Source) -> str:
    return quoted(source.table) if source.table else f"({source.query}) AS configured_source"


# --------------------------------------------------------------------------- databases


def _postgres_params(source: Source, connections: Connections) -> dict[str, object]:
    """The libpq parameters of the source's secrets table (``url`` kept as it is)."""
    params = {k: v for k, v in dict(connections(source.connection)).items() if k != "dialect"}
    renames = {"username": "user", "database": "dbname"}
    return {renames.get(k, k): v for k, v in params.items()}


def _postgres(source: Source, connections: Connections):
    """A read-only connection to the source's PostgreSQL server, from its secrets table
    (``url``, or host, port, database, username, password and any libpq parameter)."""
    import psycopg

    params = _postgres_params(source, connections)
    url = params.pop("url", None)
    try:
        return psycopg.connect(str(url) if url else "", connect_timeout=CONNECT_TIMEOUT_S,
                               options="-c default_transaction_read_only=on", **params)
    except psycopg.Error as error:
        raise SourceError(f"{source.label}: cannot connect ({type(error).__name__})") from None


def _fetch(source: Source, sql: str, connections: Connections) -> pl.DataFrame:
    """The result of ``sql`` on the source's database as a polars frame."""
    if source.kind == "duckdb":
        import duckdb

        try:
            with duckdb.connect(str(source.path), read_only=True) as con:
                return pl.from_arrow(con.execute(sql).to_arrow_table())
        except duckdb.Error as error:
            raise SourceError(f"{source.label}: the query failed "
                              f"({type(error).__name__})") from None
    import psycopg

    with _postgres(source, connections) as con:
        try:
            return pl.read_database(sql, con, infer_schema_length=None)
        except psycopg.Error as error:
            state = getattr(error, "sqlstate", None) or "no SQLSTATE"
            raise SourceError(f"{source.label}: the query failed ({type(error).__name__}, "
                              f"SQLSTATE {state})") from None


def _database_table(source: Source, columns: list[str] | None, order_by: str | None,
                    connections: Connections) -> pl.DataFrame:
    """The columns of a database source as a text table (their presence checked first)."""
    present = _fetch(source, f"SELECT * FROM {_from_sql(source)} LIMIT 0", connections).columns
    if len(set(present)) < len(present):
        raise CohortValidationError([Problem(source.label, None, (), "the result has two "
                                             "columns of one name; each needs its own name")])
    if columns:
        _absent(columns, present, source.label)
        columns = [c for c in present if c in columns]
    return text_table(_fetch(source, _select_sql(source, columns, order_by), connections),
                      source.label)


# --------------------------------------------------------------------------- reading


def source_table(source: Source, columns: list[str] | None, decimal: str | None,
                 connections: Connections, order_by: str | None = None) -> pl.DataFrame:
    """The source's text table with only ``columns`` (None: all; in the source's order), as
    the Data page's ``read_table`` gives a file's; raises ``CohortValidationError`` or
    ``SourceError``."""
    if source.is_database:
        return _database_table(source, columns, order_by, connections)
    try:
        data = source.path.read_bytes()
    except OSError as error:
        raise SourceError(f"{source.label}: cannot be read ({type(error).__name__})") from None
    table = read_table(data, source.label, decimal, source.sheet)
    if columns is None:
        return table
    _absent(columns, table.columns, source.label)
    return table.select(c for c in table.columns if c in columns)


# --------------------------------------------------------------------------- OMOP


def _omop_backend(source: Source, connections: Connections):
    """An ibis connection to the OMOP database: DuckDB read-only, PostgreSQL read-only."""
    import ibis

    if source.kind == "duckdb":
        return ibis.duckdb.connect(str(source.path), read_only=True)
    params = _postgres_params(source, connections)
    read_only = {"options": "-c default_transaction_read_only=on",
                 "connect_timeout": CONNECT_TIMEOUT_S}
    url = params.pop("url", None)
    if url:
        return ibis.connect(str(url), **read_only)
    params["database"] = params.pop("dbname", None)
    return ibis.postgres.connect(**params, **read_only)


def _driver_errors() -> tuple[type[Exception], ...]:
    import duckdb
    import psycopg
    from ibis.common.exceptions import IbisError

    return duckdb.Error, psycopg.Error, IbisError


def omop_frame(dataset: DatasetConfig, connections: Connections) -> pl.DataFrame:
    """The dataset's OMOP patients as ``cohort.omop.omop_patients`` gives them (polars);
    raises ``SourceError`` naming the source and the error's type only."""
    source = dataset.patients
    try:
        return omop_patients(_omop_backend(source, connections), dataset.omop).to_polars()
    except ValueError as error:  # the OMOP tables lack what the mapping reads
        raise SourceError(f"{source.label}: {error}") from None
    except _driver_errors() as error:
        raise SourceError(f"{source.label}: the OMOP tables cannot be read "
                          f"({type(error).__name__})") from None


def _unit_warnings(frame: pl.DataFrame, label: str) -> list[Problem]:
    """A warning per unit of total doses that are neither Gy nor cGy (their rows)."""
    units = frame[UNIT_COLUMN]
    return [Problem(label, "rt_total_dose_gy", _row_numbers(units == unit),
                    f"total dose recorded in '{unit}', not Gy or cGy: left missing",
                    warning=True)
            for unit in units.drop_nulls().unique().sort().to_list()]


def omop_table(dataset: DatasetConfig, connections: Connections
               ) -> tuple[pl.DataFrame, list[Problem]]:
    """The OMOP dataset's text table (canonical columns and the endpoint dates) and the
    warnings on its dose units."""
    frame = omop_frame(dataset, connections)
    label = dataset.patients.label
    return text_table(frame.drop(UNIT_COLUMN), label), _unit_warnings(frame, label)


def _omop_fingerprint(source: Source, connections: Connections) -> tuple:
    """Row counts of the tables the mapping reads and the latest end of observation."""
    schema = source.omop_schema
    counted = ("person", "death", "observation_period", "episode", "measurement",
               "drug_exposure")
    parts = [f"(SELECT count(*) FROM {quoted(schema)}.{quoted(t)})::text AS {quoted(t)}"
             for t in counted]
    parts.append(f"(SELECT max(observation_period_end_date) FROM {quoted(schema)}."
                 f"{quoted('observation_period')})::text AS last_observation")
    row = _fetch(source, "SELECT " + ", ".join(parts), connections).row(0)
    return ("omop", *(str(v) for v in row))


def _no_connections(name: str) -> Mapping[str, object]:
    raise SourceError(f"PostgreSQL connection '{name}': no [connections.{name}] in the secrets")


def load_configured(dataset: DatasetConfig, connections: Connections = _no_connections,
                    now: dt.datetime | None = None) -> Cohort:
    """The dataset's validated ``Cohort`` (name: its title; provenance: the configured one,
    the sources and when they were read); raises ``CohortValidationError`` (``CohortWarnings``
    unless ``accept_warnings``) or ``SourceError``."""
    options = dataset.options
    source_problems: list[Problem] = []
    if dataset.omop is not None:
        patients, source_problems = omop_table(dataset, connections)
    else:
        id_column = next(s for s, t in options.mapping.items() if t == "patient_id")
        patients = source_table(dataset.patients, dataset.patient_columns(), options.decimal,
                                connections, order_by=id_column)
    toxicities = None
    if dataset.toxicities is not None:
        toxicities = source_table(dataset.toxicities, dataset.toxicity_columns(),
                                  options.decimal, connections)
    tox_label = dataset.toxicities.label if dataset.toxicities else "toxicities"

    def validated(accept_warnings: bool) -> Cohort:
        try:
            cohort = validate_cohort(patients, dataset.patients.label, options, toxicities,
                                     tox_label, dataset.toxicity_mapping,
                                     accept_warnings=accept_warnings)
        except CohortWarnings as warned:
            raise CohortWarnings(source_problems + warned.problems) from None
        except CohortValidationError as failed:
            raise CohortValidationError(source_problems + failed.problems) from None
        if source_problems and not accept_warnings:
            raise CohortWarnings(source_problems)
        return cohort

    try:
        cohort, accepted = validated(False), []
    except CohortWarnings as warned:
        if not dataset.accept_warnings:
            raise
        cohort, accepted = validated(True), warned.problems
        for summary in failure_summaries(warned):
            LOG.warning("dataset %s: accepted %s", dataset.key, summary)
    read_at = (now or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    sources = dataset.patients.label + (f" with toxicities from {tox_label}"
                                        if dataset.toxicities else "")
    notes = "".join(f"; {note}" for note in reading_notes(options, accepted))
    provenance = f"{dataset.provenance} Read from {sources}{notes}; read {read_at}."
    return dataclasses.replace(cohort, name=dataset.title, provenance=provenance,
                               synthetic=dataset.synthetic)


# --------------------------------------------------------------------------- change, logs


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_size, status.st_mtime_ns


def fingerprint(source: Source, connections: Connections = _no_connections) -> tuple:
    """What changes when the source's data change: a file's (size, mtime); a DuckDB file's and
    its write-ahead log's; a PostgreSQL table's row count and its change column's maximum
    (as text). Raises ``SourceError`` when a database cannot be asked."""
    if source.kind == "file":
        return ("file", _stat(source.path))
    if source.kind == "duckdb":
        return ("duckdb", _stat(source.path), _stat(Path(f"{source.path}.wal")))
    if source.omop_schema is not None:
        return _omop_fingerprint(source, connections)
    changed = f", max({quoted(source.change_column)})::text" if source.change_column else ""
    row = _fetch(source, f"SELECT count(*) AS n{changed} FROM {_from_sql(source)}",
                 connections).row(0)
    return ("postgres", *(str(v) for v in row))


def dataset_fingerprint(dataset: DatasetConfig, connections: Connections = _no_connections
                        ) -> tuple:
    """The fingerprints of the dataset's patients and toxicities sources."""
    tox = fingerprint(dataset.toxicities, connections) if dataset.toxicities else None
    return fingerprint(dataset.patients, connections), tox


def problem_summary(problem: Problem) -> str:
    """A problem as the server log may hold it: source, column, kind and row count; a reader's
    own error text (which could quote the file) is cut off."""
    kind = problem.message
    if kind.startswith(_READER_ERROR_PREFIX) and ":" in kind:
        kind = kind.split(":", 1)[0]
    where = f"column '{problem.column}'" if problem.column else "whole source"
    rows = f"{len(problem.rows)} row(s)" if problem.rows else "no row numbers"
    level = "warning" if problem.warning else "error"
    return f"{problem.file}, {where}: {level}: {kind} ({rows})"


def failure_summaries(error: Exception) -> list[str]:
    """What may be logged of a failed load (``CohortValidationError`` or ``SourceError``)."""
    if isinstance(error, CohortValidationError):
        return [problem_summary(p) for p in error.problems]
    return [str(error)]
