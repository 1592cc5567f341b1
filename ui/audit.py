"""Audit log: one JSON line per view a session is shown (time, user, dataset key, screen).

A *view* is a (user, dataset, screen) a session shows: a line is written when one of the three
differs from the session's previous line, not on the reruns that moving a widget causes. The
line also names the columns filtered at that moment, never the values chosen (a filter's values
are values of the dataset) and never a file name (an upload's file name can name a patient).

Written by the logger ``oligomet.audit`` to the file named by ``OLIGOMET_AUDIT_LOG`` (JSON
lines, appended; reopened when rotated away); without the variable nothing is written. The
logger does not propagate to the server log, and carries the scrubber of ``ui.logscrub``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from logging.handlers import WatchedFileHandler

import streamlit as st

from cohort.filters import CohortFilter
from ui.auth import current_user, sign_in_configured
from ui.logscrub import SCRUBBER

AUDIT_LOG_ENV = "OLIGOMET_AUDIT_LOG"
LOGGER = logging.getLogger("oligomet.audit")
LOGGER.propagate = False
LOGGER.setLevel(logging.INFO)
LOGGER.addFilter(SCRUBBER)
ANONYMOUS = "anonymous"
_LAST_VIEW_STATE = "audit.last_view"
_lock = threading.Lock()


class JsonLines(logging.Formatter):
    """An audit record as one JSON object: time (UTC, ISO-8601, milliseconds), then its fields."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return json.dumps({"time": moment.replace("+00:00", "Z"), **record.audit},
                          ensure_ascii=False)


def configured_handler() -> logging.Handler | None:
    """The audit logger's file handler for ``OLIGOMET_AUDIT_LOG`` (replaced when the variable
    changes); None without the variable."""
    path = os.environ.get(AUDIT_LOG_ENV) or None
    with _lock:
        current = [h for h in LOGGER.handlers if isinstance(h, WatchedFileHandler)]
        if current and current[0].baseFilename == (os.path.abspath(path) if path else None):
            return current[0]
        for handler in current:
            LOGGER.removeHandler(handler)
            handler.close()
        if path is None:
            return None
        handler = WatchedFileHandler(path, encoding="utf-8")
        handler.setFormatter(JsonLines())
        handler.addFilter(SCRUBBER)
        LOGGER.addHandler(handler)
        return handler


def user_label() -> str:
    """Who this session's user is: the verified e-mail address, the OIDC subject when the
    provider gave no verified address, or 'anonymous' (sign-in off, or nobody signed in)."""
    user = current_user()
    if user is None:
        return ANONYMOUS
    if user.email:
        return user.email
    subject = st.user.get("sub") if sign_in_configured() else None
    return f"subject:{subject}" if subject else ANONYMOUS


def record_view(dataset: str, screen: str, cohort_filter: CohortFilter) -> bool:
    """Write the audit line of this view unless it is the session's previous one; True when
    a line was written (or would be, with no audit file configured)."""
    view = (user_label(), dataset, screen)
    if st.session_state.get(_LAST_VIEW_STATE) == view:
        return False
    st.session_state[_LAST_VIEW_STATE] = view
    if configured_handler() is not None:
        fields = {"user": view[0], "dataset": dataset, "screen": screen,
                  "filtered_columns": sorted(c.column for c in cohort_filter.conditions)}
        LOGGER.info("view", extra={"audit": fields})
    return True
