"""Datasets configured on the server, read from real sources (a CSV and a Parquet file, a
DuckDB database, a PostgreSQL server) into the Cohort the Data page gives for the same data
and reading; a failing source is not offered and logged without patient values; a changed
source is reloaded; a link opens a configured dataset for everyone."""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from cohort.config import ConfigError, config_path, load_config, read_config
from cohort.datasets import list_datasets
from cohort.io import CohortValidationError, read_cohort, read_table, suggest_options, validate_cohort
from cohort.sources import SourceError, fingerprint, load_configured
from tests.apptest import ROOT, TIMEOUT, as_read, metric, open_app
from tests.registry_exports import gbsg2_dates, veterans_dates

VETERANS_READING = """
[datasets.{key}.reading]
keep = ["Karnofsky", "Prior therapy"]
[datasets.{key}.reading.mapping]
"Patient ID" = "patient_id"
Age = "age_years"
"Cell type" = "histology"
Arm = "regimen"
[datasets.{key}.reading.event_codings]
"Vital status" = "dead/alive"
[datasets.{key}.reading.dates]
time_zero = "Treatment start"
death = "Date of death or last contact"
vital_status = "Vital status"
"""

GBSG2_READING = """
[datasets.{key}.reading]
keep = ["Menopausal status", "Tumour size (mm)", "Grade", "Positive nodes"]
[datasets.{key}.reading.mapping]
MRN = "patient_id"
"Age at diagnosis" = "age_years"
Arm = "regimen"
[datasets.{key}.reading.dates]
time_zero = "RT start"
last_contact = "Date of last contact"
progression = "Date of recurrence"
"""


def write_config(folder: Path, key: str, source: str, reading: str, extra: str = "") -> Path:
    """A configuration file with one dataset ``key`` read from ``source`` (TOML inline)."""
    text = (f'[datasets.{key}]\ntitle = "Registry {key}"\n'
            f'provenance = "Department registry export ({key})."\npatients = {source}\n{extra}\n'
            + reading.format(key=key))
    path = folder / "oligomet.toml"
    path.write_text(textwrap.dedent(text))
    return path


def data_page_cohort(export: pl.DataFrame, options, name: str = "registry.csv"):
    """What the Data page loads from the export saved as CSV, with the same reading."""
    data = export.write_csv().encode()
    return validate_cohort(read_table(data, name), name, options)


def assert_same_cohort(configured, reference) -> None:
    assert configured.patients.equals(reference.patients)
    assert configured.patients.columns == reference.patients.columns
    if reference.toxicities is None:
        assert configured.toxicities is None
    else:
        assert configured.toxicities.equals(reference.toxicities)


# --------------------------------------------------------------------------- sources


def test_csv_export_with_dates_reads_as_on_the_data_page(tmp_path):
    export, truth = veterans_dates()
    export.write_csv(tmp_path / "veterans.csv")
    config = read_config(write_config(tmp_path, "vet", '"veterans.csv"', VETERANS_READING))
    dataset = config["vet"]
    cohort = load_configured(dataset)
    assert_same_cohort(cohort, data_page_cohort(export, dataset.options))
    assert cohort.patients["os_days"].to_list() == truth["days"].to_list()
    assert cohort.patients["os_event"].to_list() == truth["event"].to_list()
    assert cohort.name == "Registry vet"
    assert cohort.provenance.startswith("Department registry export (vet). Read from "
                                        "veterans.csv; OS derived from dates")


def test_parquet_file_reads_as_its_csv_on_the_data_page(tmp_path):
    export, truth = gbsg2_dates()
    export.write_parquet(tmp_path / "gbsg2.parquet")
    dataset = read_config(write_config(tmp_path, "gbsg", '"gbsg2.parquet"', GBSG2_READING))["gbsg"]
    cohort = load_configured(dataset)
    assert_same_cohort(cohort, data_page_cohort(export, dataset.options))
    assert cohort.patients["pfs_days"].to_list() == truth["days"].to_list()


