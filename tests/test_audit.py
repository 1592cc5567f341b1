"""The audit log: one JSON line per view (user, dataset, screen), never a patient value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import ROOT, TIMEOUT, metric
from tests.test_access_app import ALICE, AUTH, registry  # noqa: F401 (the fixture)
from ui.audit import AUDIT_LOG_ENV


@pytest.fixture
def audit_file(monkeypatch, tmp_path) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv(AUDIT_LOG_ENV, str(path))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def app(user: dict | None, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = user
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def test_two_screens_and_a_dataset_switch_give_exactly_three_lines(registry, audit_file):  # noqa: F811
    started = datetime.now(UTC) - timedelta(seconds=1)
    at = app(ALICE, ds="va")
    assert metric(at, "Patients in cohort") == "137"
    at.multiselect(key="flt.va.histology").set_value(["squamous"]).run()  # a rerun, same view
    at.switch_page("pages/survival.py").run()
    at.selectbox(key="dataset").set_value("oligomet-demo").run()
    at.run()  # nothing changed: no line
    assert not at.exception, [e.value for e in at.exception]

    logged = lines(audit_file)
    assert [(e["user"], e["dataset"], e["screen"]) for e in logged] == [
        ("alice@radonc.example.org", "va", "cohort"),
        ("alice@radonc.example.org", "va", "survival"),
        ("alice@radonc.example.org", "oligomet-demo", "survival"),
    ]
    assert [e["filtered_columns"] for e in logged] == [[], ["histology"], []]
    for entry in logged:
        assert set(entry) == {"time", "user", "dataset", "screen", "filtered_columns"}
        moment = datetime.fromisoformat(entry["time"])
        assert entry["time"].endswith("Z") and started <= moment <= datetime.now(UTC)
    text = audit_file.read_text(encoding="utf-8")
    assert "squamous" not in text and "V0001" not in text and "V0" not in text


def test_without_sign_in_the_user_is_anonymous(audit_file):
    app(None, **{"f.histology": "colorectal adenocarcinoma"})
    [entry] = lines(audit_file)
    assert (entry["user"], entry["dataset"], entry["screen"]) == ("anonymous", "oligomet-demo",
                                                                  "cohort")
    assert entry["filtered_columns"] == ["histology"]
    assert "colorectal" not in audit_file.read_text(encoding="utf-8")


def test_without_the_variable_nothing_is_written(monkeypatch, tmp_path):
    monkeypatch.delenv(AUDIT_LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    at = app(None)
    assert not at.exception
    assert list(tmp_path.iterdir()) == []
