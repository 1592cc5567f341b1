"""Server logs never carry an exception's message: it may quote patient data."""

from __future__ import annotations

import io
import logging
import tomllib
from pathlib import Path

import pytest
from streamlit import error_util

from ui.logscrub import WITHHELD, install_log_scrubber, scrubbed_traceback

SECRET = "patient ZX-4471 born 1957-03-02"
ROWS = {SECRET: 1}


def raise_with_secret() -> None:
    try:
        ROWS[SECRET.upper()]
    except KeyError as error:
        raise ValueError(f"bad row: {SECRET}") from error


def caught() -> ValueError:
    with pytest.raises(ValueError) as info:
        raise_with_secret()
    return info.value


def test_the_scrubbed_traceback_keeps_code_and_types_but_no_message():
    text = scrubbed_traceback(caught())
    assert "ZX-4471" not in text and "1957" not in text
    assert "builtins.ValueError: " + WITHHELD in text
    assert "builtins.KeyError: " + WITHHELD in text
    assert "raise_with_secret" in text and "test_logscrub.py" in text


def test_streamlit_uncaught_exception_log_is_scrubbed(monkeypatch):
    monkeypatch.delenv("OLIGOMET_LOG_EXCEPTION_MESSAGES", raising=False)
    logger = logging.getLogger(error_util.__name__)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        assert install_log_scrubber() > 0
        error_util._log_uncaught_app_exception(caught())
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "Uncaught app execution" in logged and WITHHELD in logged
    assert "ZX-4471" not in logged and "1957" not in logged


def test_rich_tracebacks_which_bypass_logging_are_off():
    config = tomllib.loads(Path(".streamlit/config.toml").read_text())
    assert config["logger"]["enableRich"] is False
    assert config["client"]["showErrorDetails"] == "none"
