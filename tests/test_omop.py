"""An OMOP CDM v5.4 instance with the oncology extension (12 persons, built here in DuckDB and
in PostgreSQL) read by cohort/omop.py: the canonical table equals the hand-written one in both
engines, and a configured ``omop`` dataset loads through the same validation as every source
with the expected survival counts."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import duckdb
import ibis
import polars as pl
import pytest

from cohort.config import load_config, read_config
from cohort.endpoints import endpoint_counts
from cohort.engine import EngineError
from cohort.engine_source import engine_table
from cohort.io import CohortWarnings
from cohort.omop import OmopSettings, omop_patients
from cohort.schema import ENDPOINTS
from cohort.sources import SourceError, fingerprint, load_configured
from cohort.survival import kaplan_meier

D = dt.date

# --------------------------------------------------------------------------- the instance

DDL = """
CREATE TABLE person (person_id BIGINT, gender_concept_id INTEGER, year_of_birth INTEGER,
  month_of_birth INTEGER, day_of_birth INTEGER, birth_datetime TIMESTAMP,
  race_concept_id INTEGER, ethnicity_concept_id INTEGER);
CREATE TABLE death (person_id BIGINT, death_date DATE, death_type_concept_id INTEGER);
CREATE TABLE observation_period (observation_period_id BIGINT, person_id BIGINT,
  observation_period_start_date DATE, observation_period_end_date DATE,
  period_type_concept_id INTEGER);
CREATE TABLE condition_occurrence (condition_occurrence_id BIGINT, person_id BIGINT,
  condition_concept_id INTEGER, condition_start_date DATE, condition_type_concept_id INTEGER);
CREATE TABLE episode (episode_id BIGINT, person_id BIGINT, episode_concept_id INTEGER,
  episode_start_date DATE, episode_end_date DATE, episode_parent_id BIGINT,
  episode_object_concept_id INTEGER, episode_type_concept_id INTEGER);
CREATE TABLE episode_event (episode_id BIGINT, event_id BIGINT,
  episode_event_field_concept_id INTEGER);
CREATE TABLE procedure_occurrence (procedure_occurrence_id BIGINT, person_id BIGINT,
  procedure_concept_id INTEGER, procedure_date DATE, procedure_type_concept_id INTEGER);
CREATE TABLE measurement (measurement_id BIGINT, person_id BIGINT,
  measurement_concept_id INTEGER, measurement_date DATE, measurement_type_concept_id INTEGER,
  value_as_number NUMERIC, value_as_concept_id INTEGER, unit_concept_id INTEGER,
  measurement_event_id BIGINT, meas_event_field_concept_id INTEGER);
CREATE TABLE drug_exposure (drug_exposure_id BIGINT, person_id BIGINT, drug_concept_id INTEGER,
  drug_exposure_start_date DATE, drug_exposure_end_date DATE, drug_type_concept_id INTEGER);
CREATE TABLE concept (concept_id INTEGER, concept_name VARCHAR(255), domain_id VARCHAR(20),
  vocabulary_id VARCHAR(20), concept_class_id VARCHAR(20), concept_code VARCHAR(50));
