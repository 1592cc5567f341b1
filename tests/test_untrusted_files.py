"""Hostile and malformed uploads: each is refused with a problem naming the limit or the fault,
and none can take the server down. The hostile files are built here (never committed) and read
in a child Python with a memory cap, so that a reader that aborts or eats memory fails the test
instead of the test run."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import zipfile

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cohort.io import EVENT_CODINGS, CohortValidationError, ReadOptions, read_cohort, read_table
from tests.apptest import ROOT

GUARD_BYTES = 3 * 1024**3  # the test's own cap on the process that calls read_table
GUARD_SECONDS = 90
ZERO_ONE = next(k for k in EVENT_CODINGS if k.startswith("0/1"))
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_GUARD = f"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_DATA, ({GUARD_BYTES}, {GUARD_BYTES}))
from cohort.io import CohortValidationError, read_table
for line in sys.stdin.buffer:
    options = json.loads(line)
    data = sys.stdin.buffer.read(options["size"])
    kwargs = {{}}
    if options["limits"]:
        from cohort.limits import ReadLimits
        kwargs["limits"] = ReadLimits(**options["limits"])
    try:
        answer = {{"shape": list(read_table(data, "hostile", **kwargs).shape)}}
    except CohortValidationError as error:
        answer = {{"problems": [p.message for p in error.problems]}}
    print(json.dumps(answer), flush=True)
"""


