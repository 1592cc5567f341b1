"""Python functions applied to each value of a column, in the calling thread.

Never ``map_elements`` / ``map_batches``: polars runs those in its own thread pool, where the
function must take the GIL. In the Streamlit server several script threads call polars at
once, and a pool thread waiting for the GIL while a script thread holding it waits for the pool
stops the whole process (seen under 20 concurrent sessions: every thread parked on a futex;
polars issue 24448). ``tests/test_elementwise.py`` keeps the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl


def each_value(frame: pl.DataFrame, column: str, function: Callable[[Any], str | None]
               ) -> pl.Series:
    """``function`` of each value of ``frame[column]`` as a text Series named ``column``
    (a null stays null)."""
    values = [None if value is None else function(value) for value in frame[column].to_list()]
    return pl.Series(column, values, dtype=pl.String)
