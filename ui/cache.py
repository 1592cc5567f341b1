"""Caches scoped to one browser session: results derived from patient data are never shared
between users (STREAMLIT_NOTES: ``st.cache_data`` is global unless ``scope="session"``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

import polars as pl
import streamlit as st

F = TypeVar("F", bound=Callable)


def frame_digest(frame: pl.DataFrame) -> str:
    """A hash of every row and the schema (Streamlit's own hash of a frame samples rows)."""
    digest = hashlib.sha256(str(frame.schema).encode())
    digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


def session_cache(max_entries: int, spinner: str | bool = False) -> Callable[[F], F]:
    """``st.cache_data`` for this session only, keyed by the full content of any polars frame."""
    return st.cache_data(scope="session", max_entries=max_entries, show_spinner=spinner,
                         hash_funcs={pl.DataFrame: frame_digest})
