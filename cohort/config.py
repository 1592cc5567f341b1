"""The server's own datasets: a TOML file (path in ``OLIGOMET_CONFIG``) parsed and validated.

Each ``[datasets.<key>]`` table names a title, a provenance, where the patients (and optionally
the toxicities) come from, and how they are read: the same ``ReadOptions`` the Data page builds
(mapping, time unit, event codings, missing-value codes, endpoints from dates), so a registry
export is read as the Data page reads it. ``access`` and ``min_cell`` are parsed and kept for
sign-in and small-cell suppression. Credentials are never in this file: a PostgreSQL source
names a ``[connections.<name>]`` table of Streamlit's secrets. Relative paths resolve against
the TOML file's folder. Every problem names the file, the dataset key and the field.

A dataset may instead name an OMOP CDM v5.4 database (``omop = { duckdb = "cdm.duckdb",
schema = "main" }`` or ``omop = { postgres = "<connection>", schema = "cdm" }``): its patients
table is built by ``cohort.omop`` and read with ``cohort.omop.OMOP_READING`` (docs/omop.md).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cohort.access import DEFAULT_GROUPS_CLAIM, PUBLIC, PUBLIC_ACCESS, Access
from cohort.endpoints import DEATH, DateEndpoints, EndpointRule, standard_rules
from cohort.io import EVENT_CODINGS, MONTHS_PER_UNIT, ReadOptions
from cohort.omop import INDEX_CHOICES, OMOP_READING, ConceptMatch, OmopSettings
from cohort.schema import PATIENT_COLUMNS, TOXICITY_COLUMNS

CONFIG_ENV = "OLIGOMET_CONFIG"
#: A dataset key travels in links (``ds=<key>``): letters, digits, '.', '_' and '-'.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Short names of ``cohort.io.EVENT_CODINGS`` (the text before " ("), as written in the TOML.
CODING_NAMES: dict[str, str] = {name.split(" (")[0]: name for name in EVENT_CODINGS}
#: Standard endpoints from dates: TOML field -> the ``standard_rules`` argument.
STANDARD_EVENT_DATES = ("progression", "local_failure", "next_treatment")
RESERVED_ENDPOINT_KEYS = ("os", "pfs", "lc", "ttnt")
#: Rows a model may fetch from an engine dataset unless its ``row_limit`` says otherwise.
DEFAULT_ROW_LIMIT = 1_000_000
#: An engine dataset's ``engine_memory_mb`` unless it says otherwise: the Toxicity screen's
#: join of 100M patients to their 100M toxicity records needs 4 GB (it fails at 1 GB).
DEFAULT_ENGINE_MEMORY_MB = 4000
#: Seconds between two checks whether a database source changed (a count query).
DEFAULT_CHECK_SECONDS = 60
FILE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".parquet")


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` name file, dataset key and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Source:
    """Where a table comes from: a file (CSV, .xlsx, Parquet), a DuckDB database file, or a
    PostgreSQL connection named in Streamlit's secrets; a database with a ``table`` or a
    ``query``. ``change_column``: a column whose maximum changes when the data do (checked
    with the row count to notice an update)."""

    kind: str  # "file" | "duckdb" | "postgres"
    path: Path | None = None
    connection: str | None = None
    table: str | None = None
    query: str | None = None
    sheet: str | None = None
    change_column: str | None = None
    omop_schema: str | None = None

    @property
    def label(self) -> str:
        """The source in words for messages, logs and provenance (never a credential)."""
        if self.kind == "file":
            return f"{self.path.name}, sheet '{self.sheet}'" if self.sheet else self.path.name
        where = f"table {self.table}" if self.table else "a query"
        if self.omop_schema is not None:
            where = f"OMOP CDM schema '{self.omop_schema}'"
        if self.kind == "duckdb":
            return f"DuckDB database {self.path.name}, {where}"
        return f"PostgreSQL connection '{self.connection}', {where}"

    @property
    def is_database(self) -> bool:
        return self.kind != "file"


@dataclass(frozen=True)
class DatasetConfig:
    """One configured dataset: what users see (title, provenance), where its tables come from,
    how they are read, and the settings kept for access control and small-cell suppression."""

    key: str
    title: str
    provenance: str
    patients: Source
    options: ReadOptions
    toxicities: Source | None = None
    toxicity_mapping: Mapping[str, str] | None = None
    access: Access | None = None  # None: not given (cohort.access.resolved decides)
    min_cell: int | None = None
    accept_warnings: bool = False
    synthetic: bool = False
    check_seconds: int = DEFAULT_CHECK_SECONDS
    omop: OmopSettings | None = None  # the patients are built from an OMOP CDM schema
    #: Kept in its engine (DuckDB over Parquet or a DuckDB file, PostgreSQL): the filters and
    #: aggregations run there, never reading the patients into the app (cohort.engine_cohort).
    engine: bool = False
    #: Most rows a screen that needs rows (Cox, dose plots) fetches from an engine dataset.
    row_limit: int = DEFAULT_ROW_LIMIT
    #: Megabytes each embedded DuckDB connection of an engine dataset may hold before it
    #: spills to disk (one per screen run; DuckDB's own default is 80 % of the machine's).
    engine_memory_mb: int = DEFAULT_ENGINE_MEMORY_MB

    def patient_columns(self) -> list[str]:
        """The source columns the reading uses (mapped, kept, dates, statuses), each once:
        the only ones read from the source."""
        named = list(self.options.mapping)
        if self.options.dates is not None:
            named += self.options.dates.date_columns() + self.options.dates.status_columns()
        return list(dict.fromkeys(named))

    def toxicity_columns(self) -> list[str] | None:
        """The toxicity source columns read (None: all, their mapping suggested)."""
        return list(self.toxicity_mapping) if self.toxicity_mapping else None


@dataclass(frozen=True)
class Config:
    """The datasets a configuration file offers, and the problems of those it cannot."""

    path: Path
    datasets: dict[str, DatasetConfig] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    groups_claim: str = DEFAULT_GROUPS_CLAIM


def config_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The configuration file named by ``OLIGOMET_CONFIG`` (None when unset or empty)."""
    value = environ.get(CONFIG_ENV, "").strip()
    return Path(value) if value else None


