"""Tables for download: CSV that a spreadsheet opens as data, never as formulas."""

from __future__ import annotations

import io

import polars as pl
import xlsxwriter

#: First characters that make Excel, LibreOffice or Sheets read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str | None) -> str | None:
    """``value`` with a leading single quote when it starts like a formula (OWASP CSV injection)."""
    if value is not None and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell and header neutralised; list columns joined with "; ";
    NaN (a value that could not be computed) missing, so it reads as a blank cell.

    Numbers stay numbers: a negative number is data, not a formula, in a numeric column.
    """
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            exprs.append(col.fill_nan(None))
            continue
        if isinstance(dtype, pl.List):
            col = col.cast(pl.List(pl.String)).list.join("; ")
        elif dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            col = col.cast(pl.String)
        else:
            exprs.append(col)
            continue
        starts = col.str.starts_with
        risky = pl.any_horizontal(*(starts(c) for c in FORMULA_STARTS))
        exprs.append(pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name))
    out = frame.select(exprs)
    return out.rename({c: neutralise(c) or c for c in out.columns})


def safe_csv(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV bytes of ``frame`` with formula-like text cells neutralised (see ``safe_frame``)."""
    return safe_frame(frame).write_csv().encode("utf-8")


#: Every text cell stays text: never turned into a hyperlink (http://, mailto:, external:), a
#: formula or a number by the writer.
#: An infinite number (a hazard ratio of a level without events) is written as Excel's error
#: value (xlsxwriter's '=1/0', shown as #DIV/0!) rather than refused.
TEXT_ONLY_WORKBOOK = {"strings_to_urls": False, "strings_to_formulas": False,
                      "strings_to_numbers": False, "nan_inf_to_errors": True}


def text_only_workbook(buffer: io.BytesIO) -> xlsxwriter.Workbook:
    """An xlsxwriter workbook writing into ``buffer`` that keeps every string a plain string."""
    return xlsxwriter.Workbook(buffer, TEXT_ONLY_WORKBOOK)


def safe_xlsx(frame: pl.DataFrame, sheet: str = "table") -> bytes:
    """An .xlsx workbook of ``frame`` (one sheet) with formula-like text cells neutralised and
    no cell turned into a live hyperlink."""
    buffer = io.BytesIO()
    with text_only_workbook(buffer) as workbook:
        safe_frame(frame).write_excel(workbook, worksheet=sheet[:31], autofit=True)
    return buffer.getvalue()
