"""Text cells as every reader sees them: without surrounding whitespace, blank as missing."""

from __future__ import annotations

import polars as pl

#: The characters polars' ``str.strip_chars()`` strips (Unicode White_Space), which an engine
#: query must strip too (``cohort.engine_source.stripped``): a no-break space from an Excel
#: export is as blank as a space.
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
              + "\u2028\u2029\u202f\u205f\u3000")


def stripped_text(text: pl.Series) -> pl.Series:
    """``text`` as String without surrounding whitespace; a cell of whitespace only is
    missing, as an empty one."""
    stripped = text.cast(pl.String).str.strip_chars()
    return stripped.set((stripped.str.len_chars() == 0).fill_null(False), None)
