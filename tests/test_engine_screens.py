"""A registry configured with ``engine = true`` opens on every screen and shows the numbers of
the same registry read into memory: the screens read a view (cohort/views.py), never where the
patients are. Past its ``row_limit`` a part that needs rows says so; the rest stays."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from cohort.datasets import load_dataset
from tests.apptest import as_read, metric, open_app, shown_table

#: The demonstration cohort's canonical columns, as a registry would hold them in Parquet.
COLUMNS = ("patient_id", "study", "age_years", "histology", "treated_sites", "n_metastases",
           "oligo_state", "ecog", "rt_technique", "rt_total_dose_gy", "rt_fractions",
           "regimen", "dose_level", "drug_dose_mg", "dlt", "toxicity_assessed",
           "os_months", "os_event", "pfs_months", "pfs_event", "lc_months", "lc_event")
STUDY = "Kao sunitinib + IGRT phase 1"
SCREENS = ("pages/cohort.py", "pages/survival.py", "pages/cox.py", "pages/dose.py",
           "pages/toxicity.py")


def _dataset(key: str, engine: bool, row_limit: int | None = None) -> str:
    mapping = "\n".join(f'{c} = "{c}"' for c in COLUMNS)
    codings = "\n".join(f'{c} = "0/1"' for c in COLUMNS if c.endswith("_event"))
    limit = f"row_limit = {row_limit}\n" if row_limit else ""
    return (f'[datasets.{key}]\ntitle = "Registry {key}"\nprovenance = "Test registry."\n'
            f'patients = "registry.parquet"\ntoxicities = "toxicities.parquet"\n'
            f'synthetic = true\nengine = {str(engine).lower()}\n'
            f"{limit}[datasets.{key}.reading]\ntime_unit = \"months\"\n"
            f"[datasets.{key}.reading.mapping]\n{mapping}\n"
            f"[datasets.{key}.reading.event_codings]\n{codings}\n")


@pytest.fixture
def registries(monkeypatch, tmp_path: Path) -> Path:
    """The demonstration cohort and its toxicities as a Parquet registry, configured three
    times: in memory ('mem'), in the engine ('eng') and in the engine with a row limit of 100
    ('small')."""
    demo = load_dataset("oligomet-demo")
    demo.patients.select(COLUMNS).write_parquet(tmp_path / "registry.parquet")
    demo.toxicities.write_parquet(tmp_path / "toxicities.parquet")
    config = tmp_path / "oligomet.toml"
    config.write_text(_dataset("mem", False) + _dataset("eng", True)
                      + _dataset("small", True, row_limit=100))
    monkeypatch.setenv("OLIGOMET_CONFIG", str(config))
    return config


def _texts(at: AppTest) -> list[str]:
    return [as_read(e.value) for e in [*at.markdown, *at.caption, *at.info, *at.warning]]


def _tables(at: AppTest) -> dict[str, list[dict]]:
    """Each table the screen showed this run (title -> rows as on screen)."""
    shown = at.session_state["_shown_this_run"]
    return {title: frame.to_dicts() for title, frame in shown.tables}


def _assert_same_tables(engine: AppTest, memory: AppTest) -> None:
    got, expected = _tables(engine), _tables(memory)
    assert list(got) == list(expected)
    for title, rows in expected.items():
        assert got[title] == rows, title


@pytest.mark.parametrize("screen", SCREENS)
def test_every_screen_shows_what_the_in_memory_registry_shows(registries, screen):
    link = {"f.study": STUDY, "survival.by": "dose_level", "cox.covariates": ["dose_level"]}
    memory = open_app(screen, ds="mem", **link)
    engine = open_app(screen, ds="eng", **link)
    assert engine.selectbox(key="dataset").value == "eng"
    assert metric(engine, "Patients in cohort") == metric(memory, "Patients in cohort") != "0"
    assert [(m.label, m.value) for m in engine.metric] == [(m.label, m.value)
                                                           for m in memory.metric]
    _assert_same_tables(engine, memory)
    assert len(engine.get("plotly_chart")) == len(memory.get("plotly_chart"))


def test_counts_and_attrition_come_from_the_engine_without_fetching_rows(registries):
    at = open_app("pages/cohort.py", ds="small", **{"f.study": STUDY})  # rows: at most 100
    attrition = shown_table(at, "Attrition")["n"].to_list()
    kept = int(metric(at, "Patients in cohort").replace(",", ""))
    assert attrition == [4299, kept] and 0 < kept < 4299
    assert metric(at, "In the dataset") == "4,299"


def test_past_the_row_limit_a_part_needing_rows_says_so_and_the_counts_stay(registries):
    at = open_app("pages/cox.py", ds="small", **{"cox.covariates": ["dose_level"]})
    assert metric(at, "Patients in cohort") == "4,299"
    refusal = [t for t in _texts(at) if "a model fetches at most 100 rows" in t]
    assert refusal and refusal[0].startswith("4,299 patients match the filter")
    assert not at.get("plotly_chart")


@pytest.fixture
def survival_only(monkeypatch, tmp_path: Path) -> None:
    """A registry with identifiers, histology and OS only (no dose, DLT or local-control
    column), configured in the engine with a row limit of 100."""
    demo = load_dataset("oligomet-demo")
    columns = ("patient_id", "histology", "os_months", "os_event")
    demo.patients.select(columns).write_parquet(tmp_path / "registry.parquet")
    mapping = "\n".join(f'{c} = "{c}"' for c in columns)
    config = tmp_path / "oligomet.toml"
    config.write_text('[datasets.os]\ntitle = "OS registry"\nprovenance = "Test registry."\n'
                      'patients = "registry.parquet"\nsynthetic = true\nengine = true\n'
                      'row_limit = 100\n[datasets.os.reading]\ntime_unit = "months"\n'
                      f'[datasets.os.reading.mapping]\n{mapping}\n'
                      '[datasets.os.reading.event_codings]\nos_event = "0/1"\n')
    monkeypatch.setenv("OLIGOMET_CONFIG", str(config))


def test_the_dose_screen_of_a_registry_without_dose_columns_says_what_it_lacks(survival_only):
    at = open_app("pages/dose.py", ds="os")  # 4,299 patients, row limit 100: nothing to fetch
    texts = _texts(at)
    assert any("no radiotherapy dose columns" in t for t in texts)
    assert any("this dataset lacks them" in t for t in texts)
    assert any("No dose-level / DLT columns" in t for t in texts)
    assert not [t for t in texts if "a model fetches at most" in t]


@pytest.fixture
def fetched_rows(monkeypatch) -> list[int]:
    """The number of rows of every result fetched from DuckDB while the fixture is active."""
    from ibis.backends.duckdb import Backend

    sizes: list[int] = []
    for method in ("to_pyarrow", "to_polars"):
        original = getattr(Backend, method)

        def counted(self, *args, _original=original, **kwargs):
            result = _original(self, *args, **kwargs)
            sizes.append(len(result) if hasattr(result, "__len__") else 1)
            return result

        monkeypatch.setattr(Backend, method, counted)
    return sizes


def test_the_survival_screen_fetches_only_counts_past_the_row_limit(registries, fetched_rows):
    link = {"survival.by": "study"}
    open_app("pages/survival.py", ds="small", **link)  # 4,299 patients, limit 100
    fetched_rows.clear()  # opening the dataset (its profile) is done once per server
    engine = open_app("pages/survival.py", ds="small", **link)  # a new session
    # the largest result is the (study, time, event) counts, not 4,299 patients
    keys = pl.read_parquet(registries.parent / "registry.parquet").select(
        "study", "os_months", "os_event").unique().height
    assert fetched_rows and max(fetched_rows) <= keys < 4299, (fetched_rows, keys)
    memory = open_app("pages/survival.py", ds="mem", **link)
    _assert_same_tables(engine, memory)
    assert {"Median survival (95% CI)", "Log-rank test: observed and expected events"} <= set(
        _tables(engine))
    assert not [t for t in _texts(engine) if "fetches at most" in t]


@pytest.mark.parametrize("by", [None, "study"])
def test_table_one_past_the_row_limit_is_aggregated_in_the_engine(registries, fetched_rows, by):
    link = {"cohort.by": by} if by else {}
    open_app("pages/cohort.py", ds="small", **link)  # 4,299 patients, limit 100
    fetched_rows.clear()  # the dataset is opened once per server
    engine = open_app("pages/cohort.py", ds="small", **link)  # a new session
    memory = open_app("pages/cohort.py", ds="mem", **link)
    title = "Baseline characteristics (Table 1)"
    assert _tables(engine)[title] == _tables(memory)[title]
    headers = list(_tables(engine)[title][0])
    assert any(h.startswith(STUDY) for h in headers) == (by == "study"), headers
    assert max(fetched_rows) < 1000, fetched_rows  # counts per level, never 4,299 patients


def test_a_rerun_with_the_same_choices_answers_from_the_sessions_memo(registries, fetched_rows):
    """(The Cohort screen's distributions fetch their rows again: rows are not kept.)"""
    link = {"f.study": STUDY, "survival.by": "dose_level"}
    at = open_app("pages/survival.py", ds="small", **link)
    shown = _tables(at)
    fetched_rows.clear()
    at.run()
    assert _tables(at) == shown
    assert fetched_rows == []  # nothing asked of the engine again
    at.selectbox(key="surv.by").set_value("ecog").run()
    assert fetched_rows  # a new choice is a new aggregation
    other = open_app("pages/survival.py", ds="small", **link)  # another session: its own memo
    assert "_engine_memo" in other.session_state
    assert other.session_state["_engine_memo"] is not at.session_state["_engine_memo"]


@pytest.mark.parametrize("link", [
    {},
    {"toxicity.by": "dose_level", "toxicity.phase": "acute", "f.study": STUDY},
    {"toxicity.by": "dlt", "toxicity.phase": "late"},
], ids=["all", "acute by dose level, one study", "late by DLT"])
def test_the_toxicity_screen_counts_in_the_engine_what_memory_counts(registries, link):
    """The toxicity tables and heatmaps of a registry kept in the engine (its toxicities a
    Parquet file beside the patients, joined in DuckDB) equal the in-memory registry's."""
    memory = open_app("pages/toxicity.py", ds="mem", **link)
    engine = open_app("pages/toxicity.py", ds="eng", **link)
    tables = _tables(engine)
    assert any(title.startswith("Patients by worst CTCAE grade") for title in tables)
    if "toxicity.by" in link:
        assert any(title.startswith("Patients with toxicity by") for title in tables)
    _assert_same_tables(engine, memory)
    assert [t.replace("Registry eng", "Registry mem") for t in _texts(engine)] == _texts(memory)
    assert len(engine.get("plotly_chart")) == len(memory.get("plotly_chart")) >= 1


def test_table_one_and_distributions_of_a_large_engine_cohort_wait_to_be_asked_for(
        registries, monkeypatch):
    """Above the threshold the Cohort screen opens at once, with the counts, and computes
    Table 1 and draws the distributions when switched on: then they are the in-memory
    registry's."""
    monkeypatch.setattr("cohort.views.ON_REQUEST_ABOVE", 100)
    engine = open_app("pages/cohort.py", ds="eng")
    assert "Baseline characteristics (Table 1)" not in _tables(engine)
    assert any("Switch on 'Compute Table 1'" in text for text in _texts(engine))
    assert any("Switch on 'Draw the distributions'" in text for text in _texts(engine))
    assert not engine.get("plotly_chart")
    assert metric(engine, "Patients") == "4,299"
    engine.toggle(key="table_one_asked.eng").set_value(True).run()
    engine.toggle(key="distributions_asked.eng").set_value(True).run()
    memory = open_app("pages/cohort.py", ds="mem")
    table = "Baseline characteristics (Table 1)"
    assert _tables(engine)[table] == _tables(memory)[table]  # in memory it never waits
    charts = [c.proto.spec for c in engine.get("plotly_chart")]
    assert len(charts) >= 10
    assert charts == [c.proto.spec for c in memory.get("plotly_chart")]


def test_a_part_past_the_engine_memory_says_what_to_do_and_the_screen_goes_on():
    def screen() -> None:
        import duckdb
        import streamlit as st

        from ui.describe import within_engine_limits

        st.markdown("before")
        with within_engine_limits():
            raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate")
        st.markdown("after")

    at = AppTest.from_function(screen).run()
    assert not at.exception
    assert [m.value for m in at.markdown] == ["before", "after"]
    assert "engine_memory_mb" in at.warning[0].value
