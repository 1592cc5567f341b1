"""Toxicity of an engine dataset, counted where the data live.

The toxicities source (a Parquet file, a DuckDB or PostgreSQL table) is read on the patients'
connection (:func:`engine_tables`) with the reading an upload gets: patient ids and terms as
stripped text, grades as whole numbers, phases stripped and in lower case. The rows the
in-memory reading would refuse (a missing or non-whole grade, a grade outside 1-5, a missing
term, a phase other than acute or late, a patient not in the patients table) are counted when
the dataset opens (:func:`toxicity_problems`). :func:`grade_counts_in_engine` joins the
filtered patients to their toxicities and fetches only the counts per (term, group, worst
grade) and the assessed patients per group: ``cohort.toxicity.matrix_from_counts`` makes the
matrix of them as it does for the in-memory path.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import polars as pl

from cohort.config import DatasetConfig
from cohort.engine import EngineError
from cohort.engine_source import (
    connection_for,
    patients_table,
    read_source,
    refuse_in_memory_readings,
    shares_engine,
    stored_column,
    stripped,
    text_value,
)
from cohort.io import suggest_mapping
from cohort.schema import PATIENT_ID, TOXICITY_COLUMNS, TOXICITY_PHASES
from cohort.sources import Connections
from cohort.toxicity import (
    ALL_GROUP,
    ASSESSED,
    ASSESSED_BY_COLUMN,
    ASSESSED_BY_RECORD,
    MISSING_GROUP,
    GradeCounts,
)

__all__ = ["ctcae_versions_in_engine", "engine_tables", "grade_counts_in_engine",
           "kept_toxicity_rows", "studies_in_engine", "toxicity_phases_in_engine", "toxicity_problems",
           "toxicity_rows_in_engine", "toxicity_table"]

#: A toxicity column read as text when the source has it (under this name or mapped to it).
VERSION = "ctcae_version"


def engine_tables(dataset: DatasetConfig, connections: Connections
                  ) -> tuple[ir.Table, ir.Table | None]:
    """The patients (``engine_source.engine_table``) and the toxicities
    (:func:`toxicity_table`; None without a toxicities source) on one connection, so that a
    query can join them."""
    refuse_in_memory_readings(dataset)
    con = connection_for(dataset, connections)
    patients = patients_table(dataset, read_source(con, dataset.patients))
    if dataset.toxicities is None:
        return patients, None
    if not shares_engine(dataset.patients, dataset.toxicities):
        raise EngineError(f"{dataset.toxicities.label}: toxicities kept in the engine must be "
                          f"where the patients are ({dataset.patients.label})")
    return patients, toxicity_table(dataset, read_source(con, dataset.toxicities))


def _source_columns(dataset: DatasetConfig, source: ir.Table) -> dict[str, str]:
    """Canonical toxicity column -> the source column read for it."""
    mapping = dataset.toxicity_mapping or suggest_mapping(source.columns, TOXICITY_COLUMNS)
    named = {canonical: column for column, canonical in mapping.items()
             if canonical and column in source.columns}
    for canonical in (*TOXICITY_COLUMNS, VERSION):
        if canonical not in named and canonical in source.columns:
            named[canonical] = canonical
    return named


def _grade(value: ir.Value) -> ir.Value:
    if value.type().is_integer() or value.type().is_floating():
        return value
    raise EngineError(f"stored as {value.type()}: grades written as text are parsed on "
                      "reading: not compiled")


def _phase(value: ir.Value) -> ir.StringValue:
    if not value.type().is_string():
        raise EngineError(f"stored as {value.type()}, not as text")
    return stripped(value).lower()


_READINGS = {PATIENT_ID: text_value, "term": text_value, "grade": _grade, "phase": _phase,
             VERSION: lambda value: value.cast("string")}


def _raw_toxicities(dataset: DatasetConfig, source: ir.Table) -> ir.Table:
    """The toxicity columns read, the grade as stored (float or integer)."""
    label = dataset.toxicities.label
    named = _source_columns(dataset, source)
    absent = [c for c in ("patient_id", "term", "grade") if c not in named]
    if absent:
        raise EngineError(f"{label}: no column for {', '.join(absent)}")
    columns = {}
    for canonical, column in named.items():
        if canonical not in _READINGS:
            continue
        try:
            columns[canonical] = _READINGS[canonical](source[column])
        except EngineError as error:
            raise EngineError(f"{label}, column '{column}' ({canonical}): {error}") from None
    return source.select(**columns, **{STORED_ID: source[named[PATIENT_ID]]})


#: The toxicity table's column of the patient id as stored, beside the id read as text.
STORED_ID = stored_column(PATIENT_ID)


def _id_keys(toxicities: ir.Table, patients: ir.Table) -> tuple[ir.Value, ir.Value]:
    """The toxicities' and the patients' ids to match: the stored integers where both sources
    store integers (an integer's text is its digits, so the same rows match, without the text
    of 100M ids to hash), else the ids read as text."""
    if STORED_ID in toxicities.columns and STORED_ID in patients.columns:
        ours, theirs = toxicities[STORED_ID], patients[STORED_ID]
        if ours.type().is_integer() and theirs.type().is_integer():
            return ours, theirs
    return toxicities[PATIENT_ID], patients[PATIENT_ID]


def toxicity_table(dataset: DatasetConfig, source: ir.Table) -> ir.Table:
    """The toxicities source table ``source`` with the canonical columns patient_id, term,
    grade (int64) and, where present, phase and ctcae_version, and the id as stored
    (:data:`STORED_ID`); raises :class:`EngineError`
    for a column the engine path does not compile."""
    raw = _raw_toxicities(dataset, source)
    return raw.mutate(grade=raw.grade.cast("int64"))


def toxicity_problems(dataset: DatasetConfig, connections: Connections) -> list[str]:
    """The rows of the dataset's toxicities that the in-memory reading refuses, counted in
    one aggregate query: each problem names the source, the column and how many rows (never
    a value); [] without toxicities or when they are clean."""
    if dataset.toxicities is None:
        return []
    patients, _ = engine_tables(dataset, connections)  # refuses what does not compile
    source = read_source(patients.get_backend(), dataset.toxicities)
    raw = _raw_toxicities(dataset, source)
    named = _source_columns(dataset, source)
    grade = raw.grade.cast("float64")
    ours, theirs = _id_keys(raw, patients)
    checks = {
        "grade": [("missing grade", grade.isnull()),
                  ("grade not a whole number", grade.notnull() & (grade != grade.round(0))),
                  ("grade outside 1-5", grade.notnull() & ((grade < 1) | (grade > 5)))],
        "term": [("missing term", raw.term.isnull())],
        "patient_id": [("patient_id not in the patients table",
                        ~ours.isin(theirs))],
    }
    if "phase" in raw.columns:
        checks["phase"] = [("phase is not acute or late",
                            raw.phase.notnull() & ~raw.phase.isin(TOXICITY_PHASES))]
    found = [(column, words, check) for column, items in checks.items()
             for words, check in items]
    sums = {f"_{i}": check.fill_null(False).cast("int32").sum().fill_null(0)
            for i, (_, _, check) in enumerate(found)}
    row = raw.aggregate(**sums).to_polars().row(0, named=True)
    label = dataset.toxicities.label
    return [f"{label}, column '{named[column]}': {int(row[f'_{i}']):,} row(s) {words}"
            for i, (column, words, _) in enumerate(found) if row[f"_{i}"]]


def _cohort(patients: ir.Table, patient_key: ir.Value, by: str | None) -> ir.Table:
    """patient_id (``patient_key``), group (text; missing -> "missing") and assessed (the
    column's value, False when missing or absent) of the kept patients."""
    group = (ibis.literal(ALL_GROUP) if by is None
             else patients[by].cast("string").fill_null(MISSING_GROUP))
    return patients.select(patient_id=patient_key, group=group, assessed=_assessed(patients))


def _assessed(patients: ir.Table) -> ir.BooleanValue:
    """The ``toxicity_assessed`` column's value, False where missing or without the column."""
    if ASSESSED not in patients.columns:
        return ibis.literal(False)
    return patients[ASSESSED].cast("boolean").fill_null(False)


def grade_counts_in_engine(toxicities: ir.Table, patients: ir.Table, by: str | None = None,
                           phase: str | None = None) -> GradeCounts:
    """``cohort.toxicity.grade_counts`` of the kept ``patients`` (an engine table, filtered;
    its ids unique, as the opening checks) and their ``toxicities`` (:func:`toxicity_table`,
    same connection): two aggregate queries, a few hundred rows fetched. A patient with a
    toxicity record is assessed, so the worst grades need only the records joined to the
    kept patients; the sizes count the kept patients assessed by column or by record."""
    toxicity_key, patient_key = _id_keys(toxicities, patients)
    cohort = _cohort(patients, patient_key, by)
    assessed = cohort.mutate(assessed=cohort.assessed | cohort.patient_id.isin(toxicity_key))
    sizes = assessed.group_by(["group", "assessed"]).aggregate(group_n=assessed.count())
    rows = toxicities.select("term", "grade", *(["phase"] if phase is not None else []),
                             patient_id=toxicity_key)
    rows = rows.filter(rows.grade.notnull(), rows.term.notnull())
    if phase is not None:
        rows = rows.filter(rows.phase == phase)
    joined = rows.join(cohort.select("patient_id", "group"), "patient_id")
    worst = joined.group_by(["patient_id", "term", "group"]).aggregate(grade=joined.grade.max())
    worst_counts = worst.group_by(["term", "group", "grade"]).aggregate(n=worst.count())
    sizes = sizes.to_polars().with_columns(pl.col("group").cast(pl.String))
    basis = ASSESSED_BY_COLUMN if ASSESSED in patients.columns else ASSESSED_BY_RECORD
    return GradeCounts(
        worst_counts.to_polars().with_columns(pl.col("term", "group").cast(pl.String)),
        sizes.filter(pl.col("assessed")).select("group", "group_n"),
        int(sizes["group_n"].sum()), basis)


def kept_toxicity_rows(toxicities: ir.Table, patients: ir.Table) -> ir.Table:
    """The toxicity rows of the kept ``patients`` (a lazy table)."""
    toxicity_key, patient_key = _id_keys(toxicities, patients)
    return toxicities.filter(toxicity_key.isin(patient_key))


def toxicity_rows_in_engine(toxicities: ir.Table, patients: ir.Table) -> int:
    """The number of the kept patients' toxicity rows."""
    return int(kept_toxicity_rows(toxicities, patients).count().to_pyarrow().as_py())


def toxicity_phases_in_engine(toxicities: ir.Table, patients: ir.Table) -> list[str]:
    """The phases (acute, late, in that order) of the kept patients' toxicity rows."""
    if "phase" not in toxicities.columns:
        return []
    kept = kept_toxicity_rows(toxicities, patients)
    present = set(kept.select("phase").distinct().to_polars()["phase"].drop_nulls().to_list())
    return [p for p in TOXICITY_PHASES if p in present]


def ctcae_versions_in_engine(toxicities: ir.Table, patients: ir.Table, phase: str | None
                             ) -> list[str]:
    """The CTCAE versions (sorted text) of the kept patients' toxicity rows of ``phase``
    (None: all); [] without a version column."""
    if VERSION not in toxicities.columns:
        return []
    kept = kept_toxicity_rows(toxicities, patients)
    if phase is not None and "phase" in kept.columns:
        kept = kept.filter(kept.phase == phase)
    versions = kept.select(VERSION).distinct().to_polars()[VERSION].drop_nulls()
    return sorted(versions.cast(pl.String).to_list())


def studies_in_engine(toxicities: ir.Table, patients: ir.Table) -> tuple[set, set]:
    """The studies of the kept patients assessed for toxicity and of all kept patients
    (empty sets without a study column)."""
    if "study" not in patients.columns:
        return set(), set()
    toxicity_key, patient_key = _id_keys(toxicities, patients)
    assessed = patients.filter(_assessed(patients) | patient_key.isin(toxicity_key))

    def studies(table: ir.Table) -> set:
        return set(table.select("study").distinct().to_polars()["study"].drop_nulls().to_list())

    return studies(assessed), studies(patients)