def test_duckdb_table_reads_as_its_csv_on_the_data_page(tmp_path):
    export, _ = gbsg2_dates()
    with duckdb.connect(str(tmp_path / "registry.duckdb")) as con:
        con.register("export", export.to_arrow())
        con.execute("CREATE TABLE patients AS SELECT *, 'free text' AS unused FROM export")
    source = '{ duckdb = "registry.duckdb", table = "patients" }'
    dataset = read_config(write_config(tmp_path, "duck", source, GBSG2_READING))["duck"]
    cohort = load_configured(dataset)
    assert "unused" not in cohort.patients.columns  # only the columns the reading uses
    assert_same_cohort(cohort, data_page_cohort(export, dataset.options))


@pytest.fixture(scope="module")
def registry_tables(postgres):
    """The Veterans' export as a PostgreSQL table (dates as DATE), with a toxicities table."""
    export, _ = veterans_dates()
    toxicities = export.select(
        pl.col("Patient ID").alias("patient"),
        pl.when(pl.col("Karnofsky") < 50).then(pl.lit("fatigue")).otherwise(pl.lit("nausea"))
        .alias("ctcae_term"),
        (pl.col("Karnofsky") // 30 + 1).clip(1, 5).alias("worst_grade"),
    ).head(60)
    with postgres.connect() as con:
        con.execute("DROP TABLE IF EXISTS vet_patients, vet_toxicities")
        con.execute('CREATE TABLE vet_patients ("Patient ID" text PRIMARY KEY, "Age" double '
                    'precision, "Cell type" text, "Arm" text, "Karnofsky" bigint, '
                    '"Prior therapy" text, "Treatment start" date, '
                    '"Date of death or last contact" date, "Vital status" text, '
                    'updated_at timestamp DEFAULT now(), notes text DEFAULT \'not read\')')
        con.execute("CREATE TABLE vet_toxicities (patient text, ctcae_term text, "
                    "worst_grade bigint)")
        with con.cursor() as cursor:
            cursor.executemany(f"INSERT INTO vet_patients ({', '.join(map(quote, export.columns))})"
                               f" VALUES ({', '.join(['%s'] * export.width)})", export.rows())
            cursor.executemany("INSERT INTO vet_toxicities VALUES (%s, %s, %s)", toxicities.rows())
    return export, toxicities


def quote(name: str) -> str:
    return '"' + name + '"'


POSTGRES_DATASET = """
toxicities = {{ postgres = "registry", query = "SELECT * FROM vet_toxicities WHERE worst_grade > 0" }}
[datasets.{key}.toxicity_mapping]
patient = "patient_id"
ctcae_term = "term"
worst_grade = "grade"
"""


def test_postgres_table_reads_as_its_csv_on_the_data_page(tmp_path, postgres, registry_tables):
    export, toxicities = registry_tables
    source = '{ postgres = "registry", table = "vet_patients", change_column = "updated_at" }'
    path = write_config(tmp_path, "pg", source,
                        POSTGRES_DATASET + VETERANS_READING)
    dataset = read_config(path)["pg"]
    connections = {"registry": postgres.secrets()}
    cohort = load_configured(dataset, connections.__getitem__)
    reference = validate_cohort(read_table(export.write_csv().encode(), "p.csv"), "p.csv",
                                dataset.options, read_table(toxicities.write_csv().encode(),
                                                            "t.csv"),
                                toxicity_mapping=dataset.toxicity_mapping)
    assert_same_cohort(cohort, reference)
    assert cohort.toxicities.height == 60
    assert "notes" not in cohort.patients.columns
    assert postgres.password not in path.read_text()
    assert postgres.password not in cohort.provenance
    before = fingerprint(dataset.patients, connections.__getitem__)
    with postgres.connect() as con:
        con.execute("UPDATE vet_patients SET updated_at = now() + interval '1 day' "
                    "WHERE \"Patient ID\" = 'V0001'")
    assert fingerprint(dataset.patients, connections.__getitem__) != before


def test_postgres_errors_name_the_connection_not_its_credentials(tmp_path, postgres):
    path = write_config(tmp_path, "pg", '{ postgres = "registry", table = "vet_patients" }',
                        VETERANS_READING)
    dataset = read_config(path)["pg"]
    wrong = {**postgres.secrets(), "password": "not-the-password"}
    with pytest.raises(SourceError) as raised:
        load_configured(dataset, {"registry": wrong}.__getitem__)
    assert "PostgreSQL connection 'registry'" in str(raised.value)
    assert "not-the-password" not in str(raised.value)
    assert "postgres" not in str(raised.value).replace("PostgreSQL", "")


def test_a_column_the_reading_names_but_the_source_lacks_is_a_problem(tmp_path):
    export, _ = veterans_dates()
    export.drop("Arm").write_csv(tmp_path / "veterans.csv")
    dataset = read_config(write_config(tmp_path, "vet", '"veterans.csv"', VETERANS_READING))["vet"]
    with pytest.raises(CohortValidationError) as raised:
        load_configured(dataset)
    assert [(p.column, p.rows) for p in raised.value.problems] == [("Arm", ())]


# --------------------------------------------------------------------------- configuration


def test_configuration_problems_name_file_dataset_and_field(tmp_path):
    (tmp_path / "x.csv").write_text("id\n1\n")
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent("""
        [datasets.ok]
        title = "Fine"
        provenance = "p"
        patients = "x.csv"
        min_cell = 11
        reading = { mapping = { id = "patient_id" } }
        [datasets.ok.access]
        emails = ["a@radonc.example.org"]
        domains = ["radonc.example.org"]
        groups = ["tumorboard"]

        [datasets.broken]
        provenance = "p"
        patients = { postgres = "registry" }
        min_cell = -1
        colour = "red"
        reading = { mapping = { id = "patient_id", t = "os_months", e = "os_event" } }

        [datasets.veterans]
        title = "Taken"
        provenance = "p"
        patients = "missing.csv"
        reading = { mapping = { id = "patient_id" }, event_codings = { e = "alive/dead" } }
    """))
    config = load_config(path, reserved={info.key for info in list_datasets()})
    assert list(config.datasets) == ["ok"]
    ok = config.datasets["ok"]
    assert ok.min_cell == 11 and ok.patients.path == tmp_path / "x.csv"
    assert ok.access.emails == {"a@radonc.example.org"} and ok.access.groups == {"tumorboard"}
    problems = "\n".join(config.problems)
    for expected in ["[datasets.broken] title: required",
                     "[datasets.broken] colour: unknown field",
                     "[datasets.broken] min_cell: must be a whole number >= 0",
                     "[datasets.broken] patients: a database source needs exactly one of table",
                     "[datasets.broken] reading.time_unit: required: a duration column is mapped",
                     "[datasets.broken] reading.event_codings: state the coding of os_event",
                     "[datasets.veterans] key: already the key of a bundled dataset",
                     f"[datasets.veterans] patients: no such file: {tmp_path / 'missing.csv'}",
                     "[datasets.veterans] reading.event_codings.e: one of 0/1, 1/2, dead/alive"]:
        assert expected in problems
    assert all(line.startswith(f"{path}: ") for line in config.problems)
    with pytest.raises(ConfigError):
        read_config(path)


