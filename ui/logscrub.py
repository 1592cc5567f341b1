"""Server logs without patient data: exception messages are withheld, tracebacks keep code only.

An exception raised while analysing a cohort can quote values from it (a patient id, a date, a
row). Streamlit logs every uncaught exception with its message. The filter installed here
rewrites such records: the traceback keeps file, line, function and source line of each frame,
and the exception's type, but never its message or the log call's arguments.
"""

from __future__ import annotations

import logging
import os
import traceback

WITHHELD = "[message withheld: it may contain patient data]"
KEEP_MESSAGES_ENV = "OLIGOMET_LOG_EXCEPTION_MESSAGES"


def scrubbed_traceback(error: BaseException) -> str:
    """Return the traceback of ``error`` and its causes with every exception message withheld."""
    blocks = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.StackSummary.extract(
            traceback.walk_tb(current.__traceback__), capture_locals=False).format())
        kind = f"{type(current).__module__}.{type(current).__qualname__}"
        blocks.append(f"Traceback (most recent call last):\n{frames}{kind}: {WITHHELD}")
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n\nwhile handling or caused by:\n\n".join(blocks)


class ScrubExceptionMessages(logging.Filter):
    """Rewrites log records that carry an exception so that its messages are withheld."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrubbed_traceback(record.exc_info[1])
            record.exc_info = None
            record.msg, record.args = str(record.msg), ()
        return True


SCRUBBER = ScrubExceptionMessages()


def install_log_scrubber() -> int:
    """Add the scrubber to the root logger and every existing logger; return how many got it.

    Idempotent, so it can run on every script run and reach loggers created since the last one.
    Setting the environment variable OLIGOMET_LOG_EXCEPTION_MESSAGES=1 keeps full messages, for a
    developer working on synthetic data only.
    """
    if os.environ.get(KEEP_MESSAGES_ENV) == "1":
        return 0
    loggers = [logging.getLogger()] + [logger for logger in logging.Logger.manager.loggerDict.values()
                                       if isinstance(logger, logging.Logger)]
    for logger in loggers:
        if SCRUBBER not in logger.filters:
            logger.addFilter(SCRUBBER)
    return len(loggers)
