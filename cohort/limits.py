"""Limits on an uploaded file, and the checks made from a file's structure before it is parsed.

Standard library only: the reading child (``cohort.sandbox``) imports this module before it
sets its memory limit, and the server imports it to list a workbook's sheets. Every limit is
stated, with its reason, in README.md ("Limits on uploaded files").
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

MB = 1024 * 1024
_SHEET_XML_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_SMALL_MEMBER_BYTES = 8 * MB  # members below this are exempt from the compression-ratio bound
_WORKBOOK_XML_BYTES = 4 * MB  # workbook.xml and its relations: a list of sheets
_CHUNK_BYTES = 4 * MB


@dataclass(frozen=True)
class ReadLimits:
    """What an uploaded file may hold; past any of them it is refused with a problem naming it.

    Sizes in bytes, ``seconds`` of wall-clock time for parsing, ``memory_bytes`` for the
    parsing child process's data segment.
    """

    max_file_bytes: int = 50 * MB
    max_uncompressed_bytes: int = 500 * MB
    max_compression_ratio: float = 100.0
    max_zip_members: int = 1_000
    max_rows: int = 500_000
    max_columns: int = 1_000
    max_cells: int = 20_000_000
    max_cell_chars: int = 32_767
    memory_bytes: int = 3072 * MB
    seconds: float = 60.0


DEFAULT_LIMITS = ReadLimits()


class FileProblem(Exception):
    """A problem with the whole file or some of its rows; ``rows`` as a spreadsheet numbers
    them (header = row 1)."""

    def __init__(self, message: str, rows: tuple[int, ...] = (), column: str | None = None):
        super().__init__(message)
        self.message, self.rows, self.column = message, rows, column


class FileProblems(Exception):
    """Several ``FileProblem``s found together (every one is reported)."""

    def __init__(self, problems: list[FileProblem]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def size_text(n_bytes: float) -> str:
    """A byte count in words: '50 MB', '2 GB'."""
    if n_bytes >= 1024 * MB:
        return f"{n_bytes / (1024 * MB):g} GB"
    return f"{n_bytes / MB:.3g} MB" if n_bytes >= MB else f"{n_bytes / 1024:.3g} KB"


def check_file_size(data: bytes, limits: ReadLimits) -> None:
    """Raise if the file is larger than ``limits.max_file_bytes``."""
    if len(data) > limits.max_file_bytes:
        raise FileProblem(f"the file is {size_text(len(data))}, more than the limit of "
                          f"{size_text(limits.max_file_bytes)}")


def check_table_shape(rows: int, columns: int, limits: ReadLimits) -> None:
    """Raise if a table of ``rows`` data rows and ``columns`` columns is past a limit."""
    if rows > limits.max_rows:
        raise FileProblem(f"the file has {rows:,} rows, more than the limit of {limits.max_rows:,}")
    if columns > limits.max_columns:
        raise FileProblem(f"the file has {columns:,} columns, more than the limit of "
                          f"{limits.max_columns:,}")
    if rows * columns > limits.max_cells:
        raise FileProblem(f"the file has {rows * columns:,} cells ({rows:,} rows x {columns:,} "
                          f"columns), more than the limit of {limits.max_cells:,}")


# --------------------------------------------------------------------------- zip structure


def _zip_entry_count(data: bytes) -> int:
    """The member count the zip's end-of-central-directory record declares (65,535: zip64)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        raise FileProblem("the file is not a readable Excel workbook (.xlsx): damaged zip archive")
    return struct.unpack_from("<H", data, end + 10)[0]


def open_workbook(data: bytes, limits: ReadLimits) -> zipfile.ZipFile:
    """The workbook's zip archive, after checking its central directory: member count, the
    total declared uncompressed size and each large member's compression ratio."""
    if _zip_entry_count(data) > limits.max_zip_members:
        raise FileProblem(f"the workbook has more than {limits.max_zip_members:,} parts (zip members)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise FileProblem("the file is not a readable Excel workbook (.xlsx): damaged zip "
                          "archive") from error
    members = archive.infolist()
    declared = sum(info.file_size for info in members)
    if declared > limits.max_uncompressed_bytes:
        raise FileProblem(f"the workbook unpacks to {size_text(declared)}, more than the limit of "
                          f"{size_text(limits.max_uncompressed_bytes)}")
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _SMALL_MEMBER_BYTES and ratio > limits.max_compression_ratio:
            raise FileProblem(f"a part of the workbook is compressed {ratio:,.0f} to 1, more than "
                              f"the limit of {limits.max_compression_ratio:g} to 1")
    return archive