def test_config_path_comes_from_the_environment():
    assert config_path({}) is None
    assert config_path({"OLIGOMET_CONFIG": "/srv/oligomet.toml"}) == Path("/srv/oligomet.toml")


# --------------------------------------------------------------------------- the app


@pytest.fixture
def configured(monkeypatch, tmp_path):
    """Point OLIGOMET_CONFIG at a configuration written by the test."""
    def point(path: Path) -> Path:
        monkeypatch.setenv("OLIGOMET_CONFIG", str(path))
        return path
    return point


def sidebar_titles(at: AppTest) -> list[str]:
    return list(at.selectbox(key="dataset").options)


def test_a_link_opens_the_configured_dataset_with_its_patient_count(configured, tmp_path):
    export, _ = veterans_dates()
    export.write_csv(tmp_path / "veterans.csv")
    configured(write_config(tmp_path, "va-registry", '"veterans.csv"', VETERANS_READING))
    at = open_app("pages/survival.py", ds="va-registry")
    assert at.selectbox(key="dataset").value == "va-registry"
    assert metric(at, "Patients in cohort") == "137"
    assert "Registry va-registry" in sidebar_titles(at)
    colleague = open_app(ds="va-registry")
    assert metric(colleague, "Patients in cohort") == "137"


def test_a_link_opens_a_postgres_dataset_with_credentials_from_the_secrets(
        configured, tmp_path, postgres, registry_tables):
    configured(write_config(tmp_path, "pg-registry",
                            '{ postgres = "registry", table = "vet_patients" }',
                            POSTGRES_DATASET + VETERANS_READING))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.secrets["connections"] = {"registry": postgres.secrets()}
    at.query_params["ds"] = "pg-registry"
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="dataset").value == "pg-registry"
    assert metric(at, "Patients in cohort") == "137"


