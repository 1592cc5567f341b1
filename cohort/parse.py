"""Parsing an untrusted file into text columns, within ``ReadLimits``: runs in the reading child.

``cohort.sandbox`` imports this module only after it has set the child's memory limit, so a
reader's native abort or a failed allocation ends the child, never the server. Each format is
checked from its structure before its reader allocates anything (workbook: zip directory and
sheet XML; CSV: size, lines, header; Parquet: footer metadata), then parsed with every column
as text, then each cell is checked (length, control characters).
"""

from __future__ import annotations

import csv
import io
import re

import polars as pl

from cohort.limits import (
    FileProblem,
    FileProblems,
    ReadLimits,
    check_table_shape,
    check_workbook,
    size_text,
)

_UNNAMED = re.compile(r"^\s*$|^_duplicated_\d+$|^__UNNAMED__\d+$")
_CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
_DECIMAL_COMMA = r"^\s*-?\d+,\d+\s*$"
_SEPARATORS = (",", ";", "\t")  # ties go to the first: a comma


def parse_table(data: bytes, decimal: str | None, sheet: str | None, limits: ReadLimits
                ) -> pl.DataFrame:
    """The file's table, every column as text (lists joined by ';'); raises ``FileProblem`` or
    ``FileProblems``. Format from the content: Parquet 'PAR1', xlsx zip 'PK', else CSV."""
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise FileProblem("the file is an old Excel workbook (.xls) or another Office file: save "
                          "it as .xlsx or CSV UTF-8")
    if data[:4] == b"PAR1":
        table = _read_parquet(data, limits)
    elif data[:4] == b"PK\x03\x04":
        table = _read_excel(data, sheet, limits)
    else:
        table = _read_csv(data, decimal, limits)
    table = _without_unnamed_empty_columns(table)
    _check_named(table.columns)
    check_table_shape(table.height, table.width, limits)
    return table


def cell_problems(table: pl.DataFrame, limits: ReadLimits) -> list[FileProblem]:
    """Cells longer than the limit and text holding control characters (NUL etc.), by column
    and spreadsheet row."""
    problems = [FileProblem("a column name holds a control character (such as NUL)", (),
                            name.encode("unicode_escape").decode())
                for name in table.columns if re.search(_CONTROL, name)]
    for column in table.columns:
        values = table[column]
        too_long = values.str.len_chars() > limits.max_cell_chars
        if too_long.any():
            problems.append(FileProblem(f"longer than {limits.max_cell_chars:,} characters, the "
                                        f"limit", _rows(too_long), column))
        control = values.str.contains(_CONTROL)
        if control.any():
            problems.append(FileProblem("holds a control character (such as NUL) that no text "
                                        "should contain", _rows(control), column))
    return problems


def _rows(mask: pl.Series) -> tuple[int, ...]:
    return tuple(int(i) + 2 for i in mask.fill_null(False).arg_true().to_list())


def _without_unnamed_empty_columns(table: pl.DataFrame) -> pl.DataFrame:
    """The table without the nameless, empty columns that trailing separators or stray cells
    leave behind."""
    return table.select(c for c in table.columns
                        if not (_UNNAMED.match(c) and table[c].null_count() == table.height))


def _check_named(names: list[str]) -> None:
    """Raise naming the positions of columns that hold values but have no name in the header."""
    nameless = [str(i) for i, name in enumerate(names, start=1) if _UNNAMED.match(name)]
    if nameless:
        where = (f"column {nameless[0]} holds values but has" if len(nameless) == 1 else
                 f"columns {', '.join(nameless)} hold values but have")
        raise FileProblem(f"{where} no name in the header: name or delete them")


def _check_unique_names(names: list[str]) -> None:
    """Raise naming each column name the header holds more than once, with its positions."""
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(names, start=1):
        if not _UNNAMED.match(name):
            positions.setdefault(name, []).append(index)
    problems = [FileProblem(f"the header names {len(where)} columns '{name}' (columns "
                            f"{', '.join(map(str, where))}); each column needs its own name")
                for name, where in positions.items() if len(where) > 1]
    if problems:
        raise FileProblems(problems)


# --------------------------------------------------------------------------- Parquet