def member_chunks(archive: zipfile.ZipFile, name: str, budget: int) -> Iterator[bytes]:
    """The member's uncompressed bytes in chunks; raises if they exceed its declared size (a
    lying zip header) or ``budget`` bytes."""
    info = archive.getinfo(name)
    if info.file_size > budget:
        raise FileProblem(f"the workbook unpacks to more than the limit of {size_text(budget)}")
    probe = zipfile.ZipInfo(info.filename, info.date_time)
    for attribute in ("compress_type", "compress_size", "flag_bits", "header_offset", "extra",
                      "orig_filename"):
        setattr(probe, attribute, getattr(info, attribute))
    # one byte past the declared size, if there is one; no CRC (it cannot match a cut read)
    probe.file_size = info.file_size + 1
    seen = 0
    try:
        with archive.open(probe) as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                seen += len(chunk)
                if seen > info.file_size:
                    raise FileProblem("a part of the workbook holds more than its zip header "
                                      "declares (a damaged file or a zip bomb)")
                yield chunk
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise FileProblem("the file is not a readable Excel workbook (.xlsx): damaged zip "
                          "archive") from error


def _small_member(archive: zipfile.ZipFile, name: str) -> bytes:
    return b"".join(member_chunks(archive, name, _WORKBOOK_XML_BYTES))


