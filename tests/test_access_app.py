"""Access per dataset in the app: a configured dataset is offered, and a link to it opens, only
for users its ``access`` lists; others are told they have no access (AppTest sets the signed-in
user as st.login would; tests/browser/test_sign_in.py signs in through a real provider)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import ROOT, TIMEOUT, as_read, metric
from tests.registry_exports import veterans_dates
from tests.test_sources import VETERANS_READING, write_config

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "c", "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
ACCESS = 'access = { domains = ["radonc.example.org"], groups = ["tumorboard"] }'
ALICE = {"is_logged_in": True, "email": "alice@radonc.example.org"}
BOB = {"is_logged_in": True, "email": "bob@elsewhere.org"}
CAROL = {"is_logged_in": True, "email": "carol@elsewhere.org", "groups": ["tumorboard"]}


@pytest.fixture
def registry(monkeypatch, tmp_path):
    """A configured Veterans' registry (137 patients) that only ACCESS's users may see."""
    export, _ = veterans_dates()
    export.write_csv(tmp_path / "veterans.csv")
    path = write_config(tmp_path, "va", '"veterans.csv"', VETERANS_READING, extra=ACCESS)
    monkeypatch.setenv("OLIGOMET_CONFIG", str(path))


def app_as(user: dict | None, sign_in: bool = True, **params: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if sign_in:
        at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def offered(at: AppTest) -> list[str]:
    return list(at.selectbox(key="dataset").options)


@pytest.mark.parametrize("user", [ALICE, CAROL], ids=["by domain", "by group"])
def test_a_listed_user_is_offered_the_dataset_and_its_link_opens(registry, user):
    at = app_as(user, ds="va")
    assert "Registry va" in offered(at)
    assert at.selectbox(key="dataset").value == "va"
    assert metric(at, "Patients in cohort") == "137"


def test_others_are_told_they_have_no_access_and_see_none_of_it(registry):
    at = app_as(BOB, ds="va", **{"cohort.by": "histology"})
    assert "Registry va" not in offered(at)
    assert at.selectbox(key="dataset").value != "va"
    assert metric(at, "Patients in cohort") != "137"
    messages = " ".join(as_read(w.value) for w in [*at.warning, *at.info])
    assert "You do not have access to the dataset 'va'" in messages
    assert not at.error


def test_before_sign_in_nothing_but_the_sign_in_is_drawn(registry):
    at = app_as({"is_logged_in": False}, ds="va")
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.selectbox and not at.metric and not at.dataframe and not at.sidebar.children


def test_a_listed_dataset_is_offered_to_nobody_while_sign_in_is_off(registry):
    at = app_as(None, sign_in=False, ds="va")
    assert "Registry va" not in offered(at)
    assert metric(at, "Patients in cohort") != "137"


@pytest.mark.parametrize(("user", "listed"), [(ALICE, True), (BOB, False)])
def test_the_data_page_lists_the_server_datasets_its_user_may_see(registry, user, listed):
    at = app_as(user)
    at.switch_page("pages/data.py").run()
    assert not at.exception
    text = " ".join(as_read(m.value) for m in at.markdown)
    assert ("Registry va" in text) is listed