def _read_parquet(data: bytes, limits: ReadLimits) -> pl.DataFrame:
    """Parquet via pyarrow (polars' own reader can panic on damaged files), as text columns,
    after checking the footer's row, column and uncompressed byte counts."""
    import pyarrow as pa  # here, not at the top: CSV and Excel reads start faster without it
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
    except (OSError, ValueError, pa.ArrowException) as error:
        raise FileProblem(f"the file cannot be read as Parquet: {_first_line(error)}") from None
    metadata = parquet.metadata
    names = parquet.schema_arrow.names
    _check_unique_names(names)
    check_table_shape(metadata.num_rows, len(names), limits)
    unpacked = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if unpacked > limits.max_uncompressed_bytes:
        raise FileProblem(f"the file's data unpacks to {size_text(unpacked)}, more than the "
                          f"limit of {size_text(limits.max_uncompressed_bytes)}")
    table = pl.from_arrow(parquet.read())
    return table.with_columns(
        pl.col(c).list.eval(pl.element().cast(pl.String)).list.join(";")
        if isinstance(dtype, pl.List)
        else pl.col(c).cast(pl.String)
        for c, dtype in table.schema.items()
    )


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0][:200] if text else type(error).__name__


# --------------------------------------------------------------------------- Excel


def _read_excel(data: bytes, sheet: str | None, limits: ReadLimits) -> pl.DataFrame:
    """The sheet (default: the first) with its first row as the header, read by us so that
    duplicate names are reported, not renamed."""
    check_workbook(data, sheet, limits)
    cells = pl.read_excel(io.BytesIO(data), sheet_name=sheet, infer_schema_length=0,
                          drop_empty_rows=False, read_options={"header_row": None})
    if cells.height == 0:
        return pl.DataFrame()
    names = [value if value is not None and value.strip() else f"__UNNAMED__{i}"
             for i, value in enumerate(cells.row(0))]
    _check_unique_names(names)
    return cells.slice(1).rename(dict(zip(cells.columns, names, strict=True)))


# --------------------------------------------------------------------------- CSV


def decode_text(data: bytes) -> str:
    """The file's text: UTF-16 with a byte-order mark, else UTF-8, else Latin-1; raises on
    UTF-16 without a byte-order mark and on files mixing UTF-8 and another encoding."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileProblem("the file starts as UTF-16 text but is not valid UTF-16") from None
    sample = data[:65_536]
    if sample.count(b"\x00") > len(sample) // 10:
        raise FileProblem("the file is not text (many NUL bytes): UTF-16 without a byte-order "
                          "mark, or a binary file. Save it as CSV UTF-8, or as Unicode text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    not_utf8, utf8_elsewhere = [], False
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_elsewhere = True
        except UnicodeDecodeError:
            not_utf8.append(number)
    if utf8_elsewhere:
        raise FileProblem("these rows are not UTF-8 while other rows are: the file mixes two "
                          "text encodings; save it again as CSV UTF-8", tuple(not_utf8))
    return data.decode("latin-1")


def _read_csv(data: bytes, decimal: str | None, limits: ReadLimits) -> pl.DataFrame:
    text = decode_text(data).replace("\r\n", "\n")
    header = text.split("\n", 1)[0]
    separator = max(_SEPARATORS, key=header.count)
    names = next(csv.reader([header], delimiter=separator), [])
    lines = text.count("\n") - (1 if text.endswith("\n") else 0)
    check_table_shape(lines, len(names), limits)
    _check_unique_names(names)
    _check_field_counts(text, separator)
    table = pl.read_csv(
        io.StringIO(text), separator=separator, infer_schema=False, null_values=["", "NA", "NaN"]
    )
    if decimal is None:
        decimal = "," if separator != "," and _has_decimal_commas(table) else "."
    if decimal == ",":
        table = table.with_columns(
            pl.when(pl.col(c).str.contains(_DECIMAL_COMMA))
            .then(pl.col(c).str.replace(",", ".", literal=True))
            .otherwise(pl.col(c))
            .alias(c)
            for c in table.columns
        )
    return table


def _check_field_counts(text: str, separator: str) -> None:
    """Raise naming the rows (as a spreadsheet numbers them: header = row 1, empty lines
    counted) whose number of fields differs from the header's."""
    rows = csv.reader(io.StringIO(text), delimiter=separator)
    width = len(next(rows, []))
    bad = tuple(i for i, row in enumerate(rows, start=2) if row and len(row) != width)
    if bad:
        message = (f"a different number of fields than the header ({width}); a value "
                   f"containing '{separator}' must be quoted")
        raise FileProblem(message.replace("'\t'", "a tab"), bad)


def _has_decimal_commas(table: pl.DataFrame) -> bool:
    return any(table[c].str.contains(_DECIMAL_COMMA).any() for c in table.columns)
