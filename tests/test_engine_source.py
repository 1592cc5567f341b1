"""A configured DuckDB dataset opened as an engine table (cohort/engine_source.py) gives the
numbers of the same dataset read into memory (cohort.sources.load_configured); a model's rows
are refused past the row limit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cohort import engine, survival
from cohort.analysis import SurvivalRequest, analysed_counts
from cohort.config import DatasetConfig, Source
from cohort.engine_analysis import analysed_counts_in_engine, counts_query
from cohort.engine_source import (
    EngineError,
    RowLimitError,
    connection_for,
    decoders,
    engine_table,
    model_rows,
    reading_problems,
    stripped,
)
from cohort.filters import CohortFilter, InRange, ValuesIn
from cohort.io import ReadOptions
from cohort.sources import load_configured
from cohort.text import WHITESPACE
from tests.engines import postgres_connection

MAPPING = {"pid": "patient_id", "surv_days": "os_months", "vital": "os_event",
           "hist": "histology", "dose": "rt_total_dose_gy"}
FILTER = CohortFilter((InRange("rt_total_dose_gy", 30, 60, include_missing=True),
                       ValuesIn("histology", ("prostate", "NSCLC"))))


#: The columns of the small registries below and their canonical names.
SHORT_MAPPING = {"pid": "patient_id", "surv": "os_months", "vital": "os_event",
                 "dose": "rt_total_dose_gy", "hist": "histology"}
ZERO_ONE = "0/1 (0 = censored, 1 = event, 2 = competing event)"


def _dataset(tmp_path: Path, **options) -> DatasetConfig:
    rng = np.random.default_rng(5)
    n = 400
    frame = pl.DataFrame({
        "pid": [f"P{i:04d}" for i in range(n)],
        "surv_days": rng.integers(1, 900, n),
        "vital": rng.choice(["dead", "alive", " Deceased"], n),
        "hist": rng.choice(["prostate", "NSCLC", "breast"], n),
        "dose": rng.choice([24.0, 30.0, 45.0, 60.0, 70.0], n),
    }).with_columns(dose=pl.when(pl.int_range(n) % 17 == 0).then(None).otherwise("dose"))
    path = tmp_path / "registry.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame.to_arrow())
        con.execute("CREATE TABLE patients AS SELECT * FROM frame")
    read = ReadOptions(mapping=MAPPING, time_unit="days",
                       event_codings={"os_event": "dead/alive"}, **options)
    return DatasetConfig(key="reg", title="Registry", provenance="Test registry.",
                         patients=Source("duckdb", path=path, table="patients"), options=read)


def test_engine_counts_equal_the_dataset_read_into_memory(tmp_path):
    dataset = _dataset(tmp_path)
    patients = load_configured(dataset).patients
    table = engine_table(dataset, lambda name: {})
    expected = survival.event_counts(FILTER.apply(patients), "os_months", "os_event",
                                     "histology")
    got = engine.event_counts(engine.filtered(table, FILTER), "os_months", "os_event",
                              "histology")
    assert expected["n_event"].sum() > 0 and expected["n_censor"].sum() > 0
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12)
    assert_frame_equal(engine.attrition(table, FILTER), FILTER.attrition(patients))


def test_model_rows_fetch_only_the_filtered_columns_and_respect_the_limit(tmp_path):
    table = engine_table(_dataset(tmp_path), lambda name: {})
    rows = model_rows(table, FILTER, ["os_months", "os_event", "histology"], row_limit=10_000)
    n = int(engine.attrition(table, FILTER)["n"][-1])
    assert rows.columns == ["os_months", "os_event", "histology"] and rows.height == n
    with pytest.raises(RowLimitError, match=f"{n:,} patients match the filter; a model "
                                            "fetches at most 100 rows"):
        model_rows(table, FILTER, ["os_months"], row_limit=100)


def test_a_reading_the_engine_does_not_compile_is_refused(tmp_path):
    with pytest.raises(EngineError, match="missing-value codes"):
        engine_table(_dataset(tmp_path, missing_values=frozenset({"na"})), lambda name: {})


def _coded_dataset(tmp_path: Path, coding: str, vital: list[int | None]) -> DatasetConfig:
    """A DuckDB registry whose event column holds integers, read with ``coding``."""
    frame = pl.DataFrame({"pid": [f"P{i}" for i in range(len(vital))],
                          "surv": [float(i + 1) for i in range(len(vital))],
                          "vital": pl.Series(vital, dtype=pl.Int32)})
    return _duckdb_dataset(tmp_path, frame, coding)


def _duckdb_dataset(tmp_path: Path, frame: pl.DataFrame, coding: str) -> DatasetConfig:
    """``frame`` as the patients table of a DuckDB registry, its columns mapped by
    ``SHORT_MAPPING``, times in months, os_event read with ``coding``."""
    path = tmp_path / "short.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame.to_arrow())
        con.execute("CREATE TABLE patients AS SELECT * FROM frame")
    mapping = {k: v for k, v in SHORT_MAPPING.items() if k in frame.columns}
    read = ReadOptions(mapping=mapping, time_unit="months", event_codings={"os_event": coding})
    return DatasetConfig(key="reg", title="Registry", provenance="Test registry.",
                         patients=Source("duckdb", path=path, table="patients"), options=read)


@pytest.mark.parametrize(("coding", "vital"), [
    ("0/1 (0 = censored, 1 = event, 2 = competing event)", [0, 1, 2, None, 1, 0]),
    ("1/2 (R style: 1 = censored, 2 = event)", [1, 2, None, 2, 1, 1]),
])
def test_integer_event_codes_read_as_the_in_memory_reading_does(tmp_path, coding, vital):
    dataset = _coded_dataset(tmp_path, coding, vital)
    expected = load_configured(dataset).patients.sort("patient_id")["os_event"]
    got = engine_table(dataset, lambda name: {}).to_polars().sort("patient_id")["os_event"]
    assert got.cast(pl.Int64).to_list() == expected.cast(pl.Int64).to_list()
    assert reading_problems(dataset, lambda name: {}) == []


def test_integer_codes_outside_the_coding_are_reported_by_column_and_count(tmp_path):
    dataset = _coded_dataset(tmp_path, "1/2 (R style: 1 = censored, 2 = event)",
                             [1, 2, 0, 3, None, 2])
    problems = reading_problems(dataset, lambda name: {})
    assert problems == [f"{dataset.patients.label}, column 'vital': 2 row(s) not a code of "
                        "its stated event coding"]
    codes = engine_table(dataset, lambda name: {}).to_polars().sort("patient_id")["os_event"]
    assert codes.to_list() == [0, 1, None, None, None, 1]


@pytest.mark.parametrize("request_", [
    SurvivalRequest("os_months", "os_event", by="histology", unit="days"),
    SurvivalRequest("os_months", "os_event", by="rt_total_dose_gy", unit="months"),
    SurvivalRequest("os_months", "os_event", unit="weeks"),
], ids=["by histology, days", "by dose, months", "overall, weeks"])
def test_survival_counts_group_stored_values_and_equal_the_in_memory_reading(tmp_path,
                                                                              request_):
    """Days and dead/alive text are grouped as stored (no decoding of each row in the
    engine) and the fetched keys decoded: the counts equal the in-memory reading's."""
    dataset = _dataset(tmp_path)
    patients = FILTER.apply(load_configured(dataset).patients)
    table = engine.filtered(engine_table(dataset, lambda name: {}), FILTER)
    query = counts_query(table, request_, decoders(dataset))[0]
    grouped = str(ibis.to_sql(query, dialect="duckdb"))
    assert '"t0"."vital" AS "event"' in grouped and '"t0"."surv_days" AS "time"' in grouped
    got = analysed_counts_in_engine(table, request_, decoders(dataset))
    expected = analysed_counts(patients, request_)
    assert_frame_equal(got.counts, expected.counts)
    assert (got.left_out, got.cut, got.competing_groups) == (
        expected.left_out, expected.cut, expected.competing_groups)


