"""Which cohort this browser session looks at, and the filtered view every page reads.

Bundled datasets and the datasets configured on the server (``OLIGOMET_CONFIG``,
``cohort.config``) are read-only and shared by every session (``st.cache_resource``); a
configured one is loaded once per source fingerprint and reloaded when its source changes, and
one that fails validation is not offered (the reason goes to the server log, without values).
A user's upload lives only in that user's ``st.session_state``: it is never put in a shared
cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from cohort.access import resolved
from cohort.config import Config, DatasetConfig, config_path, load_config
from cohort.datasets import list_datasets, load_dataset
from cohort.engine import EngineError
from cohort.engine_cohort import EngineCohort, EngineReadingError, open_engine_cohort
from cohort.filters import CohortFilter
from cohort.io import CohortValidationError
from cohort.schema import Cohort
from cohort.sources import SourceError, dataset_fingerprint, failure_summaries, load_configured
from cohort.views import EngineMemo, View, view_of
from ui.auth import current_user, sign_in_configured

UPLOADED = "uploaded"
DATASET_KEY = "dataset"
_UPLOAD_STATE = "uploaded_cohort"
_VIEW_STATE = "view"
#: This session's engine aggregates (cohort.views.EngineMemo): never shared between sessions.
_ENGINE_MEMO_STATE = "_engine_memo"
_PENDING_SELECTION = "dataset_pending"
#: Seconds a file source's fingerprint is trusted before its size and mtime are read again
#: (one run sees one version); databases use their dataset's ``check_seconds``.
FILE_CHECK_SECONDS = 2.0
LOG = logging.getLogger("oligomet.datasets")


@st.cache_resource(max_entries=8, show_spinner=False)
def bundled_cohort(key: str) -> Cohort:
    """A bundled dataset, loaded once per server process (read-only, shared)."""
    return load_dataset(key)


@dataclass(frozen=True)
class Unavailable:
    """A configured dataset not offered: why, as the server log has it (no patient values)."""

    key: str
    reasons: tuple[str, ...]


ConfigId = tuple[str, tuple[int, int] | None]


@st.cache_resource(max_entries=4, show_spinner=False)
def server_config(path: str, modified: tuple[int, int] | None) -> Config:
    """The configuration file, parsed once per version (its problems logged once)."""
    reserved = {info.key for info in list_datasets()} | {UPLOADED}
    config = load_config(Path(path), reserved)
    for problem in config.problems:
        LOG.error("configuration: %s (that dataset is not offered)", problem)
    sign_in = sign_in_configured()
    for key, dataset in config.datasets.items():
        access = resolved(dataset.access, sign_in=sign_in)
        if not access.public and not sign_in:
            LOG.warning("dataset %s has an access list but sign-in is off ([auth] in the "
                        "secrets): it is offered to nobody", key)
        elif sign_in:
            LOG.info("dataset %s: offered to %s", key, access.describe())
    return config


def current_config() -> tuple[ConfigId, Config] | None:
    """The configuration named by ``OLIGOMET_CONFIG`` with its identity (path and version);
    None without it."""
    path = config_path()
    if path is None:
        return None
    try:
        status = path.stat()
        modified = (status.st_size, status.st_mtime_ns)
    except OSError:
        modified = None
    config_id = (str(path), modified)
    return config_id, server_config(*config_id)


def secret_connection(name: str) -> Mapping[str, object]:
    """The ``[connections.<name>]`` table of Streamlit's secrets (``.streamlit/secrets.toml``)."""
    try:
        return dict(st.secrets["connections"][name])
    except (KeyError, FileNotFoundError):
        raise SourceError(f"PostgreSQL connection '{name}': no [connections.{name}] table in "
                          "the secrets") from None


