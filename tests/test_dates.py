"""Date columns as registries export them (cohort.dates): each format, the day/month order
rule, impossible dates, Excel serials in both date systems, and the workbook's date system."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
import xlsxwriter

from cohort.dates import (
    date_orders,
    invalid_dates,
    looks_like_dates,
    parse_dates,
    workbook_date_system,
)
from cohort.io import read_table

D = dt.date(2019, 3, 4)


@pytest.mark.parametrize(("text", "order"), [
    ("2019-03-04", None), ("2019-03-04 00:00:00", None), ("2019-03-04 13:30", None),
    ("2019-03-04T13:30:00", None), ("2019/3/4", None), ("04.03.2019", None),
    ("4.3.2019", None), ("04.03.2019 10:15", None), ("04/03/2019", "dmy"),
    ("03/04/2019", "mdy"), ("04-03-2019", "dmy"), ("3/4/2019 1:30 PM", "mdy"),
    ("43528", None), ("43528.75", None), (" 2019-03-04 ", None),
])
def test_each_format_reads_as_the_day_it_writes(text: str, order: str | None):
    assert parse_dates(pl.Series([text]), order).to_list() == [D]


@pytest.mark.parametrize("text", ["31.02.2019", "29.02.2019", "00.01.2019", "13/13/2019",
                                  "2019-02-30", "soon", "04.03.19"])
def test_impossible_or_unreadable_dates_are_flagged(text: str):
    values = pl.Series([text, "04.03.2019"])
    parsed = parse_dates(values, "dmy")
    assert parsed.to_list() == [None, D]
    assert invalid_dates(values, parsed).to_list() == [True, False]


def test_leap_days_and_missing_cells():
    values = pl.Series(["29.02.2020", "", None, "  "])
    parsed = parse_dates(values)
    assert parsed.to_list() == [dt.date(2020, 2, 29), None, None, None]
    assert not invalid_dates(values, parsed).any()


@pytest.mark.parametrize(("values", "orders"), [
    (["01/02/2019", "03/04/2019"], ("dmy", "mdy")),
    (["01/02/2019", "13/04/2019"], ("dmy",)),
    (["01/02/2019", "04/13/2019"], ("mdy",)),
    (["13/02/2019", "04/13/2019"], ()),
    (["01.02.2019", "03/04/2019"], ("dmy",)),
    (["2019-01-02", "43528"], ()),
])
def test_the_day_month_order_is_settled_by_a_day_above_12(values, orders):
    assert date_orders(pl.Series(values)) == orders


def test_an_ambiguous_value_reads_as_nothing_without_an_order():
    assert parse_dates(pl.Series(["03/04/2019"])).to_list() == [None]


@pytest.mark.parametrize(("serial", "system", "day"), [
    ("1", 1900, dt.date(1900, 1, 1)), ("59", 1900, dt.date(1900, 2, 28)),
    ("60", 1900, None), ("61", 1900, dt.date(1900, 3, 1)), ("43528", 1900, D),
    ("0", 1904, dt.date(1904, 1, 1)), (str(43528 - 1462), 1904, D),
    ("2958465", 1900, dt.date(9999, 12, 31)), ("2958466", 1900, None),
])
def test_excel_serials_in_both_date_systems(serial: str, system: int, day):
    assert parse_dates(pl.Series([serial]), date_system=system).to_list() == [day]


def test_a_stray_number_among_text_dates_is_no_date():
    assert parse_dates(pl.Series(["04.03.2019", "2019x", "2019"]), "dmy").to_list() == [
        D, None, None]


def test_looks_like_dates_by_shape():
    assert looks_like_dates(pl.Series(["2019-03-04", "31.02.2019", None]))
    assert not looks_like_dates(pl.Series(["2019-03-04", "later"]))
    assert not looks_like_dates(pl.Series([None], dtype=pl.String))
    assert looks_like_dates(pl.Series(["43528", "43600"]), serials=True)
    assert not looks_like_dates(pl.Series(["43528"]))
    assert not looks_like_dates(pl.Series(["52", "61"]), serials=True)  # ages, not dates


def _workbook(system: int) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"date_1904": system == 1904})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["cell", "serial", "text"])
    sheet.write_datetime(1, 0, dt.datetime(2019, 3, 4), book.add_format({"num_format": "d.m.yy"}))
    sheet.write_number(1, 1, 43528 if system == 1900 else 43528 - 1462)
    sheet.write_string(1, 2, "04.03.2019")
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize("system", [1900, 1904])
def test_workbook_cells_read_as_their_dates_in_either_date_system(system: int):
    data = _workbook(system)
    assert workbook_date_system(data) == system
    table = read_table(data, "dates.xlsx")
    for column in table.columns:
        assert parse_dates(table[column], date_system=system).to_list() == [D], column


def test_date_system_of_anything_else_is_1900():
    assert workbook_date_system(b"patient_id\nA\n") == 1900
    assert workbook_date_system(b"PK\x03\x04broken") == 1900


def test_csv_iso_dates_round_trip():
    table = read_table(b"id,start\nA,2019-03-04\nB,2020-02-29\n", "dates.csv")
    assert parse_dates(table["start"]).to_list() == [D, dt.date(2020, 2, 29)]