"""

# Local concepts (ids above 2,000,000,000, as OMOP reserves them for local use).
COLON, RCC = 2_000_000_001, 2_000_000_002
EPISODE_FIELD = 2_000_000_100
GY, CGY, MGY = 2_000_000_200, 2_000_000_201, 2_000_000_202
EBRT, SBRT = 2_000_000_300, 2_000_000_301
FOLFOX, SUNITINIB = 2_000_000_400, 2_000_000_404
PEMBRO, OXALI, FLUORO = 2_000_000_401, 2_000_000_402, 2_000_000_403
TOTAL_DOSE, FRACTIONS, VOLUME = 2_000_000_500, 2_000_000_501, 2_000_000_502
LUNG, LIVER, BONE, NODE = 2_000_000_600, 2_000_000_601, 2_000_000_602, 2_000_000_603
DISEASE, REGIMEN, CONDITION_FIELD, PROCEDURE_FIELD = 32528, 32531, 1147127, 1147082

CONCEPT_ROWS = [
    (8507, "MALE", "Gender", "Gender", "Gender", "M"),
    (8532, "FEMALE", "Gender", "Gender", "Gender", "F"),
    (DISEASE, "Disease First Occurrence", "Episode", "Episode", "Disease Episode", "OMOP4995899"),
    (REGIMEN, "Treatment Regimen", "Episode", "Episode", "Treatment Episode", "OMOP4995900"),
    (CONDITION_FIELD, "condition_occurrence.condition_occurrence_id", "Metadata", "CDM",
     "Field", "CDM1"),
    (PROCEDURE_FIELD, "procedure_occurrence.procedure_occurrence_id", "Metadata", "CDM",
     "Field", "CDM2"),
    (EPISODE_FIELD, "episode.episode_id", "Metadata", "CDM", "Field", "CDM3"),
    (COLON, "Adenocarcinoma of colon", "Condition", "ICDO3", "ICDO Condition", "8140/3-C18.9"),
    (RCC, "Clear cell renal cell carcinoma", "Condition", "ICDO3", "ICDO Condition",
     "8310/3-C64.9"),
    (GY, "gray", "Unit", "UCUM", "Unit", "Gy"),
    (CGY, "centigray", "Unit", "UCUM", "Unit", "cGy"),
    (MGY, "milligray", "Unit", "UCUM", "Unit", "mGy"),
    (EBRT, "External beam radiation therapy", "Procedure", "SNOMED", "Procedure", "1"),
    (SBRT, "Stereotactic body radiotherapy", "Procedure", "SNOMED", "Procedure", "2"),
    (FOLFOX, "FOLFOX", "Regimen", "HemOnc", "Regimen", "3"),
    (SUNITINIB, "Sunitinib monotherapy", "Regimen", "HemOnc", "Regimen", "4"),
    (PEMBRO, "pembrolizumab", "Drug", "RxNorm", "Ingredient", "5"),
    (OXALI, "oxaliplatin", "Drug", "RxNorm", "Ingredient", "6"),
    (FLUORO, "fluorouracil", "Drug", "RxNorm", "Ingredient", "7"),
    (TOTAL_DOSE, "Total dose", "Measurement", "Cancer Modifier", "Treatment", "8"),
    (FRACTIONS, "Number of fractions", "Measurement", "Cancer Modifier", "Treatment", "9"),
    (VOLUME, "Radiation primary treatment volume", "Measurement", "Cancer Modifier",
     "Treatment", "10"),
    (LUNG, "Lung", "Meas Value", "Cancer Modifier", "Value", "11"),
    (LIVER, "Liver", "Meas Value", "Cancer Modifier", "Value", "12"),
    (BONE, "Bone", "Meas Value", "Cancer Modifier", "Value", "13"),
    (NODE, "Lymph node", "Meas Value", "Cancer Modifier", "Value", "14"),
]

# person_id, gender, year, month, day, birth_datetime
PERSONS = [
    (1, 8507, 1950, 3, 10, None), (2, 8532, 1960, None, None, None),
    (3, 8507, 1945, 12, 31, dt.datetime(1945, 12, 31, 10, 0)), (4, 8532, 1970, 7, 4, None),
    (5, 8507, 1955, 1, 20, None), (6, 0, 1980, 2, 29, None), (7, 8532, 1948, 11, None, None),
    (8, 8507, 1962, 8, 8, None), (9, 8532, 1975, 5, 5, None), (10, 8507, 1958, 10, 10, None),
    (11, 8532, 1966, 1, 1, None), (12, 8507, 1952, 6, 30, None),
]
DEATHS = [(1, D(2021, 1, 15)), (3, D(2019, 8, 1)), (5, D(2022, 3, 1)), (7, D(2018, 9, 10)),
          (9, D(2021, 11, 5)), (12, D(2017, 12, 24))]
# person_id, end of observation (each from 2010-01-01); person 8 has two periods, 12 none
OBSERVATION_ENDS = [(1, D(2021, 1, 15)), (2, D(2022, 6, 1)), (3, D(2019, 7, 20)),
                    (4, D(2023, 1, 1)), (5, D(2022, 2, 15)), (6, D(2023, 2, 28)),
                    (7, D(2018, 9, 10)), (8, D(2016, 12, 31)), (8, D(2020, 4, 1)),
                    (9, D(2021, 11, 5)), (10, D(2021, 7, 1)), (11, D(2021, 1, 10))]
# person_id, primary cancer, diagnosis date; the condition is linked to the disease episode,
# except person 6's (only the disease episode's object names the histology)
DIAGNOSES = [(1, COLON, D(2019, 5, 1)), (2, RCC, D(2019, 1, 10)), (3, COLON, D(2017, 11, 1)),
             (4, RCC, D(2020, 2, 2)), (5, COLON, D(2020, 6, 1)), (6, RCC, D(2020, 12, 1)),
             (7, COLON, D(2016, 3, 1)), (8, RCC, D(2018, 1, 1)), (9, COLON, D(2021, 1, 1)),
             (10, RCC, D(2019, 9, 9)), (11, COLON, D(2020, 10, 10)), (12, RCC, D(2017, 2, 1))]
# episode_id, person_id, object concept, start, end (Treatment Regimen episodes)
COURSES = [
    (301, 1, SBRT, D(2020, 1, 15), D(2020, 1, 22)), (302, 2, EBRT, D(2019, 6, 1), D(2019, 6, 14)),
    (303, 3, EBRT, D(2018, 2, 1), D(2018, 3, 15)), (304, 3, SBRT, D(2019, 3, 1), D(2019, 3, 5)),
    (305, 3, FOLFOX, D(2018, 1, 15), D(2018, 6, 30)),
    (306, 5, SBRT, D(2021, 3, 1), D(2021, 3, 10)), (307, 6, EBRT, D(2021, 2, 28), D(2021, 3, 20)),
    (308, 7, SBRT, D(2016, 9, 10), D(2016, 9, 20)), (309, 8, EBRT, D(2018, 4, 1), D(2018, 4, 5)),
    (310, 9, SBRT, D(2021, 5, 5), D(2021, 5, 12)), (311, 10, EBRT, D(2020, 1, 1), None),
    (312, 10, SUNITINIB, D(2019, 12, 1), None), (313, 11, SBRT, D(2021, 1, 10), D(2021, 1, 14)),
    (314, 12, EBRT, D(2017, 7, 1), D(2017, 7, 14)),
]
# procedure_occurrence_id, person_id, course linked by episode_event
PROCEDURES = [(402, 2, 302), (403, 3, 303), (409, 8, 309)]
# person_id, concept, value, value concept, unit, event id, field (modifier linkage)
E, P = EPISODE_FIELD, PROCEDURE_FIELD
MODIFIERS = [
    (1, TOTAL_DOSE, 50, None, GY, 301, E), (1, FRACTIONS, 5, None, None, 301, E),
    (1, VOLUME, None, LUNG, None, 301, E),
    (2, TOTAL_DOSE, 3000, None, CGY, 402, P), (2, FRACTIONS, 10, None, None, 402, P),
    (2, VOLUME, None, BONE, None, 402, P),
    (3, TOTAL_DOSE, 6000, None, CGY, 303, E), (3, FRACTIONS, 30, None, None, 303, E),
    (3, VOLUME, None, LIVER, None, 303, E), (3, VOLUME, None, LUNG, None, 303, E),
    (3, TOTAL_DOSE, 60, None, GY, 403, P), (3, FRACTIONS, 30, None, None, 403, P),
    (3, TOTAL_DOSE, 24, None, GY, 304, E), (3, FRACTIONS, 3, None, None, 304, E),
    (3, VOLUME, None, BONE, None, 304, E),
    (5, FRACTIONS, 8, None, None, 306, E), (5, VOLUME, None, LIVER, None, 306, E),
    (6, TOTAL_DOSE, 45, None, GY, 307, E), (6, FRACTIONS, 15, None, None, 307, E),
    (6, VOLUME, None, NODE, None, 307, E),
    (7, TOTAL_DOSE, 54, None, GY, 308, E), (7, FRACTIONS, 3, None, None, 308, E),
    (7, VOLUME, None, LUNG, None, 308, E),
    (8, TOTAL_DOSE, 2000, None, CGY, 409, P), (8, FRACTIONS, 5, None, None, 409, P),
    (8, VOLUME, None, BONE, None, 409, P),
    (9, TOTAL_DOSE, 35, None, GY, 310, E), (9, FRACTIONS, 5, None, None, 310, E),
    (9, VOLUME, None, LIVER, None, 310, E),
    (10, TOTAL_DOSE, 30, None, GY, 311, E), (10, FRACTIONS, 10, None, None, 311, E),
    (10, VOLUME, None, BONE, None, 311, E),
    (11, TOTAL_DOSE, 40, None, GY, 313, E), (11, FRACTIONS, 5, None, None, 313, E),
    (11, VOLUME, None, LUNG, None, 313, E), (11, VOLUME, None, LUNG, None, 313, E),
    (12, TOTAL_DOSE, 3900, None, CGY, 314, E), (12, FRACTIONS, 13, None, None, 314, E),
    (12, VOLUME, None, NODE, None, 314, E),
]
# person_id, drug, start
DRUGS = [(4, PEMBRO, D(2020, 3, 1)), (5, PEMBRO, D(2021, 3, 5)), (7, OXALI, D(2016, 9, 12)),
         (7, FLUORO, D(2016, 9, 12)), (9, PEMBRO, D(2021, 6, 1))]


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _inserts(table: str, rows: list[tuple]) -> str:
    values = ",\n".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {table} VALUES\n{values};"


def instance_sql() -> list[str]:
    """The DDL and INSERT statements of the instance (portable: DuckDB and PostgreSQL)."""
    episodes, links, conditions = [], [], []
    for person, cancer, diagnosed in DIAGNOSES:
        episodes.append((200 + person, person, DISEASE, diagnosed, None, None, cancer, 32879))
        if person != 6:
            conditions.append((100 + person, person, cancer, diagnosed, 32879))
            links.append((200 + person, 100 + person, CONDITION_FIELD))
    episodes += [(e, p, REGIMEN, start, end, 200 + p, obj, 32879)
                 for e, p, obj, start, end in COURSES]
    links += [(course, proc, PROCEDURE_FIELD) for proc, _, course in PROCEDURES]
    starts = {e: start for e, _, _, start, _ in COURSES}
    objects = {e: obj for e, _, obj, _, _ in COURSES}
    procedures = [(proc, person, objects[course], starts[course], 32879)
                  for proc, person, course in PROCEDURES]
    measurements = [(n, p, concept, D(2022, 1, 1), 32879, value, value_concept, unit, event, fld)
                    for n, (p, concept, value, value_concept, unit, event, fld)
                    in enumerate(MODIFIERS, start=1)]
    return [
        *[s for s in DDL.split(";") if s.strip()],
        _inserts("concept", CONCEPT_ROWS),
        _inserts("person", [(*row, 0, 0) for row in PERSONS]),
        _inserts("death", [(p, day, 32817) for p, day in DEATHS]),
        _inserts("observation_period", [(n, p, D(2010, 1, 1), end, 32817) for n, (p, end)
                                        in enumerate(OBSERVATION_ENDS, start=1)]),
        _inserts("condition_occurrence", conditions),
        _inserts("episode", episodes),
        _inserts("episode_event", links),
        _inserts("procedure_occurrence", procedures),
        _inserts("measurement", measurements),
        _inserts("drug_exposure", [(n, p, drug, start, start, 32817) for n, (p, drug, start)
                                   in enumerate(DRUGS, start=1)]),
    ]


def build_duckdb(path: Path, schema: str = "main") -> Path:
    with duckdb.connect(str(path)) as con:
        if schema != "main":
            con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"SET schema = '{schema}'")
        for statement in instance_sql():
            con.execute(statement)
    return path


@pytest.fixture(scope="module")
def omop_duckdb(tmp_path_factory) -> Path:
    return build_duckdb(tmp_path_factory.mktemp("omop") / "cdm.duckdb", schema="cdm")


@pytest.fixture(scope="module")
def omop_postgres(postgres):
    with postgres.connect() as con:
        con.execute("DROP SCHEMA IF EXISTS cdm CASCADE")
        con.execute("CREATE SCHEMA cdm")
        con.execute("SET search_path TO cdm")
        for statement in instance_sql():
            con.execute(statement)
    return postgres


# --------------------------------------------------------------------------- expected

# patient_id, sex, age, histology, sites, dose (Gy), fractions, regimen, os_days, os_event
EXPECTED = [
    ("1", "male", 69.0, "Adenocarcinoma of colon", ["lung"], 50.0, 5, "none", 366, 1),
    ("2", "female", 58.0, "Clear cell renal cell carcinoma", ["bone"], 30.0, 10, "none",
     1096, 0),
    ("3", "male", 72.0, "Adenocarcinoma of colon", ["liver", "lung"], 60.0, 30, "FOLFOX",
     546, 1),
    ("4", "female", None, "Clear cell renal cell carcinoma", None, None, None, None, None,
     None),
    ("5", "male", 66.0, "Adenocarcinoma of colon", ["liver"], None, 8, "pembrolizumab", 365, 1),
    ("6", "unknown", 40.0, "Clear cell renal cell carcinoma", ["lymph node"], 45.0, 15, "none",
     730, 0),
    ("7", "female", 67.0, "Adenocarcinoma of colon", ["lung"], 54.0, 3,
     "fluorouracil + oxaliplatin", 730, 1),
    ("8", "male", 55.0, "Clear cell renal cell carcinoma", ["bone"], 20.0, 5, "none", 731, 0),
    ("9", "female", 46.0, "Adenocarcinoma of colon", ["liver"], 35.0, 5, "none", 184, 1),
    ("10", "male", 61.0, "Clear cell renal cell carcinoma", ["bone"], 30.0, 10, "none", 547, 0),
    ("11", "female", 55.0, "Adenocarcinoma of colon", ["lung"], 40.0, 5, "none", 0, 0),
    ("12", "male", 65.0, "Clear cell renal cell carcinoma", ["lymph node"], 39.0, 13, "none",
     176, 1),
]
EXPECTED_COLUMNS = {
    "patient_id": pl.String, "sex": pl.String, "age_years": pl.Float64,
    "histology": pl.String, "treated_sites": pl.List(pl.String),
    "rt_total_dose_gy": pl.Float64, "rt_fractions": pl.Int64, "regimen": pl.String,
    "os_days": pl.Int64, "os_event": pl.Int64,
}


def expected_patients() -> pl.DataFrame:
    frame = pl.DataFrame(EXPECTED, schema=EXPECTED_COLUMNS, orient="row")
    return frame.with_columns(os_months=pl.col("os_days").cast(pl.Float64) / 30.4375)


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(*EXPECTED_COLUMNS, "os_months")


# --------------------------------------------------------------------------- mapping


def test_first_course_dates_and_doses_on_duckdb(omop_duckdb):
    con = ibis.duckdb.connect(str(omop_duckdb), read_only=True)
    table = omop_patients(con, OmopSettings(schema="cdm")).to_polars()
    assert table["patient_id"].to_list() == [str(n) for n in range(1, 13)]
    row = table.row(2, named=True)  # two courses: the first is the index
    assert row["index_date"] == D(2018, 2, 1)
    assert (row["rt_total_dose_gy"], row["rt_fractions"]) == (60.0, 30)
    assert row["treated_sites"] == "liver;lung"
    assert table.row(11, named=True)["follow_up_end"] is None  # no observation period
    assert table["rt_dose_unit"].null_count() == 12


def dataset_config(folder: Path, omop: str, extra: str = "accept_warnings = true") -> Path:
    path = folder / "oligomet.toml"
    path.write_text(textwrap.dedent(f"""
        [datasets.cdm]
        title = "OMOP registry"
        provenance = "Department OMOP CDM v5.4 with the oncology extension."
        omop = {omop}
        {extra}
    """))
    return path


def load(path: Path, connections=None):
    dataset = read_config(path)["cdm"]
    return load_configured(dataset, connections or (lambda name: {}))


def test_duckdb_dataset_gives_the_expected_table(tmp_path, omop_duckdb):
    cohort = load(dataset_config(tmp_path, f'{{ duckdb = "{omop_duckdb}", schema = "cdm" }}'))
    assert canonical(cohort.patients).equals(expected_patients())
    assert "index_date" not in cohort.patients.columns  # the dates themselves are not kept
    assert "bed10_gy" in cohort.patients.columns


def test_postgres_dataset_gives_the_same_table(tmp_path, omop_postgres):
    path = dataset_config(tmp_path, '{ postgres = "cdm", schema = "cdm" }')
    cohort = load(path, lambda name: omop_postgres.secrets())
    assert canonical(cohort.patients).equals(expected_patients())
    assert omop_postgres.password not in cohort.provenance


def test_postgres_source_changes_when_its_tables_do(tmp_path, omop_postgres):
    dataset = read_config(dataset_config(tmp_path, '{ postgres = "cdm", schema = "cdm" }'))["cdm"]
    secrets = lambda name: omop_postgres.secrets()  # noqa: E731
    before = fingerprint(dataset.patients, secrets)
    with omop_postgres.connect() as con:
        con.execute("INSERT INTO cdm.death VALUES (4, DATE '2023-01-01', 32817)")
        try:
            assert fingerprint(dataset.patients, secrets) != before
        finally:  # the instance is shared by this module's tests
            con.execute("DELETE FROM cdm.death WHERE person_id = 4")
    assert fingerprint(dataset.patients, secrets) == before
    with pytest.raises(EngineError, match="endpoints from dates"):
        engine_table(dataset, secrets)  # read in memory: the engine does not derive dates


def test_unreachable_omop_names_the_source_not_the_error(tmp_path):
    path = build_duckdb(tmp_path / "nolinks.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE measurement DROP COLUMN meas_event_field_concept_id")
    with pytest.raises(SourceError, match="neither measurement_event_id"):
        load(dataset_config(tmp_path, f'{{ duckdb = "{path}" }}'))
    path.with_name("cdm.duckdb").touch()
    with pytest.raises(SourceError, match=r"OMOP tables cannot be read \(\w+\)$"):
        load(dataset_config(tmp_path, '{ duckdb = "cdm.duckdb" }'))


def test_postgres_expression_equals_duckdb(omop_duckdb, omop_postgres):
    settings = OmopSettings(schema="cdm")
    on_duckdb = omop_patients(ibis.duckdb.connect(str(omop_duckdb), read_only=True), settings)
    secrets = omop_postgres.secrets()
    pg = ibis.postgres.connect(host=secrets["host"], port=secrets["port"],
                               database=secrets["database"], user=secrets["username"],
                               password=secrets["password"])
    assert on_duckdb.to_polars().equals(omop_patients(pg, settings).to_polars())


def test_survival_counts(tmp_path, omop_duckdb):
    cohort = load(dataset_config(tmp_path, f'{{ duckdb = "{omop_duckdb}", schema = "cdm" }}'))
    counts = endpoint_counts(cohort.patients, [ENDPOINTS["OS"]]).row(0, named=True)
    assert (counts["patients"], counts["events"], counts["censored"], counts["missing"]) == (
        11, 6, 5, 1)
    km = kaplan_meier(cohort.patients, "os_months", "os_event", by="histology")
    by_group = km.group_by("group").agg(pl.col("n_risk").max(), pl.col("n_event").sum()
                                        ).sort("group")
    assert by_group.rows() == [("Adenocarcinoma of colon", 6, 5),
                               ("Clear cell renal cell carcinoma", 5, 1)]


def test_person_without_radiotherapy_is_a_warning_to_accept(tmp_path, omop_duckdb):
    path = dataset_config(tmp_path, f'{{ duckdb = "{omop_duckdb}", schema = "cdm" }}',
                          extra="")
    with pytest.raises(CohortWarnings) as warned:
        load(path)
    # spreadsheet row numbers, as for a file (header = row 1): person 4 is row 5
    assert [(p.column, p.rows) for p in warned.value.problems] == [("index_date", (5,))]


def test_dose_in_another_unit_is_a_warning_and_left_missing(tmp_path):
    path = build_duckdb(tmp_path / "units.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute(f"UPDATE measurement SET unit_concept_id = {MGY}, value_as_number = 50000 "
                    f"WHERE person_id = 1 AND measurement_concept_id = {TOTAL_DOSE}")
        con.execute(f"UPDATE measurement SET unit_concept_id = NULL "
                    f"WHERE person_id = 9 AND measurement_concept_id = {TOTAL_DOSE}")
    config = dataset_config(tmp_path, f'{{ duckdb = "{path}" }}', extra="")
    with pytest.raises(CohortWarnings) as warned:
        load(config)
    # spreadsheet rows: person 9 is row 10, person 1 row 2
    units = [(p.column, p.rows, p.message) for p in warned.value.problems
             if p.column == "rt_total_dose_gy"]
    assert units == [
        ("rt_total_dose_gy", (10,), "total dose recorded in '(none)', not Gy or cGy: left "
                                   "missing"),
        ("rt_total_dose_gy", (2,), "total dose recorded in 'mGy', not Gy or cGy: left missing"),
    ]
    cohort = load(dataset_config(tmp_path, f'{{ duckdb = "{path}" }}'))
    doses = dict(cohort.patients.select("patient_id", "rt_total_dose_gy").iter_rows())
    assert doses["1"] is None and doses["9"] is None and doses["2"] == 30.0


def test_oncology_extension_column_names_link_the_same_modifiers(tmp_path):
    path = build_duckdb(tmp_path / "legacy.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE measurement RENAME COLUMN measurement_event_id "
                    "TO modifier_of_event_id")
        con.execute("ALTER TABLE measurement RENAME COLUMN meas_event_field_concept_id "
                    "TO modifier_of_field_concept_id")
    cohort = load(dataset_config(tmp_path, f'{{ duckdb = "{path}" }}'))
    assert canonical(cohort.patients).equals(expected_patients())


def test_episode_field_and_concepts_by_id(tmp_path):
    path = build_duckdb(tmp_path / "ids.duckdb")
    with duckdb.connect(str(path)) as con:  # names that match no default text
        con.execute(f"UPDATE concept SET concept_name = 'RT course' WHERE concept_id IN "
                    f"({EBRT}, {SBRT})")
        con.execute(f"UPDATE concept SET concept_name = 'x' WHERE concept_id = {EPISODE_FIELD}")
    settings = (f'{{ duckdb = "{path}", radiotherapy_concepts = [{EBRT}, {SBRT}], '
                f'episode_field_concepts = [{EPISODE_FIELD}] }}')
    cohort = load(dataset_config(tmp_path, settings))
    assert canonical(cohort.patients).equals(expected_patients())
    by_name = load(dataset_config(tmp_path, f'{{ duckdb = "{path}" }}'))
    assert by_name.patients["rt_fractions"].null_count() == 12  # no course found by name


def test_index_at_diagnosis(tmp_path, omop_duckdb):
    cohort = load(dataset_config(
        tmp_path, f'{{ duckdb = "{omop_duckdb}", schema = "cdm", index = "diagnosis" }}'))
    first = cohort.patients.row(0, named=True)  # diagnosed 2019-05-01, died 2021-01-15
    assert (first["os_days"], first["os_event"], first["age_years"]) == (625, 1, 69.0)
    assert cohort.patients["os_days"].null_count() == 0


def test_configuration_problems(tmp_path, omop_duckdb):
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(f"""
        [datasets.cdm]
        title = "OMOP"
        provenance = "x"
        patients = "x.csv"
        omop = {{ duckdb = "{omop_duckdb}", index = "surgery", fractions_concepts = ["a"] }}
    """))
    problems = load_config(path).problems
    assert any("patients: not with omop" in p for p in problems)
    assert any("omop.index: one of first_radiotherapy, diagnosis" in p for p in problems)
    assert any("omop.fractions_concepts: must be a list of concept ids" in p for p in problems)
    assert "cdm" not in load_config(path).datasets
