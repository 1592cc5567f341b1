"""Date columns as registries export them, read from text: ISO dates (also as an Excel date
cell reads: '2019-03-04 00:00:00'), d/m/y text ('04.03.2019', '4/3/2019', '03-04-2019', with
or without a time) and Excel serial numbers (1900 or 1904 date system). Dates are whole days: a
time of day is dropped.

A column is one convention. Dotted values (dd.mm.yyyy) are day first; slashed or dashed ones
are day first or month first, settled by the values: any first field above 12 means day first,
any second field above 12 month first. Where nothing settles it the user is asked
(``date_orders`` gives both); a column holding both kinds of evidence fits no order, and its
values that cannot be read are reported (``invalid_dates``).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from io import BytesIO

import polars as pl

from cohort.text import stripped_text

DATE_ORDERS = ("dmy", "mdy")
#: Excel's day 0 of serial numbers, per date system (1900: from serial 61 = 1900-03-01; the
#: fictitious 1900-02-29 is serial 60).
EXCEL_EPOCHS = {1900: dt.date(1899, 12, 30), 1904: dt.date(1904, 1, 1)}
#: Serial numbers read as dates: 1 (1900-01-01) to 2958465 (9999-12-31).
MAX_SERIAL = 2_958_465
#: The smallest serial that makes a column of numbers look like dates (1901-01-01): ages,
#: doses and counts are smaller.
MIN_DETECTED_SERIAL = 367
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)?"
_ISO = rf"^(\d{{4}})[-/](\d{{1,2}})[-/](\d{{1,2}}){_TIME}$"
_DMY_TEXT = rf"^(\d{{1,2}})([./-])(\d{{1,2}})[./-](\d{{4}}){_TIME}$"
_SERIAL = r"^\d{1,7}(?:\.\d+)?$"
_WORKBOOK_PART = "xl/workbook.xml"
_MAX_WORKBOOK_PART = 4 * 1024 * 1024
_DATE1904 = re.compile(rb"<(?:\w+:)?workbookPr\b[^>]*\bdate1904\s*=\s*[\"'](1|true)[\"']")


def _parts(text: pl.Series) -> pl.DataFrame:
    """The d/m/y text values split: first, separator, second, year (null where not d/m/y)."""
    fields = stripped_text(text).str.extract_groups(_DMY_TEXT)
    return fields.struct.unnest().rename({"1": "first", "2": "sep", "3": "second", "4": "year"})


def date_orders(text: pl.Series) -> tuple[str, ...]:
    """The day/month orders consistent with the column's d/m/y text values: ("dmy",) or
    ("mdy",) when decided, ("dmy", "mdy") when still ambiguous (ask the user), () when the
    column has no d/m/y text (only ISO, serials or missing) or when no order fits."""
    parts = _parts(text.drop_nulls().unique()).drop_nulls("first")
    if parts.height == 0:
        return ()
    first, second = parts["first"].cast(pl.Int64), parts["second"].cast(pl.Int64)
    day_first = bool((first > 12).any()) or bool((parts["sep"] == ".").any())
    month_first = bool((second > 12).any())
    if day_first and month_first:
        return ()
    if day_first:
        return ("dmy",)
    if month_first:
        return ("mdy",)
    return DATE_ORDERS


def looks_like_dates(text: pl.Series, serials: bool = False) -> bool:
    """Whether every non-missing value is shaped like a date (ISO or d/m/y text, with or
    without a time; with ``serials``, also Excel serial numbers from 367, 1901-01-01, to
    2958465), with at least one value. Shape only: 31.02.2019 is shaped like a date."""
    values = stripped_text(text).drop_nulls()
    if values.len() == 0:
        return False
    shaped = values.str.contains(_ISO) | values.str.contains(_DMY_TEXT)
    if serials:
        numbers = values.cast(pl.Float64, strict=False)
        shaped = shaped | (values.str.contains(_SERIAL) & (numbers >= MIN_DETECTED_SERIAL)
                           & (numbers <= MAX_SERIAL))
    return bool(shaped.all())


def _date_from(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """The date, null where year, month and day make no date (31 February)."""
    text = pl.format("{}-{}-{}", year.cast(pl.Int64).cast(pl.String).str.zfill(4),
                     month.cast(pl.Int64).cast(pl.String).str.zfill(2),
                     day.cast(pl.Int64).cast(pl.String).str.zfill(2))
    return text.str.to_date("%Y-%m-%d", strict=False)


def _serial_dates(values: pl.Series, date_system: int) -> pl.Series:
    """Excel serial numbers as dates (null where not a serial in range)."""
    whole = values.cast(pl.Float64, strict=False).floor()
    whole = whole.set(~values.str.contains(_SERIAL).fill_null(False), None)
    low = 1 if date_system == 1900 else 0
    frame = pl.DataFrame({"n": whole})
    days = pl.col("n")
    if date_system == 1900:  # serials 1-59 count the fictitious 1900-02-29 (serial 60) too
        days = pl.when(days < 60).then(days + 1).when(days > 60).then(days)
    usable = (pl.col("n") >= low) & (pl.col("n") <= MAX_SERIAL)
    offset = pl.when(usable).then(days).cast(pl.Int64)
    return frame.select(pl.lit(EXCEL_EPOCHS[date_system]) + pl.duration(days=offset)
                        ).to_series().cast(pl.Date)


def _iso_dates(values: pl.Series) -> pl.Series:
    groups = values.str.extract_groups(_ISO).struct.unnest()
    return groups.select(_date_from(pl.col("1"), pl.col("2"), pl.col("3"))).to_series()


def _dmy_dates(values: pl.Series, order: str | None) -> pl.Series:
    parts = _parts(values).with_columns(pl.col("first", "second", "year").cast(pl.Int64))
    day_first = (pl.col("sep") == ".") | pl.lit(order == "dmy")
    month_first = (pl.col("sep") != ".") & pl.lit(order == "mdy")
    return parts.select(
        pl.when(day_first).then(_date_from(pl.col("year"), pl.col("second"), pl.col("first")))
        .when(month_first).then(_date_from(pl.col("year"), pl.col("first"), pl.col("second")))
    ).to_series()


def _serial_column(values: pl.Series) -> bool:
    """Whether numbers in the column are Excel serials: no d/m/y text, and at least half the
    values serial numbers (so a stray '2019' among text dates is no date, not 1905-07-11)."""
    present = values.drop_nulls()
    if present.len() == 0 or present.str.contains(_DMY_TEXT).any():
        return False
    return bool(present.str.contains(_SERIAL).mean() >= 0.5)


def parse_dates(text: pl.Series, order: str | None = None, date_system: int = 1900
                ) -> pl.Series:
    """The column as ``Date``: ISO values (yyyy-mm-dd or yyyy/mm/dd, optional time), d/m/y
    text (dd.mm.yyyy always day first; '/' and '-' in ``order``, "dmy" or "mdy") and Excel
    serial numbers in ``date_system`` (1900 or 1904; a fraction, the time of day, is dropped)
    where the column is one of serials (``_serial_column``). Null where the text is missing,
    is no valid date (31.02.2019), or is d/m/y with '/' or '-' and ``order`` is None."""
    values = stripped_text(text)
    distinct = values.drop_nulls().unique()  # registries repeat dates: parse each once
    found = pl.DataFrame({"iso": _iso_dates(distinct), "dmy": _dmy_dates(distinct, order),
                          "serial": _serial_dates(distinct, date_system)})
    if not _serial_column(values):
        found = found.with_columns(serial=pl.lit(None, pl.Date))
    dates = found.select(value=distinct, date=pl.coalesce("iso", "dmy", "serial"))
    return (pl.DataFrame({"value": values})
            .join(dates, on="value", how="left", maintain_order="left")["date"]
            .alias(text.name))


def invalid_dates(text: pl.Series, parsed: pl.Series) -> pl.Series:
    """True where a value is present (not empty after stripping) but no date was parsed."""
    return (stripped_text(text).is_not_null() & parsed.is_null()).fill_null(False)


def workbook_date_system(data: bytes) -> int:
    """1904 when the .xlsx workbook says so (``<workbookPr date1904="1"/>`` in
    xl/workbook.xml), else 1900; 1900 for anything that is not a readable workbook. Reads at
    most a few MB of that one part (the file is untrusted)."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            info = archive.getinfo(_WORKBOOK_PART)
            if info.file_size > _MAX_WORKBOOK_PART:
                return 1900
            with archive.open(info) as part:
                head = part.read(_MAX_WORKBOOK_PART)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, NotImplementedError,
            EOFError, zipfile.LargeZipFile):
        return 1900
    return 1904 if _DATE1904.search(head) else 1900


def date_format_text(order: str | None) -> str:
    """How the column's d/m/y text dates are read, for messages."""
    return {"dmy": "dd.mm.yyyy or dd/mm/yyyy", "mdy": "mm/dd/yyyy"}.get(order, "dd.mm.yyyy")