@pytest.mark.parametrize("column", ["surv", "dose"])
def test_numbers_stored_as_text_are_refused_not_compared_as_text(tmp_path, column):
    """A text time or dose would be compared as text by a filter (" 9" < "10" < "9"), and
    the in-memory reading parses such text (decimal commas, blanks): the engine refuses it."""
    frame = pl.DataFrame({"pid": ["P1", "P2"], "surv": [3.0, 12.5], "vital": [0, 1],
                          "dose": [30.0, 8.0]}).with_columns(pl.col(column).cast(pl.String))
    dataset = _duckdb_dataset(tmp_path, frame, ZERO_ONE)
    canonical = SHORT_MAPPING[column]
    with pytest.raises(EngineError, match=f"short.duckdb.*, column '{column}' \\({canonical}\\): "
                                          "stored as text"):
        engine_table(dataset, lambda name: {})


def _padded(characters: list[str]) -> list[str]:
    """Each character around a word, after it twice, and alone."""
    return [form for c in characters for form in (f"{c}x{c}", f"x{c}{c}", c)]


def _stripped_by_the_engine(table: ir.Table) -> list[str | None]:
    return table.order_by("i").select(v=stripped(table.v)).to_polars()["v"].to_list()


def test_the_engine_strips_exactly_the_characters_polars_strips(tmp_path):
    """Every code point (but NUL) around, after and instead of a word: DuckDB strips what
    polars' strip_chars strips, no more (a zero-width space or a BOM stays), no less (a
    no-break space from an Excel export goes)."""
    characters = [chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    values = pl.DataFrame({"v": _padded(characters)}).with_row_index("i")
    expected = values["v"].str.strip_chars().to_list()
    assert sorted({c for c in characters if c.strip(WHITESPACE) == ""}) == sorted(WHITESPACE)
    con = ibis.duckdb.connect()
    assert _stripped_by_the_engine(con.create_table("texts", values)) == expected


def test_postgres_strips_exactly_the_characters_polars_strips(postgres):
    """The same on PostgreSQL, for the first 12,544 code points (every whitespace character
    among them) and the look-alikes beyond (zero-width and BOM)."""
    characters = [chr(c) for c in [*range(1, 0x3100), 0xFEFF, 0x10FFFF]]
    values = _padded(characters)
    with postgres.connect() as con:
        con.execute("DROP TABLE IF EXISTS texts")
        con.execute("CREATE TABLE texts (i integer, v text)")
        with con.cursor().copy("COPY texts (i, v) FROM STDIN") as copy:
            for row in enumerate(values):
                copy.write_row(row)
    engine_con = postgres_connection(postgres)
    expected = pl.Series(values).str.strip_chars().to_list()
    assert _stripped_by_the_engine(engine_con.table("texts")) == expected


def _padded_registry(tmp_path: Path) -> DatasetConfig:
    """Histology and vital status padded as hand exports pad them (no-break spaces, tabs,
    an ideographic space), next to the same values unpadded."""
    rng = np.random.default_rng(11)
    n = 300
    pads = ["", " ", "\xa0", "\t", "\u3000", "\u2007"]
    pad = [pads[i] for i in rng.integers(0, len(pads), n)]
    frame = pl.DataFrame({
        "pid": [f"P{i:03d}" for i in range(n)],
        "surv": rng.integers(1, 60, n).astype(float),
        "vital": [p + v + p for p, v in zip(pad, rng.choice(["dead", "alive"], n), strict=True)],
        "hist": [v + p for p, v in zip(pad, rng.choice(["prostate", "renal", "lung"], n), strict=True)],
    })
    return _duckdb_dataset(tmp_path, frame, "dead/alive")


def test_padded_text_reads_as_the_in_memory_reading_reads_it(tmp_path):
    """Filters, attrition and the Survival counts see "renal\xa0" as "renal" and a padded
    "dead" as an event, as the in-memory reading does; the Survival query still groups the
    stored values (stripping 100M rows in the GROUP BY would cost 0.5 s)."""
    dataset = _padded_registry(tmp_path)
    patients = load_configured(dataset).patients
    table = engine_table(dataset, lambda name: {})
    renal = CohortFilter((ValuesIn("histology", ("renal",)),))
    assert_frame_equal(engine.attrition(table, renal), renal.attrition(patients))
    got = table.to_polars().sort("patient_id")
    assert got["os_event"].to_list() == patients.sort("patient_id")["os_event"].to_list()
    assert reading_problems(dataset, lambda name: {}) == []
    request = SurvivalRequest("os_months", "os_event", by="histology", unit="months")
    query = counts_query(table, request, decoders(dataset))[0]
    assert "REGEXP" not in str(ibis.to_sql(query, dialect="duckdb")).upper()
    in_engine = analysed_counts_in_engine(table, request, decoders(dataset))
    assert_frame_equal(in_engine.counts, analysed_counts(patients, request).counts)
    assert in_engine.counts["group"].unique().sort().to_list() == ["lung", "prostate", "renal"]


def test_a_text_column_coded_as_integers_is_grouped_by_code_not_split_at_a_median(tmp_path):
    frame = pl.DataFrame({"pid": [f"P{i}" for i in range(40)],
                          "surv": [float(i % 13 + 1) for i in range(40)],
                          "vital": [i % 2 for i in range(40)], "hist": [i % 4 for i in range(40)]})
    dataset = _duckdb_dataset(tmp_path, frame, ZERO_ONE)
    request = SurvivalRequest("os_months", "os_event", by="histology", unit="months")
    table = engine_table(dataset, lambda name: {})
    in_engine = analysed_counts_in_engine(table, request, decoders(dataset))
    expected = analysed_counts(load_configured(dataset).patients, request)
    assert_frame_equal(in_engine.counts, expected.counts)
    assert in_engine.counts["group"].unique().sort().to_list() == ["0", "1", "2", "3"]
    decimals = frame.with_columns(pl.col("hist").cast(pl.Float64))
    (tmp_path / "f").mkdir()
    with pytest.raises(EngineError, match=r"column 'hist' \(histology\): stored as float64"):
        engine_table(_duckdb_dataset(tmp_path / "f", decimals, ZERO_ONE), lambda name: {})


def _ids_frame() -> pl.DataFrame:
    """Six patients: "P2" twice (once padded with a no-break space), "P3" three times, one
    without an id."""
    return pl.DataFrame({"pid": ["P1", "P2", "P2\xa0", "P3", "P3", "P3", None],
                         "surv": [float(i + 1) for i in range(7)], "vital": [0, 1] * 3 + [1]})


def _postgres_dataset(server, frame: pl.DataFrame, coding: str) -> DatasetConfig:
    """``frame`` as a PostgreSQL table read through the secrets connection ``registry``."""
    postgres_connection(server).create_table("short_registry", frame, overwrite=True)
    mapping = {k: v for k, v in SHORT_MAPPING.items() if k in frame.columns}
    read = ReadOptions(mapping=mapping, time_unit="months", event_codings={"os_event": coding})
    return DatasetConfig(key="reg", title="Registry", provenance="Test registry.",
                         patients=Source("postgres", connection="registry",
                                         table="short_registry"), options=read)


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_missing_and_duplicate_patient_ids_are_reported_as_the_upload_reports_them(
        tmp_path, request, backend):
    """Counted twice, a patient would weigh twice in every curve; the in-memory reading
    refuses such a registry, and the engine reading reports the same rows."""
    frame = _ids_frame()
    if backend == "duckdb":
        dataset, connections = _duckdb_dataset(tmp_path, frame, ZERO_ONE), lambda name: {}
    else:
        server = request.getfixturevalue("postgres")
        dataset = _postgres_dataset(server, frame, ZERO_ONE)
        connections = {"registry": server.secrets()}.__getitem__
    label = dataset.patients.label
    assert reading_problems(dataset, connections) == [
        f"{label}, column 'pid': 1 row(s) missing patient_id",
        f"{label}, column 'pid': 5 row(s) duplicate patient_id"]
    with pytest.raises(Exception) as refused:
        load_configured(dataset, connections)
    words = str(refused.value)
    assert "missing patient_id" in words and "duplicate patient_id" in words
    clean = frame.filter(pl.col("pid").is_in(["P1", "P2"]))
    if backend == "duckdb":
        (tmp_path / "clean").mkdir()
        assert reading_problems(_duckdb_dataset(tmp_path / "clean", clean, ZERO_ONE),
                                connections) == []


def _setting(connection, name: str) -> str:
    query = f"SELECT current_setting('{name}')"
    run = connection.raw_sql if hasattr(connection, "raw_sql") else connection.execute
    return run(query).fetchone()[0]


def test_an_embedded_engine_connection_is_held_to_its_memory_and_spills_privately(tmp_path):
    """DuckDB's own default would let one query take 80 % of the machine's memory; each
    connection of a Parquet dataset is held to the dataset's engine_memory_mb and spills to a
    directory of its own (its database is its own), removed when the connection goes."""
    import gc

    pl.DataFrame({"x": [1, 2]}).write_parquet(tmp_path / "x.parquet")
    dataset = dataclasses.replace(_dataset(tmp_path), engine_memory_mb=1500,
                                  patients=Source("file", path=tmp_path / "x.parquet"))
    con, other = (connection_for(dataset, lambda name: {}) for _ in range(2))
    plain, bounded = duckdb.connect(), duckdb.connect()
    bounded.execute("SET memory_limit = '1500MB'")
    assert _setting(con, "memory_limit") == _setting(bounded, "memory_limit") != _setting(
        plain, "memory_limit")
    spill = Path(_setting(con, "temp_directory"))
    assert spill.is_dir() and spill.name.startswith("oligomet-duckdb-")
    assert spill != Path(_setting(other, "temp_directory"))
    assert (spill.stat().st_mode & 0o777) == 0o700
    del con
    gc.collect()
    assert not spill.exists()


def test_connections_to_one_duckdb_file_share_its_database_and_its_spill_directory(tmp_path):
    """DuckDB opens a file once per process: its connections share the settings, so they get
    one spill directory, kept while the server runs (one connection going must not remove
    what another one's query spills into)."""
    import gc

    dataset = dataclasses.replace(_dataset(tmp_path), engine_memory_mb=1500)
    con, other = (connection_for(dataset, lambda name: {}) for _ in range(2))
    spill = Path(_setting(con, "temp_directory"))
    assert spill == Path(_setting(other, "temp_directory")) and spill.is_dir()
    del con
    gc.collect()
    assert spill.is_dir()
    assert other.raw_sql("SELECT count(*) FROM patients").fetchone()[0] == 400


def test_engine_memory_is_configured_per_dataset_in_megabytes(tmp_path):
    from cohort.config import DEFAULT_ENGINE_MEMORY_MB, load_config

    pl.DataFrame({"id": ["P1"], "t": [1.0], "e": [1]}).write_parquet(tmp_path / "r.parquet")
    dataset = ('title = "R"\nprovenance = "p"\npatients = "r.parquet"\nengine = true\n'
               'reading = { mapping = { id = "patient_id", t = "os_months", e = "os_event" }, '
               'time_unit = "months", event_codings = { e = "0/1" } }\n')
    path = tmp_path / "oligomet.toml"
    path.write_text(f"[datasets.big]\n{dataset}engine_memory_mb = 8000\n"
                    f"[datasets.plain]\n{dataset}"
                    f"[datasets.tiny]\n{dataset}engine_memory_mb = 10\n")
    config = load_config(path)
    assert config.datasets["big"].engine_memory_mb == 8000
    assert config.datasets["plain"].engine_memory_mb == DEFAULT_ENGINE_MEMORY_MB == 4000
    assert f"{path}: [datasets.tiny] engine_memory_mb: must be a whole number >= 100" in (
        config.problems)
