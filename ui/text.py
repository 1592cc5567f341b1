"""Text from a file or a link, shown as typed: never as markdown, a link, an image or a directive.

Streamlit renders markdown (with autolinks, images and its own ``:color[...]`` and
``:material/...:`` directives) in titles, captions, notices and widget labels. Every value that
comes from an upload or a URL goes through :func:`literal_markdown` before it reaches one.
"""

from __future__ import annotations

import re

#: Every ASCII punctuation character: CommonMark lets each be escaped with a backslash (links,
#: images, emphasis, HTML, Streamlit's ``:red[...]`` and ``:material/...:`` directives).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f]+")
#: GFM turns bare URLs and e-mail addresses into links after escapes are resolved; an invisible
#: WORD JOINER inside '://', 'www.' and before '@' keeps them text (the text reads the same).
WORD_JOINER = "\u2060"
_AUTOLINK_STARTS = re.compile(r"(?<=:)(?=//)|(?i:(?<=www))(?=\.)|(?=@)")


def literal_markdown(text: object) -> str:
    """``text`` (any value, as ``str``) escaped so that Streamlit's markdown shows it as typed,
    on one line, with no link, image, emphasis or directive."""
    one_line = _LINE_BREAKS.sub(" ", str(text))
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK_STARTS.sub(WORD_JOINER, one_line))