def workbook_sheets(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> path of its XML in the archive, in the workbook's order."""
    try:
        workbook = ElementTree.fromstring(_small_member(archive, "xl/workbook.xml"))
        relations = ElementTree.fromstring(_small_member(archive, "xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError) as error:
        raise FileProblem("the file is not a readable Excel workbook (.xlsx): no list of "
                          "sheets") from error
    targets = {rel.get("Id"): rel.get("Target", "") for rel in relations.iter(f"{_PKG_REL_NS}Relationship")}
    sheets: dict[str, str] = {}
    for sheet in workbook.iter(f"{_SHEET_XML_NS}sheet"):
        target = targets.get(sheet.get(f"{_REL_NS}id"), "")
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        sheets[sheet.get("name", "")] = re.sub(r"[^/]+/\.\./", "", path)
    return sheets


# --------------------------------------------------------------------------- sheet XML


# 'r="' without a word boundary: a literal prefix is 3x faster to search, and whatever precedes
# the attribute (space, tab, newline), it is found; another attribute ending in r only adds refs
_COLUMN_REF = re.compile(rb'r="([A-Z]+)[0-9]')
_CELL_OPENINGS = (b"<c ", b"<c>", b"<c/", b"<c\t", b"<c\n", b"<c\r")
_UNSPACED_CELL = re.compile(rb"<c[>/\t\n\r]")
_ROW_REF = re.compile(rb'<row\b[^>]*?\br="([0-9]+)"')
_DIMENSION = re.compile(rb'<dimension\b[^>]*?\bref="(?:[A-Z]+[0-9]+:)?([A-Z]+)([0-9]+)"')


def column_number(letters: bytes) -> int:
    """1 for column A, 16,384 for XFD."""
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _text_bytes(limits: ReadLimits) -> int:
    """Bytes of XML text that surely hold more characters than a cell may (UTF-8: at most 4
    bytes per character)."""
    return 4 * limits.max_cell_chars + 64


class _SheetScan:
    """What a sheet's (or the shared strings') XML declares, fed in chunks: its last row and
    column, how many cell and row tags, and whether a text run is longer than a cell may be.

    Regular expressions over the bytes, not an XML parser (3-10x faster on a 100 MB sheet).
    Every column reference is read; of the cell references' rows, only those that may pass the
    row limit (more digits, or as many digits and a first digit as large), so a registry-sized
    sheet yields few matches.
    """

    def __init__(self, limits: ReadLimits):
        digits = str(limits.max_rows + 1)
        self._big_row = re.compile(rb'r="[A-Z]*([0-9]{%d,}|[%s-9][0-9]{%d})"'
                                   % (len(digits) + 1, digits[0].encode(), len(digits) - 1))
        self._long_text = re.compile(rb">[^<]{%d}" % _text_bytes(limits))
        self.last_row = self.last_column = self.cells = self.rows = self.longest_text = 0
        self.widest_row = self._row_cells = self._open_text = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        text = self._tail + chunk
        cut = text.rfind(b"<")
        # the last tag goes with the next chunk; of a tag padded past 4 kB, the last 64 bytes,
        # which hold any reference cut by the chunk's end
        self._tail = text[cut:] if cut >= 0 and len(text) - cut < 4096 else text[-64:]
        body = text[: len(text) - len(self._tail)]
        self.cells += body.count(b"<c")  # also <col>, <color>...: a few more, never fewer
        self._count_row_widths(body)
        columns = set(_COLUMN_REF.findall(body))
        rows = {int(r) for r in _ROW_REF.findall(body) + self._big_row.findall(body)}
        for column, row in _DIMENSION.findall(body):
            columns.add(column)
            rows.add(int(row))
        self.last_column = max([self.last_column, *map(column_number, columns)])
        self.last_row = max([self.last_row, *rows])
        self._measure_text(body)

    def _count_row_widths(self, body: bytes) -> None:
        """Rows, and the most cells in one row: a reader puts cells without a reference in the
        next column (and rows without one in the next row), so these bound the sheet too."""
        rows = body.split(b"<row")
        # per row, count only "<c " unless the chunk holds another spelling (3x faster)
        others = _UNSPACED_CELL.search(body) is not None
        count = _cells_in if others else _spaced_cells_in
        self._row_cells += count(rows[0])
        for row in rows[1:]:
            self.widest_row = max(self.widest_row, self._row_cells)
            self._row_cells = count(row)
        self.widest_row = max(self.widest_row, self._row_cells)
        self.rows += len(rows) - 1

    def _measure_text(self, body: bytes) -> None:
        first_tag = body.find(b"<")
        if first_tag < 0:
            self._open_text += len(body)
        else:
            self.longest_text = max(self.longest_text, self._open_text + first_tag)
            if match := self._long_text.search(body):
                self.longest_text = max(self.longest_text, len(match.group()) - 1)
            self._open_text = len(body) - body.rfind(b"<") - 1
        self.longest_text = max(self.longest_text, self._open_text)


def check_workbook(data: bytes, sheet: str | None, limits: ReadLimits) -> None:
    """Raise if the workbook (or the chosen sheet, default the first) is past a limit, from
    its zip directory and its streamed XML, before any spreadsheet reader touches it."""
    archive = open_workbook(data, limits)
    sheets = workbook_sheets(archive)
    if not sheets:
        raise FileProblem("the workbook has no sheets")
    if sheet is not None and sheet not in sheets:
        raise FileProblem(f"the workbook has no sheet named '{sheet}'")
    path = sheets[sheet] if sheet is not None else next(iter(sheets.values()))
    names = set(archive.namelist())
    if path not in names:
        raise FileProblem("the file is not a readable Excel workbook (.xlsx): a sheet is missing")
    budget = limits.max_uncompressed_bytes
    extent = _SheetScan(limits)
    for chunk in member_chunks(archive, path, budget):
        extent.feed(chunk)
    _check_extent(extent, limits)
    if "xl/sharedStrings.xml" in names:
        strings = _SheetScan(limits)
        for chunk in member_chunks(archive, "xl/sharedStrings.xml", budget):
            strings.feed(chunk)
        _check_text_run(strings.longest_text, limits)


def _cells_in(xml: bytes) -> int:
    """Opening cell tags (<c followed by a space, tab, line end, '>' or '/')."""
    return sum(xml.count(opening) for opening in _CELL_OPENINGS)


def _spaced_cells_in(xml: bytes) -> int:
    return xml.count(b"<c ")


def _check_extent(extent: _SheetScan, limits: ReadLimits) -> None:
    extent.last_column = max(extent.last_column, extent.widest_row)
    extent.last_row = max(extent.last_row, extent.rows)
    last_cell = f"{_column_letters(extent.last_column)}{extent.last_row}"
    if extent.last_row > limits.max_rows + 1:
        raise FileProblem(f"the sheet reaches row {extent.last_row:,} (cell {last_cell}), more "
                          f"than the limit of {limits.max_rows:,} rows")
    if extent.last_column > limits.max_columns:
        raise FileProblem(f"the sheet reaches column {_column_letters(extent.last_column)} (cell "
                          f"{last_cell}), more than the limit of {limits.max_columns:,} columns")
    spanned = extent.last_row * extent.last_column
    if max(spanned, extent.cells) > limits.max_cells:
        raise FileProblem(f"the sheet spans A1:{last_cell} ({max(spanned, extent.cells):,} cells), "
                          f"more than the limit of {limits.max_cells:,} cells")
    if extent.rows > limits.max_rows + 1:
        raise FileProblem(f"the sheet has {extent.rows:,} rows, more than the limit of "
                          f"{limits.max_rows:,}")
    _check_text_run(extent.longest_text, limits)


def _check_text_run(longest: int, limits: ReadLimits) -> None:
    if longest >= _text_bytes(limits):
        raise FileProblem(f"a cell holds more than {limits.max_cell_chars:,} characters, the limit "
                          f"(Excel's own)")


def _column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters or "A"
