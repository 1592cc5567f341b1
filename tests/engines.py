"""The engines the engine-path tests run on, each started by the tests, and a polars frame
opened as a table on any of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ibis
import ibis.expr.types as ir
import polars as pl
import pytest
from ibis.backends.postgres import Backend as PostgresBackend

#: DuckDB over a table it holds and over a Parquet file, PostgreSQL (tests/pg.py's server),
#: Spark in local mode.
BACKENDS = ("duckdb", "duckdb-parquet", "postgres", "spark")


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local SparkSession (1 core, small shuffles) for the test session."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (pyspark_sql.SparkSession.builder.master("local[1]").appName("oligomet-tests")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def postgres_connection(server) -> PostgresBackend:
    """An ibis connection to the ``registry`` database of the tests' PostgreSQL ``server``."""
    return ibis.postgres.connect(host="127.0.0.1", port=server.port, user="postgres",
                                 password=server.password, database="registry")


def engine_table(backend: str, frame: pl.DataFrame, name: str,
                 request: pytest.FixtureRequest, directory: Path) -> ir.Table:
    """``frame`` as the table ``name`` on ``backend`` (one of :data:`BACKENDS`): held by
    DuckDB, written to ``directory``/``name``.parquet and read by DuckDB or Spark, or a
    PostgreSQL table (replaced if there)."""
    if backend == "duckdb":
        return ibis.duckdb.connect().create_table(name, frame)
    if backend == "postgres":
        con = postgres_connection(request.getfixturevalue("postgres"))
        return con.create_table(name, frame, overwrite=True)
    path = directory / f"{name}.parquet"
    frame.write_parquet(path)
    if backend == "duckdb-parquet":
        return ibis.duckdb.connect().read_parquet(path)
    return ibis.pyspark.connect(request.getfixturevalue("spark")).read_parquet(str(path))
