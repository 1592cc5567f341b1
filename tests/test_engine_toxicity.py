"""Toxicity counted in the engine (cohort/engine_toxicity.py) equals the in-memory matrix
exactly on DuckDB, Parquet, PostgreSQL and Spark; a toxicities source the in-memory reading
would refuse is reported by column and number of rows when an engine dataset opens."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import ibis
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cohort.config import DatasetConfig, Source
from cohort.engine import filtered
from cohort.engine_cohort import EngineReadingError, open_engine_cohort
from cohort.engine_toxicity import (
    ctcae_versions_in_engine,
    engine_tables,
    grade_counts_in_engine,
    kept_toxicity_rows,
    studies_in_engine,
    toxicity_phases_in_engine,
    toxicity_problems,
    toxicity_rows_in_engine,
)
from cohort.filters import CohortFilter, InRange, ValuesIn
from cohort.io import ReadOptions
from cohort.sources import load_configured
from cohort.toxicity import (
    assessed_studies,
    ctcae_versions,
    grade_counts,
    matrix_from_counts,
    phases_present,
)
from tests.engines import BACKENDS, engine_table, postgres_connection
from tests.test_engine_source import ZERO_ONE


def _registry(n: int = 240, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Patients (some assessed without a record, a missing group, an integer and a Boolean
    group column) and toxicities (repeated terms per patient in both phases, every grade, a
    patient with only late toxicity, versions), both clean as the in-memory reading leaves
    them."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    patients = pl.DataFrame({
        "patient_id": ids,
        "study": rng.choice(["A", "B", "C"], n),
        "histology": pl.Series(rng.choice(["renal", "lung", "prostate", None], n),
                               dtype=pl.String),
        "dose_level": rng.integers(1, 4, n),
        "dlt": rng.random(n) < 0.2,
        "toxicity_assessed": rng.random(n) < 0.7,
        "age_years": rng.uniform(30, 85, n).round(1),
        "os_months": rng.uniform(1, 60, n).round(1),
        "os_event": rng.integers(0, 2, n),
    })
    m = 700
    toxicities = pl.DataFrame({
        "patient_id": rng.choice(ids[: n * 3 // 4], m),
        "term": rng.choice(["Fatigue", "Nausea", "Anemia", "Dermatitis", "Pneumonitis"], m),
        "grade": rng.integers(1, 6, m),
        "phase": rng.choice(["acute", "late"], m, p=[0.7, 0.3]),
        "ctcae_version": rng.choice(["v4.0", "v5.0"], m),
    })
    return patients, toxicities


PATIENTS, TOXICITIES = _registry()
FILTERS = {
    "none": CohortFilter(()),
    "older, renal or lung": CohortFilter((InRange("age_years", 50, None),
                                          ValuesIn("histology", ("renal", "lung")))),
}
CASES = [(backend, by, phase) for backend in BACKENDS
         for by in (None, "histology", "dose_level", "dlt") for phase in (None, "acute", "late")
         if backend != "spark" or (by, phase) in {("histology", "acute"), ("dlt", None)}]


@pytest.fixture(scope="module")
def tables(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(patients, toxicities) as engine tables on each backend, on one DuckDB connection
    for DuckDB (each ``engine_table`` call connects anew)."""
    directory = tmp_path_factory.mktemp("toxicity")
    patients = engine_table(request.param, PATIENTS, "tox_patients", request, directory)
    if request.param == "duckdb":
        return patients, patients.get_backend().create_table("tox_records", TOXICITIES)
    if request.param == "duckdb-parquet":
        TOXICITIES.write_parquet(directory / "tox_records.parquet")
        return patients, patients.get_backend().read_parquet(directory / "tox_records.parquet")
    return patients, engine_table(request.param, TOXICITIES, "tox_records", request, directory)


@pytest.mark.parametrize(("tables", "by", "phase"), CASES, indirect=["tables"])
@pytest.mark.parametrize("name", list(FILTERS))
def test_grade_counts_equal_the_in_memory_counts_exactly(tables, by, phase, name):
    patients, toxicities = tables
    kept = FILTERS[name].apply(PATIENTS)
    expected = grade_counts(TOXICITIES, kept, by, phase)
    got = grade_counts_in_engine(toxicities, filtered(patients, FILTERS[name]), by, phase)
    assert_frame_equal(matrix_from_counts(got, by, phase).by_grade,
                       matrix_from_counts(expected, by, phase).by_grade)
    assert_frame_equal(matrix_from_counts(got, by, phase).by_group,
                       matrix_from_counts(expected, by, phase).by_group)
    assert (got.cohort_n, got.assessed_by) == (expected.cohort_n, expected.assessed_by)
    assert matrix_from_counts(expected, by, phase).denominator > 0