class Guard:
    """A Python process capped at 3 GB that calls read_table on the files sent to it (one
    process for the module's tests, so the readers' children start warm); a test whose file
    kills or hangs it fails, and the next test gets a new one."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def read(self, data: bytes, limits: dict | None = None) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, "-c", _GUARD], cwd=ROOT,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        request = json.dumps({"size": len(data), "limits": limits or {}}).encode()
        self.process.stdin.write(request + b"\n" + data)
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], GUARD_SECONDS)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            self.stop()
            pytest.fail("the process reading the file died or hung")
        return json.loads(line)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


_guard = Guard()


@pytest.fixture(scope="module", autouse=True)
def _stop_guard():
    yield
    _guard.stop()


def read_guarded(data: bytes, limits: dict | None = None) -> dict:
    """read_table in the capped guard process: {"problems": [...]} or {"shape": [rows, cols]}."""
    return _guard.read(data, limits)


def only_problem(data: bytes, **kwargs) -> str:
    answer = read_guarded(data, **kwargs)
    assert "problems" in answer, f"read without a problem: {answer}"
    (message,) = answer["problems"]
    return message


# --------------------------------------------------------------------------- workbooks by hand


def workbook(rows_xml: str, strings: list[str] | None = None) -> bytes:
    """A minimal .xlsx: one sheet with ``rows_xml`` as its sheetData, optional shared strings."""
    parts = {
        "[Content_Types].xml":
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels":
            f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" Type="{_DOC_RELS}/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml":
            f'<workbook xmlns="{_NS}" xmlns:r="{_DOC_RELS}"><sheets><sheet name="patients" '
            'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels":
            f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" Type="{_DOC_RELS}/worksheet"'
            f' Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{_DOC_RELS}/'
            'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{_NS}"><sheetData>{rows_xml}</sheetData>'
                                    '</worksheet>',
        "xl/sharedStrings.xml": f'<sst xmlns="{_NS}">'
                                + "".join(f"<si><t>{s}</t></si>" for s in strings or [])
                                + "</sst>",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def row(number: int, *cells: str) -> str:
    """A sheet row of inline-string cells from column A."""
    refs = (f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
            for i, v in enumerate(cells))
    return f'<row r="{number}">{"".join(refs)}</row>'


HEADER = row(1, "patient_id", "os_months")


def test_a_cell_at_the_last_column_and_row_is_refused_before_it_is_parsed():
    benign = workbook(HEADER + row(2, "P1", "3.5") + row(3, "P2", "4"))
    assert pl.read_excel(io.BytesIO(benign)).shape == (2, 2)  # the reader reads the builder's
    assert read_guarded(benign) == {"shape": [2, 2]}
    data = workbook(HEADER + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    assert len(data) < 2000
    message = only_problem(data)
    assert "row 1,048,576" in message and "XFD1048576" in message and "limit" in message


def test_a_reference_in_a_padded_tag_across_a_read_chunk_is_found():
    chunk = 4 * 1024 * 1024  # cohort.limits reads zip members in chunks of this size
    empty_row = '<row r="2"></row>'
    filler = empty_row * ((chunk - 20_000) // len(empty_row))
    before_tag = len(f'<worksheet xmlns="{_NS}"><sheetData>{HEADER}{filler}<row r="3"><c ')
    padding = " " * (chunk - before_tag - len('r="XF'))  # 10-20 kB: a tag, not a long text
    message = only_problem(workbook(f'{HEADER}{filler}<row r="3"><c {padding}r="XFD1048576">'
                                    '<v>1</v></c></row>'))
    assert "XFD1048576" in message


def test_cells_without_references_count_as_the_columns_they_fill():
    wide = "<row>" + "<c><v>1</v></c>" * 2_000 + "</row>"  # columns A..BXX, one after another
    message = only_problem(workbook(HEADER + wide + '<row r="400000"><c r="A400000"><v>1</v></c>'
                                    '</row>'))
    assert message.startswith("the sheet reaches column BXX") and "1,000 columns" in message


def test_a_cell_at_cv1000000_is_refused_by_the_row_limit():
    message = only_problem(workbook(HEADER + '<row r="1000000"><c r="CV1000000"><v>1</v></c></row>'))
    assert "row 1,000,000" in message and "500,000 rows" in message


def test_a_300_mb_shared_string_is_refused():
    data = workbook(HEADER + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>', ["x" * 300_000_000])
    assert len(data) < 1_000_000
    message = only_problem(data)
    assert "compressed" in message and "limit" in message


def test_a_long_shared_string_that_compresses_normally_is_refused_by_the_cell_limit():
    text = "".join(f"{i:x}" for i in range(60_000))  # ~260 kB: real text, not a zip bomb
    message = only_problem(workbook(HEADER + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>', [text]))
    assert "32,767 characters" in message


def test_a_workbook_with_more_rows_than_the_limit_is_refused():
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(2, 500_004))
    message = only_problem(workbook(HEADER + rows))
    assert "500,000 rows" in message


def test_a_zip_member_larger_than_its_header_declares_is_refused():
    data = bytearray(workbook(HEADER + row(2, "P1", "3.5" + " " * 10_000)))
    name = b"xl/worksheets/sheet1.xml"
    for header, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(header, start)) >= 0:
            name_offset = 30 if header == b"PK\x03\x04" else 46
            if data[start + name_offset:start + name_offset + len(name)] == name:
                data[start + size_offset:start + size_offset + 4] = (200).to_bytes(4, "little")
            start += 4
    message = only_problem(bytes(data))
    assert "more than its zip header declares" in message


def test_a_damaged_zip_is_a_problem():
    data = workbook(HEADER + row(2, "P1", "3.5"))
    message = only_problem(data[:-30])
    assert "not a readable Excel workbook" in message


def test_a_csv_with_more_rows_than_the_limit_is_refused():
    message = only_problem(b"patient_id\n" + b"a\n" * 600_000)
    assert "600,000 rows" in message and "500,000" in message


def test_a_parquet_file_over_the_row_limit_is_refused_from_its_footer():
    buffer = io.BytesIO()
    pq.write_table(pa.table({"patient_id": pa.array(["a"] * 600_000)}), buffer)
    assert len(buffer.getvalue()) < 100_000
    assert "600,000 rows" in only_problem(buffer.getvalue())


def test_a_reader_that_runs_out_of_memory_is_a_problem_and_the_server_survives():
    # limits raised so that no check refuses the file: fastexcel asks for ~3.2 GB and aborts
    # in the child (SIGABRT), capped at 1 GB; the calling process gets a problem
    huge = {"max_rows": 10**7, "max_columns": 20_000, "max_cells": 10**12,
            "memory_bytes": 1024**3}
    message = only_problem(workbook(HEADER + '<row r="1000000"><c r="CV1000000"><v>1</v></c></row>'),
                           limits=huge)
    assert message == "reading the file needs more than 1 GB of memory, the limit"


def test_a_benign_file_past_a_tiny_memory_cap_is_a_memory_problem():
    text = "patient_id,os_months,note\n" + "".join(f"P{i},{i % 97},{'n' * 40}\n"
                                                 for i in range(450_000))
    assert read_guarded(text.encode())["shape"] == [450_000, 3]
    message = only_problem(text.encode(), limits={"memory_bytes": 150 * 1024**2, "seconds": 20})
    assert message == "reading the file needs more than 150 MB of memory, the limit"


def test_a_parse_past_the_time_limit_is_a_problem():
    message = only_problem(b"patient_id\nA\n", limits={"seconds": 0.001})
    assert message == "reading the file took longer than 0.001 s, the limit"


def test_the_reading_child_gets_none_of_the_servers_secrets(monkeypatch):
    from cohort import sandbox  # here: the module's other tests run on code without it

    monkeypatch.setenv("OIDC_CLIENT_SECRET", "s3cret")
    environment = sandbox.child_environment()
    assert "OIDC_CLIENT_SECRET" not in environment and environment["PATH"] == os.environ["PATH"]


def test_a_file_over_the_byte_limit_is_refused_unread():
    with pytest.raises(CohortValidationError) as caught:
        read_table(b"patient_id\n" + b"A\n" * (26 * 1024**2), "big.csv")
    assert caught.value.problems[0].message == "the file is 52 MB, more than the limit of 50 MB"


# --------------------------------------------------------------------------- malformed values


def problems(data: bytes, mapping: dict | None = None, **kwargs) -> list[str]:
    with pytest.raises(CohortValidationError) as caught:
        read_cohort(data, "p.csv", ReadOptions(mapping or {}, "months", {"os_event": ZERO_ONE}),
                    **kwargs)
    return [str(p) for p in caught.value.problems]


def test_infinite_numbers_are_a_problem_naming_column_and_rows():
    data = b"patient_id,os_months,os_event,score\nA,inf,1,1\nB,5,0,-inf\nC,1e999,1,2\nD,NaN,0,nan\n"
    assert problems(data) == ["p.csv, column 'os_months': not a finite number (rows 2, 4)",
                              "p.csv, column 'score': not a finite number (row 3)"]


def test_nan_is_missing_as_csv_nan():
    data = b"patient_id,os_months,os_event,score\nA,nan,1,1.5\nB,5,0,NaN\n"
    cohort = read_cohort(data, "p.csv", ReadOptions({}, "months", {"os_event": ZERO_ONE}))
    assert cohort.patients["os_months"].to_list() == [None, 5.0]
    assert cohort.patients["score"].to_list() == [1.5, None]


def test_duplicate_column_names_in_csv_are_a_problem_with_positions():
    assert problems(b"patient_id,age,os_months,age\nA,1,2,3\n") == [
        "p.csv, file: the header names 2 columns 'age' (columns 2, 4); each column needs its "
        "own name"]


def test_duplicate_column_names_in_a_workbook_are_a_problem():
    data = workbook(row(1, "patient_id", "age", "age") + row(2, "A", "1", "2"))
    assert problems(data) == ["p.csv, file: the header names 2 columns 'age' (columns 2, 3); "
                              "each column needs its own name"]


def test_duplicate_column_names_in_parquet_are_a_problem():
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_arrays([pa.array(["A"]), pa.array(["1"]), pa.array(["2"])],
                                        names=["patient_id", "age", "age"]), buffer)
    assert problems(buffer.getvalue()) == ["p.csv, file: the header names 2 columns 'age' "
                                           "(columns 2, 3); each column needs its own name"]


def test_rows_in_another_encoding_than_utf8_are_named():
    data = ("patient_id,histology\nA,Ösophagus\nB,lung\n".encode()
            + "C,Ösophagus\n".encode("latin-1") + "D,Ösophagus\n".encode())
    (problem,) = problems(data)
    assert problem.startswith("p.csv, file: these rows are not UTF-8 while other rows are")
    assert problem.endswith("(row 4)")
    latin1 = "patient_id,histology\nA,Ösophagus\nB,Ösophagus\n".encode("latin-1")
    assert read_table(latin1, "l.csv")["histology"].to_list() == ["Ösophagus", "Ösophagus"]


def test_utf16_unicode_text_with_a_byte_order_mark_is_read():
    text = "patient_id\tos_months\tos_event\thistology\r\nA\t1,5\t1\tÖsophagus\r\nB\t2\t0\tlung\r\n"
    cohort = read_cohort(text.encode("utf-16"), "unicode.txt",
                         ReadOptions({}, "months", {"os_event": ZERO_ONE}))
    assert cohort.patients["os_months"].to_list() == [1.5, 2.0]
    assert cohort.patients["histology"].to_list() == ["Ösophagus", "lung"]


def test_utf16_without_a_byte_order_mark_is_a_clear_problem():
    (problem,) = problems("patient_id,os_months\nA,1\n".encode("utf-16-le"))
    assert "UTF-16 without a byte-order mark" in problem


def test_control_characters_in_text_are_a_problem_naming_column_and_rows():
    data = b"patient_id,os_months,os_event,note\nA\x00,1,1,ok\nB,2,0,bell\x07\nC,3,1,tab\tok\n"
    assert problems(data) == [
        "p.csv, column 'patient_id': holds a control character (such as NUL) that no text "
        "should contain (row 2)",
        "p.csv, column 'note': holds a control character (such as NUL) that no text should "
        "contain (row 3)"]


def test_a_cell_longer_than_excel_allows_is_a_problem():
    data = b"patient_id,os_months,os_event,note\nA,1,1,ok\nB,2,0," + b"x" * 40_000 + b"\n"
    assert problems(data) == ["p.csv, column 'note': longer than 32,767 characters, the limit "
                              "(row 3)"]