class _Fingerprints:
    """Process-wide: each configured dataset's last fingerprint and when it was taken."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.taken: dict[tuple[ConfigId, str], tuple[float, tuple]] = {}

    def current(self, config_id: ConfigId, dataset: DatasetConfig) -> tuple:
        """The dataset's fingerprint, taken again once it is older than the check interval.
        A database that cannot be asked keeps its last fingerprint (the last good load stays)
        or, never asked before, gets an "unreachable" one."""
        database = dataset.patients.is_database or (dataset.toxicities is not None
                                                    and dataset.toxicities.is_database)
        interval = dataset.check_seconds if database else FILE_CHECK_SECONDS
        slot = (config_id, dataset.key)
        with self.lock:
            last = self.taken.get(slot)
        if last is not None and time.monotonic() - last[0] < interval:
            return last[1]
        try:
            fingerprint = dataset_fingerprint(dataset, secret_connection)
        except SourceError as error:
            LOG.warning("dataset %s: cannot check for changes: %s", dataset.key, error)
            fingerprint = last[1] if last is not None else ("unreachable", str(error))
        with self.lock:
            self.taken[slot] = (time.monotonic(), fingerprint)
        if last is not None and last[1] != fingerprint:
            configured_load.clear(config_id, dataset.key, last[1])  # free the old version
        return fingerprint


@st.cache_resource(show_spinner=False)
def _fingerprints() -> _Fingerprints:
    return _Fingerprints()


@st.cache_resource(max_entries=32, show_spinner="Loading the server's datasets…")
def configured_load(config_id: ConfigId, key: str, fingerprint: tuple
                    ) -> Cohort | EngineCohort | Unavailable:
    """A configured dataset loaded once per source version (read-only, shared; an engine
    dataset opened and profiled, not loaded), or why it is not offered (logged once, without
    patient values)."""
    dataset = server_config(*config_id).datasets[key]
    if fingerprint[0] == "unreachable":
        reasons = [fingerprint[1]]
    else:
        try:
            cohort = (open_engine_cohort(dataset, secret_connection) if dataset.engine
                      else load_configured(dataset, secret_connection))
        except EngineReadingError as error:
            reasons = error.problems
        except (CohortValidationError, SourceError, EngineError) as error:
            reasons = failure_summaries(error)
        except Exception as error:  # a database's own message may quote values: not logged
            if not dataset.engine:
                raise
            reasons = [f"{dataset.patients.label}: the database refused the engine's query "
                       f"({type(error).__name__})"]
        else:
            LOG.info("dataset %s: loaded %d patients from %s", key, cohort.n_patients,
                     dataset.patients.label)
            return cohort
    LOG.error("dataset %s is not offered: %d problem(s) reading it", key, len(reasons))
    for reason in reasons:
        LOG.error("dataset %s: %s", key, reason)
    return Unavailable(key, tuple(reasons))


def configured_results() -> dict[str, Cohort | EngineCohort | Unavailable]:
    """Each configured dataset (none without ``OLIGOMET_CONFIG``): its shared cohort, or why
    it is not offered."""
    found = current_config()
    if found is None:
        return {}
    config_id, config = found
    fingerprints = _fingerprints()
    return {key: configured_load(config_id, key, fingerprints.current(config_id, dataset))
            for key, dataset in config.datasets.items()}


def allowed_keys() -> set[str]:
    """The configured datasets this session's user may see (cohort.access; sign-in from
    ui.auth): without sign-in, those with no access list or ``access = "public"``."""
    found = current_config()
    if found is None:
        return set()
    config = found[1]
    user, sign_in = current_user(config.groups_claim), sign_in_configured()
    return {key for key, dataset in config.datasets.items()
            if resolved(dataset.access, sign_in=sign_in).allows(user)}


def configured_cohorts() -> dict[str, Cohort | EngineCohort]:
    """The configured datasets offered to this session: those whose source read and validated
    and that its user may see."""
    allowed = allowed_keys()
    return {key: result for key, result in configured_results().items()
            if isinstance(result, Cohort | EngineCohort) and key in allowed}


def withheld(key: str) -> str | None:
    """Why a configured dataset ``key`` is not offered to this session ('access': its user may
    not see it, 'unavailable': its source failed); None when it is offered or not configured."""
    results = configured_results()
    if key not in results:
        return None
    if key not in allowed_keys():
        return "access"
    return "unavailable" if isinstance(results[key], Unavailable) else None


def dataset_options() -> dict[str, str]:
    """Dataset key -> title: bundled first, then those configured on the server, then this
    session's upload if there is one."""
    options = {info.key: info.title for info in list_datasets()}
    options |= {key: cohort.name for key, cohort in configured_cohorts().items()}
    uploaded = uploaded_cohort()
    if uploaded is not None:
        options[UPLOADED] = f"Your upload: {uploaded.name}"
    return options


def uploaded_cohort() -> Cohort | None:
    """This session's uploaded cohort, if any."""
    return st.session_state.get(_UPLOAD_STATE)


def keep_upload(cohort: Cohort) -> None:
    """Make ``cohort`` this session's upload; the sidebar selects it on the next run."""
    st.session_state[_UPLOAD_STATE] = cohort
    st.session_state[_PENDING_SELECTION] = UPLOADED


def select_pending_dataset(options: dict[str, str]) -> None:
    """Before the dataset widget is drawn: apply a pending choice, or fall back to the first."""
    pending = st.session_state.pop(_PENDING_SELECTION, None)
    if pending in options:
        st.session_state[DATASET_KEY] = pending
    elif st.session_state.get(DATASET_KEY) not in options:
        st.session_state[DATASET_KEY] = next(iter(options))


def cohort_for(dataset: str) -> Cohort | EngineCohort:
    """The cohort behind a dataset key: this session's upload for ``UPLOADED``, a configured
    dataset's shared cohort, or a bundled one (KeyError if none)."""
    if dataset == UPLOADED:
        uploaded = uploaded_cohort()
        if uploaded is None:
            raise KeyError("no uploaded dataset in this session")
        return uploaded
    configured = configured_cohorts()
    if dataset in configured:
        return configured[dataset]
    return bundled_cohort(dataset)


def min_cell_of(dataset: str) -> int | None:
    """The small-cell threshold of a configured dataset (None: bundled, uploads, none set)."""
    found = current_config()
    if found is None or dataset == UPLOADED:
        return None
    configured = found[1].datasets.get(dataset)
    return configured.min_cell or None if configured is not None else None


def build_view(dataset: str, cohort_filter: CohortFilter) -> View:
    """This run's view of the dataset with the filter (its frames computed when first read)."""
    memo = st.session_state.setdefault(_ENGINE_MEMO_STATE, EngineMemo())
    view = view_of(dataset, cohort_for(dataset), cohort_filter, min_cell_of(dataset), memo)
    st.session_state[_VIEW_STATE] = view
    return view


def current_view() -> View:
    """The view the entry script built on this run."""
    return st.session_state[_VIEW_STATE]


def release_view() -> None:
    """At the end of a run: keep the view's dataset and filter, drop its filtered frames (the
    next read, e.g. by a callback before the next run's view, filters again)."""
    view = st.session_state.get(_VIEW_STATE)
    if view is not None:
        st.session_state[_VIEW_STATE] = view.fresh()