@pytest.mark.parametrize("tables", [b for b in BACKENDS if b != "spark"], indirect=True)
def test_phases_versions_and_studies_equal_the_in_memory_answers(tables):
    patients, toxicities = tables
    cohort_filter = CohortFilter((ValuesIn("study", ("A", "B")),))
    kept = cohort_filter.apply(PATIENTS)
    kept_tox = TOXICITIES.filter(pl.col("patient_id").is_in(kept["patient_id"].implode()))
    in_engine = filtered(patients, cohort_filter)
    assert toxicity_phases_in_engine(toxicities, in_engine) == phases_present(kept_tox)
    for phase in (None, "late"):
        assert (ctcae_versions_in_engine(toxicities, in_engine, phase)
                == ctcae_versions(kept_tox, phase))
    assert studies_in_engine(toxicities, in_engine) == assessed_studies(kept, kept_tox)


HAND_PATIENTS = PATIENTS.select("patient_id", "study", "histology", "toxicity_assessed",
                                "os_months", "os_event")


def _hand_exported(tmp_path: Path, toxicities: pl.DataFrame) -> DatasetConfig:
    """A DuckDB registry: the patients above and ``toxicities`` as its tables."""
    path = tmp_path / "registry.duckdb"
    with duckdb.connect(str(path)) as con:
        for name, frame in (("patients", HAND_PATIENTS), ("toxicities", toxicities)):
            con.register("frame", frame.to_arrow())
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
    return _registry_config(Source("duckdb", path=path, table="patients"),
                            Source("duckdb", path=path, table="toxicities"))


def _in_postgres(server, toxicities: pl.DataFrame) -> DatasetConfig:
    """The same registry as two tables of the tests' PostgreSQL server."""
    con = postgres_connection(server)
    con.create_table("hand_patients", HAND_PATIENTS, overwrite=True)
    con.create_table("hand_toxicities", toxicities, overwrite=True)
    return _registry_config(Source("postgres", connection="registry", table="hand_patients"),
                            Source("postgres", connection="registry", table="hand_toxicities"))


def _registry_config(patients: Source, toxicities: Source) -> DatasetConfig:
    """An engine dataset of ``patients`` and ``toxicities``, the toxicities read with a
    mapping from the export's own column names."""
    read = ReadOptions(mapping={c: c for c in HAND_PATIENTS.columns}, time_unit="months",
                       event_codings={"os_event": ZERO_ONE})
    return DatasetConfig(
        key="reg", title="Registry", provenance="Test registry.", patients=patients,
        toxicities=toxicities, options=read, engine=True,
        toxicity_mapping={"mrn": "patient_id", "ctcae_term": "term", "worst": "grade",
                          "period": "phase"})


@pytest.fixture(params=["duckdb", "postgres"])
def registry(request, tmp_path):
    """(how to configure a registry of given toxicities, its connections) per engine."""
    if request.param == "duckdb":
        return (lambda toxicities: _hand_exported(tmp_path, toxicities)), (lambda name: {})
    server = request.getfixturevalue("postgres")
    return ((lambda toxicities: _in_postgres(server, toxicities)),
            {"registry": server.secrets()}.__getitem__)


