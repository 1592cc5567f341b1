"""Text from a file or a link, shown as typed: never as markdown, a link, an image or a directive.

Streamlit renders markdown (with autolinks, images and its own ``:color[...]`` and
``:material/...:`` directives) in titles, captions, notices and widget labels. Every value that
comes from an upload or a URL goes through :func:`literal_markdown` before it reaches one.
"""

from __future__ import annotations

import re

#: Every ASCII punctuation character: CommonMark lets each be escaped with a backslash, and
#: escaping them all also breaks autolinks (``http://``, ``www.``, ``a@b.org``) and directives.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f]+")


def literal_markdown(text: object) -> str:
    """``text`` (any value, as ``str``) escaped so that Streamlit's markdown shows it as typed,
    on one line."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))