def load_config(path: Path, reserved: Collection[str] = ()) -> Config:
    """The datasets of the TOML file at ``path``; a dataset with a problem is left out and its
    problems listed (``reserved``: keys already taken, such as the bundled datasets'). An
    unreadable file gives no dataset and one problem."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return Config(Path(path), problems=(f"{path}: cannot be read ({type(error).__name__})",))
    except tomllib.TOMLDecodeError as error:
        return Config(Path(path), problems=(f"{path}: not valid TOML ({error})",))
    problems = [f"{path}: unknown top-level field '{name}' (known: datasets, sign_in)"
                for name in document if name not in ("datasets", "sign_in")]
    groups_claim = _groups_claim(document.get("sign_in", {}), Path(path), problems)
    tables = document.get("datasets", {})
    if not isinstance(tables, dict) or not tables:
        problems.append(f"{path}: no [datasets.<key>] table")
        return Config(Path(path), problems=tuple(problems))
    datasets = {}
    for key, table in tables.items():
        fields = _Fields(Path(path), key)
        dataset = _dataset(key, table, fields, reserved)
        problems += fields.problems
        if dataset is not None and not fields.problems:
            datasets[key] = dataset
    return Config(Path(path), datasets, tuple(problems), groups_claim)


def _groups_claim(table: object, path: Path, problems: list[str]) -> str:
    """``[sign_in] groups_claim``: the OIDC claim listing a user's groups."""
    if not isinstance(table, dict) or set(table) - {"groups_claim"}:
        problems.append(f"{path}: [sign_in] takes one field, groups_claim")
        return DEFAULT_GROUPS_CLAIM
    claim = table.get("groups_claim", DEFAULT_GROUPS_CLAIM)
    if not isinstance(claim, str) or not claim.strip():
        problems.append(f"{path}: [sign_in] groups_claim: must be a non-empty string")
        return DEFAULT_GROUPS_CLAIM
    return claim.strip()


def read_config(path: Path, reserved: Collection[str] = ()) -> dict[str, DatasetConfig]:
    """Every dataset of the TOML file; raises ``ConfigError`` listing all problems if any."""
    config = load_config(path, reserved)
    if config.problems:
        raise ConfigError(list(config.problems))
    return config.datasets


# --------------------------------------------------------------------------- fields