def _export(rows: int = 8) -> pl.DataFrame:
    """Toxicities as a clinical system exports them: padded ids and terms, phases in
    capitals with a trailing no-break space."""
    return pl.DataFrame({"mrn": [" P001", "P002\xa0", "P003", "P004"] * (rows // 4),
                         "ctcae_term": ["Fatigue ", "Nausea", "\tAnemia", "Fatigue"] * (rows // 4),
                         "worst": [1, 2, 3, 4] * (rows // 4),
                         "period": ["Acute\xa0", "LATE", "acute", None] * (rows // 4)})


def test_a_hand_export_reads_as_the_in_memory_reading_reads_it(registry):
    configured, connections = registry
    dataset = configured(_export())
    assert toxicity_problems(dataset, connections) == []
    cohort = load_configured(dataset, connections)
    patients, toxicities = engine_tables(dataset, connections)
    for by, phase in ((None, None), ("study", "acute"), ("histology", "late")):
        expected = grade_counts(cohort.toxicities, cohort.patients, by, phase)
        got = grade_counts_in_engine(toxicities, patients, by, phase)
        assert_frame_equal(matrix_from_counts(got, by, phase).by_group,
                           matrix_from_counts(expected, by, phase).by_group)
    assert open_engine_cohort(dataset, connections).n_patients == PATIENTS.height


def _integer_ids(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` with the ids 'P012' of ``column`` stored as the integers 12."""
    return frame.with_columns(pl.col(column).str.strip_chars().str.slice(1).cast(pl.Int64))


@pytest.mark.parametrize("stored", ["integers", "text"])
def test_integer_patient_ids_match_their_toxicities_as_their_text_does(registry, stored,
                                                                      monkeypatch):
    """Patient ids stored as integers: toxicities that store them as integers too are joined
    on the integers (no text made of each id), those that store them as text on the text; the
    counts are the in-memory reading's, whose ids are text."""
    monkeypatch.setattr(sys.modules[__name__], "HAND_PATIENTS",
                        _integer_ids(HAND_PATIENTS, "patient_id"))
    export = _export().vstack(_export().with_columns(mrn=pl.lit("P9999")).head(1))
    export = _integer_ids(export, "mrn") if stored == "integers" else export.with_columns(
        pl.col("mrn").str.strip_chars().str.slice(1).str.strip_chars_start("0"))
    configured, connections = registry
    dataset = configured(export)
    assert toxicity_problems(dataset, connections) == [
        f"{dataset.toxicities.label}, column 'mrn': 1 row(s) patient_id not in the patients table"]
    clean = configured(export.head(-1))
    cohort = load_configured(clean, connections)
    patients, toxicities = engine_tables(clean, connections)
    matched = ibis.to_sql(kept_toxicity_rows(toxicities, patients)).split("WHERE")[-1]
    assert ('"_stored_patient_id" IN' in matched) == (stored == "integers")
    assert toxicity_rows_in_engine(toxicities, patients) == cohort.toxicities.height == 8
    for by, phase in ((None, None), ("study", "acute")):
        expected = grade_counts(cohort.toxicities, cohort.patients, by, phase)
        got = grade_counts_in_engine(toxicities, patients, by, phase)
        assert_frame_equal(matrix_from_counts(got, by, phase).by_group,
                           matrix_from_counts(expected, by, phase).by_group)
        assert got.cohort_n == expected.cohort_n


def test_refused_toxicity_rows_are_reported_by_column_and_count(registry):
    """Grades 0, 6, 2.5 and none, a missing term, a 'chronic' phase and a patient the
    patients table does not have: the in-memory reading refuses them, and so does the
    engine, naming the source's own columns."""
    bad = pl.DataFrame({"mrn": ["P001", "P002", "P003", "P004", "P005", "P006", "X999"],
                        "ctcae_term": ["Fatigue", None, "Anemia", "Nausea", "Fatigue",
                                       "Nausea", "Fatigue"],
                        "worst": [0.0, 2.0, 6.0, 2.5, None, 3.0, 1.0],
                        "period": ["acute", "late", "acute", "late", "acute", "chronic", "late"]})
    configured, connections = registry
    dataset = configured(bad)
    label = dataset.toxicities.label
    problems = toxicity_problems(dataset, connections)
    assert problems == [f"{label}, column '{column}': {n} row(s) {words}" for column, n, words in (
        ("worst", 1, "missing grade"), ("worst", 1, "grade not a whole number"),
        ("worst", 2, "grade outside 1-5"), ("ctcae_term", 1, "missing term"),
        ("mrn", 1, "patient_id not in the patients table"),
        ("period", 1, "phase is not acute or late"))]
    with pytest.raises(EngineReadingError) as refused:
        open_engine_cohort(dataset, connections)
    assert refused.value.problems == problems
    with pytest.raises(Exception, match="grade outside 1-5"):
        load_configured(dataset, connections)


def test_toxicities_away_from_the_patients_engine_are_refused(tmp_path):
    dataset = _hand_exported(tmp_path, _export())
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    away = DatasetConfig(**{**dataset.__dict__,
                            "toxicities": Source("duckdb", path=other, table="toxicities")})
    with pytest.raises(Exception, match="must be where the patients are"):
        engine_tables(away, lambda name: {})