def test_a_failing_source_is_not_offered_and_logged_without_patient_values(
        configured, tmp_path, caplog):
    export, _ = veterans_dates()
    export.write_csv(tmp_path / "veterans.csv")
    broken = export.with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("SECRET-AGE-77x"))
        .otherwise(pl.col("Age").cast(pl.String)).alias("Age"))
    (tmp_path / "bad").mkdir()
    broken.write_csv(tmp_path / "bad" / "veterans.csv")
    good = write_config(tmp_path, "good", '"veterans.csv"', VETERANS_READING).read_text()
    bad = write_config(tmp_path / "bad", "bad", '"bad/veterans.csv"', VETERANS_READING).read_text()
    (tmp_path / "oligomet.toml").write_text(good + bad)
    configured(tmp_path / "oligomet.toml")
    with caplog.at_level(logging.INFO, logger="oligomet.datasets"):
        at = open_app(ds="bad")
    titles = sidebar_titles(at)
    assert "Registry good" in titles and "Registry bad" not in titles
    assert at.selectbox(key="dataset").value != "bad"
    assert any("The dataset 'bad' this link opens is not available on this server"
               in as_read(w.value) for w in [*at.warning, *at.info])
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "oligomet.datasets")
    assert "dataset bad is not offered: 1 problem(s)" in logged
    assert "veterans.csv, column 'Age' -> 'age_years': error: not a number (1 row(s))" in logged
    assert "SECRET-AGE-77x" not in logged and "V0005" not in logged
    assert "dataset good: loaded 137 patients" in logged


def test_a_source_changed_on_disk_is_reloaded(configured, tmp_path, monkeypatch):
    monkeypatch.setattr("ui.session.FILE_CHECK_SECONDS", 0.0)
    export, _ = veterans_dates()
    csv = tmp_path / "veterans.csv"
    export.write_csv(csv)
    configured(write_config(tmp_path, "changing", '"veterans.csv"', VETERANS_READING))
    assert metric(open_app(ds="changing"), "Patients in cohort") == "137"
    export.head(100).write_csv(csv)
    status = csv.stat()
    os.utime(csv, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))
    assert metric(open_app(ds="changing"), "Patients in cohort") == "100"


def test_without_a_configuration_only_the_bundled_datasets_are_offered(monkeypatch):
    monkeypatch.delenv("OLIGOMET_CONFIG", raising=False)
    at = open_app()
    assert sidebar_titles(at) == [info.title for info in list_datasets()]


def test_the_documented_example_loads_as_the_data_page_suggests_for_its_file():
    example = ROOT / "docs" / "hosting" / "oligomet.toml"
    config = load_config(example)
    assert config.problems == () and list(config.datasets) == ["clinic-demo", "sbrt-registry"]
    assert example.read_text().strip() in (ROOT / "README.md").read_text()
    data = (ROOT / "docs" / "hosting" / "clinic_registry.csv").read_bytes()
    suggested = suggest_options(data, "clinic_registry.csv")
    assert_same_cohort(load_configured(config.datasets["clinic-demo"]),
                       read_cohort(data, "clinic_registry.csv", suggested))
    registry = config.datasets["sbrt-registry"]
    assert (registry.min_cell, registry.access.groups) == (11, {"tumorboard"})
    with pytest.raises(SourceError, match=r"no \[connections.registry\]"):
        load_configured(registry)