class _Fields:
    """Reads the fields of one dataset table, recording each problem with file, key, field."""

    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key
        self.problems: list[str] = []

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.path}: [datasets.{self.key}] {name}: {message}")

    def known(self, table: Mapping, prefix: str, names: Collection[str]) -> None:
        for name in table:
            if name not in names:
                self.problem(f"{prefix}{name}", f"unknown field (known: {', '.join(names)})")

    def text(self, table: Mapping, name: str, required: bool = False,
             prefix: str = "") -> str | None:
        value = table.get(name)
        if value is None:
            if required:
                self.problem(prefix + name, "required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(prefix + name, "must be a non-empty string")
            return None
        return value.strip()

    def texts(self, table: Mapping, name: str, prefix: str = "") -> list[str]:
        value = table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            self.problem(prefix + name, "must be a list of non-empty strings")
            return []
        return [v.strip() for v in value]

    def table(self, table: Mapping, name: str, prefix: str = "") -> dict:
        value = table.get(name, {})
        if not isinstance(value, dict):
            self.problem(prefix + name, "must be a table")
            return {}
        return value

    def flag(self, table: Mapping, name: str, default: bool = False) -> bool:
        value = table.get(name, default)
        if not isinstance(value, bool):
            self.problem(name, "must be true or false")
            return default
        return value

    def whole(self, table: Mapping, name: str, minimum: int, prefix: str = "") -> int | None:
        value = table.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(prefix + name, f"must be a whole number >= {minimum}")
            return None
        return value

    def path_of(self, value: str) -> Path:
        """``value`` as a path; relative ones against the configuration file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).resolve()


_DATASET_FIELDS = ("title", "provenance", "patients", "toxicities", "reading",
                   "toxicity_mapping", "access", "min_cell", "accept_warnings", "synthetic",
                   "check_seconds", "omop", "engine", "row_limit", "engine_memory_mb")
#: Fields an ``omop`` dataset does not take: its patients and their reading are the mapping's.
_NOT_WITH_OMOP = ("patients", "reading", "toxicities", "toxicity_mapping")


def _dataset(key: str, table: Any, fields: _Fields, reserved: Collection[str]
             ) -> DatasetConfig | None:
    if not KEY_PATTERN.match(key):
        fields.problem("key", "use letters, digits, '.', '_' or '-' (it appears in links)")
    if key in reserved:
        fields.problem("key", "already the key of a bundled dataset: choose another")
    if not isinstance(table, dict):
        fields.problem("key", "must be a table [datasets.<key>]")
        return None
    fields.known(table, "", _DATASET_FIELDS)
    title = fields.text(table, "title", required=True)
    provenance = fields.text(table, "provenance", required=True)
    omop = None
    if "omop" in table:
        for name in _NOT_WITH_OMOP:
            if name in table:
                fields.problem(name, "not with omop (the OMOP mapping makes the patients)")
        patients, omop = _omop(table["omop"], fields)
        toxicities, options = None, OMOP_READING
    else:
        patients = _source(table, "patients", fields, required=True)
        toxicities = _source(table, "toxicities", fields)
        options = _reading(fields.table(table, "reading"), fields)
    tox_mapping = _mapping(fields.table(table, "toxicity_mapping"), TOXICITY_COLUMNS,
                           "toxicity_mapping.", fields)
    if tox_mapping and toxicities is None:
        fields.problem("toxicity_mapping", "given without a toxicities source")
    access = _access(table.get("access"), fields)
    min_cell = fields.whole(table, "min_cell", 0)
    check_seconds = fields.whole(table, "check_seconds", 1)
    row_limit = fields.whole(table, "row_limit", 1)
    engine_memory_mb = fields.whole(table, "engine_memory_mb", 100)
    engine = fields.flag(table, "engine")
    if engine and patients is not None and patients.kind == "file" \
            and patients.path.suffix.lower() != ".parquet":
        fields.problem("engine", "a file kept in the engine must be Parquet (or use a DuckDB "
                                 "or PostgreSQL source)")
    if engine and omop is not None:
        fields.problem("engine", "not with omop (its patients table is built in memory)")
    if None in (title, provenance, patients, options):
        return None
    return DatasetConfig(
        key=key, title=title, provenance=provenance, patients=patients, options=options,
        toxicities=toxicities, toxicity_mapping=tox_mapping or None, access=access,
        min_cell=min_cell, accept_warnings=fields.flag(table, "accept_warnings"),
        synthetic=fields.flag(table, "synthetic"),
        check_seconds=check_seconds or DEFAULT_CHECK_SECONDS, omop=omop,
        engine=engine, row_limit=row_limit or DEFAULT_ROW_LIMIT,
        engine_memory_mb=engine_memory_mb or DEFAULT_ENGINE_MEMORY_MB,
    )


_OMOP_FIELDS = ("duckdb", "postgres", "schema", "index", "radiotherapy_concepts",
                "total_dose_concepts", "fractions_concepts", "treated_volume_concepts",
                "episode_field_concepts")
#: ``omop.<name>_concepts`` -> the ``OmopSettings`` field it sets by concept id.
_OMOP_CONCEPT_FIELDS = ("radiotherapy", "total_dose", "fractions", "treated_volume")


def _omop(value: object, fields: _Fields) -> tuple[Source | None, OmopSettings | None]:
    """``omop = { duckdb = "path" | postgres = "connection", schema = ..., index = ...,
    <kind>_concepts = [ids] }``: the database and the ``OmopSettings``."""
    if not isinstance(value, dict):
        fields.problem("omop", 'must be a table such as { duckdb = "cdm.duckdb", '
                               'schema = "main" }')
        return None, None
    fields.known(value, "omop.", _OMOP_FIELDS)
    kinds = [k for k in ("duckdb", "postgres") if k in value]
    if len(kinds) != 1:
        fields.problem("omop", "give exactly one of duckdb or postgres")
        return None, None
    located = fields.text(value, kinds[0], required=True, prefix="omop.")
    schema = fields.text(value, "schema", prefix="omop.") or (
        "main" if kinds[0] == "duckdb" else "public")
    index = fields.text(value, "index", prefix="omop.") or INDEX_CHOICES[0]
    if index not in INDEX_CHOICES:
        fields.problem("omop.index", f"one of {', '.join(INDEX_CHOICES)}")
    matches = {}
    for name in _OMOP_CONCEPT_FIELDS:
        ids = _concept_ids(value, f"{name}_concepts", fields)
        if ids:
            matches[name] = ConceptMatch(ids=ids)
    settings = OmopSettings(schema=schema, index=index,
                            episode_field_concepts=_concept_ids(
                                value, "episode_field_concepts", fields), **matches)
    if located is None:
        return None, None
    if kinds[0] == "postgres":
        return Source("postgres", connection=located, omop_schema=schema), settings
    path = fields.path_of(located)
    if not path.is_file():
        fields.problem("omop.duckdb", f"no such file: {path}")
    return Source("duckdb", path=path, omop_schema=schema), settings


def _concept_ids(table: Mapping, name: str, fields: _Fields) -> tuple[int, ...]:
    value = table.get(name, [])
    if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        fields.problem(f"omop.{name}", "must be a list of concept ids (whole numbers)")
        return ()
    return tuple(value)


_SOURCE_FIELDS = ("duckdb", "postgres", "path", "table", "query", "sheet", "change_column")


def _source(table: Mapping, name: str, fields: _Fields, required: bool = False
            ) -> Source | None:
    value = table.get(name)
    if value is None:
        if required:
            fields.problem(name, "required (a file path, or { duckdb = ... } or "
                                 "{ postgres = ... } with table or query)")
        return None
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, dict):
        fields.problem(name, "must be a file path or a table such as "
                             "{ postgres = \"registry\", table = \"patients\" }")
        return None
    prefix = f"{name}."
    fields.known(value, prefix, _SOURCE_FIELDS)
    kinds = [k for k in ("path", "duckdb", "postgres") if k in value]
    if len(kinds) != 1:
        fields.problem(name, "give exactly one of path, duckdb or postgres")
        return None
    kind = kinds[0]
    located = fields.text(value, kind, required=True, prefix=prefix)
    table_name = fields.text(value, "table", prefix=prefix)
    query = fields.text(value, "query", prefix=prefix)
    sheet = fields.text(value, "sheet", prefix=prefix)
    change = fields.text(value, "change_column", prefix=prefix)
    if located is None:
        return None
    if kind == "path":
        return _file_source(fields.path_of(located), name, table_name, query, change, sheet,
                            fields)
    if (table_name is None) == (query is None):
        fields.problem(name, "a database source needs exactly one of table or query")
        return None
    if sheet is not None:
        fields.problem(f"{prefix}sheet", "only for .xlsx files")
    if kind == "duckdb":
        path = fields.path_of(located)
        if not path.is_file():
            fields.problem(f"{prefix}duckdb", f"no such file: {path}")
        return Source("duckdb", path=path, table=table_name, query=query, change_column=change)
    return Source("postgres", connection=located, table=table_name, query=query,
                  change_column=change)


def _file_source(path: Path, name: str, table_name: str | None, query: str | None,
                 change: str | None, sheet: str | None, fields: _Fields) -> Source | None:
    for extra, given in (("table", table_name), ("query", query), ("change_column", change)):
        if given is not None:
            fields.problem(f"{name}.{extra}", "only for duckdb or postgres sources")
    if path.suffix.lower() not in FILE_SUFFIXES:
        fields.problem(name, f"a file ending in {', '.join(FILE_SUFFIXES)} (or a duckdb or "
                             "postgres source)")
    elif not path.is_file():
        fields.problem(name, f"no such file: {path}")
    if sheet is not None and path.suffix.lower() != ".xlsx":
        fields.problem(f"{name}.sheet", "only for .xlsx files")
    return Source("file", path=path, sheet=sheet)


_READING_FIELDS = ("mapping", "keep", "time_unit", "event_codings", "decimal", "identifying",
                   "missing_values", "dates")


def _reading(table: Mapping, fields: _Fields) -> ReadOptions | None:
    """The ``ReadOptions`` of ``[datasets.<key>.reading]``, checked as the Data page checks
    before loading: a mapped duration needs its unit, an event column its coding."""
    fields.known(table, "reading.", _READING_FIELDS)
    mapping = _mapping(fields.table(table, "mapping", "reading."), PATIENT_COLUMNS,
                       "reading.mapping.", fields)
    for column in fields.texts(table, "keep", "reading."):
        if column in mapping:
            fields.problem("reading.keep", f"'{column}' is also in reading.mapping")
        mapping[column] = column
    if "patient_id" not in mapping.values():
        fields.problem("reading.mapping", "map a column to patient_id")
    unit = fields.text(table, "time_unit", prefix="reading.")
    if unit is not None and unit not in MONTHS_PER_UNIT:
        fields.problem("reading.time_unit", f"one of {', '.join(MONTHS_PER_UNIT)}")
    if unit is None and any(t.endswith("_months") for t in mapping.values()):
        fields.problem("reading.time_unit", "required: a duration column is mapped")
    codings = {_event_column(column, mapping): coding for column, coding in
               _codings(fields.table(table, "event_codings", "reading."), fields).items()}
    decimal = fields.text(table, "decimal", prefix="reading.")
    if decimal not in (None, ".", ","):
        fields.problem("reading.decimal", 'must be "." or ","')
    missing = frozenset(v.lower() for v in fields.texts(table, "missing_values", "reading."))
    dates = _dates(fields.table(table, "dates", "reading."), fields)
    for source, target in mapping.items():
        if target.endswith("_event") and target in PATIENT_COLUMNS and target not in codings:
            fields.problem("reading.event_codings", f"state the coding of {target} "
                                                    f"(mapped from '{source}')")
    for column in dates.status_columns() if dates else ():
        if column not in codings:
            fields.problem("reading.event_codings", f"state the coding of '{column}'")
    return ReadOptions(mapping=mapping, time_unit=unit, event_codings=codings, decimal=decimal,
                       identifying=frozenset(fields.texts(table, "identifying", "reading.")),
                       missing_values=missing, dates=dates)


def _mapping(table: Mapping, canonical: Mapping, prefix: str, fields: _Fields
             ) -> dict[str, str]:
    """Source column -> canonical column, each target once."""
    mapping: dict[str, str] = {}
    for source, target in table.items():
        if not isinstance(target, str) or target not in canonical:
            fields.problem(f"{prefix}{source}", f"not a canonical column (one of "
                                                f"{', '.join(canonical)}); list columns kept "
                                                "as they are under reading.keep")
        elif target in mapping.values():
            fields.problem(f"{prefix}{source}", f"'{target}' is mapped from another column too")
        else:
            mapping[source] = target
    return mapping


def _event_column(column: str, mapping: Mapping[str, str]) -> str:
    """The key ``ReadOptions.event_codings`` wants: the canonical event column a source column
    is mapped to (the coding may be given under either name), else the column itself."""
    target = mapping.get(column, "")
    return target if target.endswith("_event") and target in PATIENT_COLUMNS else column


def _codings(table: Mapping, fields: _Fields) -> dict[str, str]:
    """Event column (canonical, or a status column of the dates) -> ``EVENT_CODINGS`` key."""
    codings = {}
    for column, name in table.items():
        full = CODING_NAMES.get(name, name) if isinstance(name, str) else None
        if full not in EVENT_CODINGS:
            fields.problem(f"reading.event_codings.{column}",
                           f"one of {', '.join(CODING_NAMES)}")
        else:
            codings[column] = full
    return codings


_DATES_FIELDS = ("time_zero", "death", "vital_status", "last_contact", *STANDARD_EVENT_DATES,
                 "custom", "orders", "date_system")


def _dates(table: Mapping, fields: _Fields) -> DateEndpoints | None:
    """``[reading.dates]``: the endpoints derived from date columns, as the Data page's form
    makes them (standard OS, PFS, LC, TTNT; custom endpoints; day/month orders)."""
    if not table:
        return None
    prefix = "reading.dates."
    fields.known(table, prefix, _DATES_FIELDS)
    zero = fields.text(table, "time_zero", required=True, prefix=prefix)
    death = fields.text(table, "death", prefix=prefix)
    vital = fields.text(table, "vital_status", prefix=prefix)
    last = fields.text(table, "last_contact", prefix=prefix)
    if death is None and last is None:
        fields.problem("reading.dates", "needs death or last_contact")
    events = {name: fields.text(table, name, prefix=prefix) for name in STANDARD_EVENT_DATES}
    rules = standard_rules(death=death is not None, **events)
    rules += tuple(_custom_rules(table.get("custom", []), rules, fields))
    orders = fields.table(table, "orders", prefix)
    for column, order in orders.items():
        if order not in ("dmy", "mdy"):
            fields.problem(f"{prefix}orders.{column}", 'must be "dmy" or "mdy"')
    system = table.get("date_system", 1900)
    if system not in (1900, 1904):
        fields.problem(f"{prefix}date_system", "must be 1900 or 1904")
    if zero is None:
        return None
    return DateEndpoints(time_zero=zero, rules=rules, death=death, vital_status=vital,
                         last_contact=last or (death if vital else None), orders=dict(orders),
                         date_system=system)


def _custom_rules(entries: Any, standard: tuple[EndpointRule, ...], fields: _Fields
                  ) -> list[EndpointRule]:
    """``custom = [{ key = "dfs", event = "...", death_competes = true }]``."""
    name = "reading.dates.custom"
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        fields.problem(name, "must be a list of tables { key, event, death_competes }")
        return []
    rules, taken = [], {rule.key for rule in standard} | set(RESERVED_ENDPOINT_KEYS)
    for entry in entries:
        fields.known(entry, f"{name}.", ("key", "event", "death_competes"))
        key = fields.text(entry, "key", required=True, prefix=f"{name}.")
        event = fields.text(entry, "event", required=True, prefix=f"{name}.")
        competes = entry.get("death_competes", True)
        if key is not None and (not re.fullmatch(r"[a-z][a-z0-9_]*", key) or key in taken):
            fields.problem(f"{name}.key", f"'{key}': lower-case letters, digits and _, not "
                                          "the key of a standard or another endpoint")
        elif key is not None and event is not None:
            taken.add(key)
            rules.append(EndpointRule(key, (event,), (DEATH,) if competes is True else ()))
    return rules


def _access(value: object, fields: _Fields) -> Access | None:
    """``access = "public"`` or a table of emails, domains and groups; None when absent."""
    if value is None:
        return None
    if value == PUBLIC:
        return PUBLIC_ACCESS
    if not isinstance(value, dict):
        fields.problem("access", f'must be "{PUBLIC}" or a table of emails, domains, groups')
        return None
    fields.known(value, "access.", ("emails", "domains", "groups"))
    emails = fields.texts(value, "emails", "access.")
    domains = fields.texts(value, "domains", "access.")
    for email in emails:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
            fields.problem("access.emails", f"'{email}' is not an e-mail address")
    for domain in domains:
        if "@" in domain or not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}", domain):
            fields.problem("access.domains", f"'{domain}' is not a domain (such as "
                                             "radonc.example.org)")
    return Access(emails=frozenset(e.lower() for e in emails),
                  domains=frozenset(d.lower() for d in domains),
                  groups=frozenset(fields.texts(value, "groups", "access.")))
