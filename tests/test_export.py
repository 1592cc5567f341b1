"""cohort.export: CSV downloads never carry a spreadsheet formula."""

from __future__ import annotations

import io

import openpyxl
import polars as pl
import pytest

from cohort.export import neutralise, safe_csv, safe_frame, safe_xlsx


@pytest.mark.parametrize("text", ["=1+1", "+41", "-2+3", "@SUM(A1)", "=HYPERLINK(\"x\")",
                                  "\t=1", "\r=1"])
def test_formula_like_text_is_prefixed(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["fatigue", "", "1=1", "grade 3+", "a-b", None])
def test_plain_text_is_unchanged(text):
    assert neutralise(text) == text


def test_csv_round_trip():
    frame = pl.DataFrame({
        "term": ["=cmd|' /C calc'!A0", "nausea", None, "@x"],
        "n": [-1, 2, 3, 4],
        "pct": [-0.5, 1.0, None, 2.5],
        "sites": [["=a", "lung"], ["liver"], None, []],
    })
    got = pl.read_csv(io.BytesIO(safe_csv(frame)))
    assert got["term"].to_list() == ["'=cmd|' /C calc'!A0", "nausea", None, "'@x"]
    assert got["n"].to_list() == [-1, 2, 3, 4]  # numbers stay numbers, negative or not
    assert got["pct"].to_list() == [-0.5, 1.0, None, 2.5]
    assert got["sites"].to_list() == ["'=a; lung", "liver", None, ""]


def test_headers_are_neutralised_and_order_kept():
    frame = pl.DataFrame({"=bad": ["a"], "ok": ["-b"]})
    assert safe_frame(frame).columns == ["'=bad", "ok"]
    assert safe_csv(frame).decode().splitlines() == ["'=bad,ok", "a,'-b"]


def test_categorical_and_enum_columns():
    frame = pl.DataFrame({"c": ["+x", "y"]}, schema={"c": pl.Categorical})
    frame = frame.with_columns(pl.Series("e", ["-z", "w"], dtype=pl.Enum(["-z", "w"])))
    assert safe_frame(frame).rows() == [("'+x", "'-z"), ("y", "w")]


def test_numbers_that_could_not_be_computed_do_not_stop_a_download():
    """A Cox level without events has an infinite HR: the files are still written, NaN blank."""
    frame = pl.DataFrame({"hr": [1.5, float("inf"), float("nan")], "level": ["a", "b", "c"]})
    assert safe_csv(frame).decode().splitlines() == ["hr,level", "1.5,a", "inf,b", ",c"]
    book = openpyxl.load_workbook(io.BytesIO(safe_xlsx(frame)))
    assert [c.value for c in book.active["A"]] == ["hr", 1.5, "=1/0", None]  # shows #DIV/0!
