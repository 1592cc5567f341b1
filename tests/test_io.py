"""Reading and validating a clinician's own files: one test per class of bad input."""

from __future__ import annotations

import io

import polars as pl
import pytest
import xlsxwriter

from cohort.io import (
    EVENT_CODINGS,
    CohortValidationError,
    ReadOptions,
    excel_sheets,
    read_cohort,
    read_table,
    suggest_mapping,
    write_table,
)
from cohort.templates import template_csv, template_xlsx

ZERO_ONE = next(k for k in EVENT_CODINGS if k.startswith("0/1"))
R_STYLE = next(k for k in EVENT_CODINGS if k.startswith("1/2"))

GOOD = (
    "patient_id,age_years,sex,treated_sites,rt_total_dose_gy,rt_fractions,os_months,os_event\n"
    "A1,60,female,lung;liver,50,5,12.5,1\n"
    "A2,71,male,bone,30,10,20.0,0\n"
    "A3,55,male,,,,8.25,1\n"
)
CANONICAL = {c: c for c in GOOD.splitlines()[0].split(",")}


def options(**overrides) -> ReadOptions:
    base = {"mapping": CANONICAL, "time_unit": "months", "event_codings": {"os_event": ZERO_ONE}}
    return ReadOptions(**{**base, **overrides})


def problems_of(data: str | bytes, name: str = "patients.csv", **kwargs) -> list:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(CohortValidationError) as caught:
        read_cohort(raw, name, kwargs.pop("opts", options()), **kwargs)
    return caught.value.problems


def test_good_file_loads_with_derived_dose():
    cohort = read_cohort(GOOD.encode(), "patients.csv", options())
    patients = cohort.patients
    assert patients.height == 3
    assert patients["treated_sites"].to_list()[0] == ["lung", "liver"]
    assert patients["bed10_gy"].to_list()[0] == pytest.approx(100.0)
    assert patients["os_event"].dtype == pl.Int64


def test_unreadable_file_names_the_file():
    (problem,) = problems_of(b"PAR1\x00\x01garbage that is not parquet", "broken.parquet")
    assert problem.file == "broken.parquet" and "cannot be read" in problem.message


@pytest.mark.parametrize("offset", [8, 40, 200, -40, -12])
def test_damaged_parquet_is_a_problem_not_a_crash(offset):
    frame = pl.DataFrame({"patient_id": [f"P{i}" for i in range(300)], "x": list(range(300))})
    data = bytearray(write_table(frame, "parquet"))
    for i in range(16):
        data[offset + i] ^= 0xFF
    try:
        table = read_table(bytes(data), "damaged.parquet")
    except CohortValidationError as error:
        assert error.problems[0].file == "damaged.parquet"
    else:
        assert isinstance(table, pl.DataFrame)


def test_missing_required_column():
    data = GOOD.replace("patient_id", "pid")
    mapping = {**CANONICAL, "pid": None}
    mapping.pop("patient_id")
    problems = problems_of(data, opts=options(mapping=mapping))
    assert [(p.column, p.rows) for p in problems] == [("patient_id", ())]
    assert "missing" in problems[0].message


def test_bad_event_code_names_column_and_rows():
    data = GOOD.replace("12.5,1", "12.5,7").replace("8.25,1", "8.25,dead")
    (problem,) = problems_of(data)
    assert problem.column == "os_event" and problem.rows == (2, 4)
    assert "(rows 2, 4)" in str(problem)


def test_event_coding_must_be_stated():
    (problem,) = problems_of(GOOD, opts=options(event_codings={}))
    assert problem.column == "os_event" and "state how events are coded" in problem.message


def test_r_style_event_coding_is_converted():
    data = GOOD.replace("12.5,1", "12.5,2").replace("20.0,0", "20.0,1").replace("8.25,1", "8.25,2")
    cohort = read_cohort(data.encode(), "r.csv", options(event_codings={"os_event": R_STYLE}))
    assert cohort.patients["os_event"].to_list() == [1, 0, 1]


def test_negative_and_non_numeric_time():
    data = GOOD.replace("12.5,1", "-3,1").replace("8.25,1", "soon,1")
    problems = problems_of(data)
    assert {(p.column, p.rows, p.message) for p in problems} == {
        ("os_months", (2,), "negative time"),
        ("os_months", (4,), "not a number"),
    }


def test_duplicate_patient_id():
    (problem,) = problems_of(GOOD.replace("A3,", "A1,"))
    assert problem.column == "patient_id" and problem.rows == (2, 4)
    assert "duplicate" in problem.message


def test_empty_file():
    (problem,) = problems_of(b"")
    assert "empty" in problem.message
    (problem,) = problems_of(GOOD.splitlines()[0] + "\n")
    assert "no data rows" in problem.message


TOX_HEADER = "patient_id,term,grade,phase\n"


def test_toxicity_grade_outside_range():
    tox = TOX_HEADER + "A1,Fatigue,2,acute\nA2,Nausea,6,acute\nA3,Pneumonitis,0,late\n"
    (problem,) = problems_of(GOOD, toxicities=tox.encode(), toxicities_name="tox.csv")
    assert (problem.file, problem.column, problem.rows) == ("tox.csv", "grade", (3, 4))


def test_toxicity_for_unknown_patient():
    tox = TOX_HEADER + "A1,Fatigue,2,acute\nZ9,Nausea,1,acute\n"
    (problem,) = problems_of(GOOD, toxicities=tox.encode(), toxicities_name="tox.csv")
    assert (problem.column, problem.rows) == ("patient_id", (3,))
    assert "not in the patients table" in problem.message


def test_problems_in_both_files_are_all_listed():
    tox = TOX_HEADER + "A1,Fatigue,9,acute\n"
    problems = problems_of(GOOD.replace("A3,", "A1,"), toxicities=tox.encode())
    assert {p.column for p in problems} == {"patient_id", "grade"}


def test_mapped_column_is_named_as_in_the_file():
    data = GOOD.replace("os_months", "Survival")
    mapping = {**CANONICAL, "Survival": "os_months"}
    mapping.pop("os_months")
    data = data.replace("12.5,1", "-1,1")
    (problem,) = problems_of(data, opts=options(mapping=mapping))
    assert "'Survival' -> 'os_months'" in str(problem)


def test_semicolon_latin1_decimal_comma_and_days():
    text = "Patient;Alter;Überleben;Status\nM1;61,5;365,25;1\nM2;70;30;0\n"
    data = text.encode("latin-1")
    table = read_table(data, "registry.csv")
    assert table.columns == ["Patient", "Alter", "Überleben", "Status"]
    mapping = {"Patient": "patient_id", "Alter": "age_years", "Überleben": "os_months",
               "Status": "os_event"}
    cohort = read_cohort(data, "registry.csv", ReadOptions(mapping, "days", {"os_event": ZERO_ONE}))
    assert cohort.patients["age_years"].to_list() == [61.5, 70.0]
    assert cohort.patients["os_months"][0] == pytest.approx(12.0)


def test_suggested_mapping_from_names():
    mapping = suggest_mapping(["ID", "Age", "gender", "Total Dose", "fx", "OS", "status", "x"])
    assert mapping == {"ID": "patient_id", "Age": "age_years", "gender": "sex",
                       "Total Dose": "rt_total_dose_gy", "fx": "rt_fractions",
                       "OS": "os_months", "status": "os_event", "x": None}


def test_round_trip_csv_parquet_excel():
    original = read_cohort(GOOD.encode(), "patients.csv", options()).patients
    frame = original
    for file_format in ("csv", "parquet", "xlsx"):
        data = write_table(frame.drop("dose_per_fraction_gy", "bed10_gy", "eqd2_gy"), file_format)
        frame = read_cohort(data, f"p.{file_format}", options()).patients
    assert frame.equals(original)


def test_templates_load_as_they_are():
    opts = options(mapping={}, event_codings={e: ZERO_ONE for e in
                                              ("os_event", "pfs_event", "lc_event", "ttnt_event")})
    from_csv = read_cohort(template_csv("patients"), "t.csv", opts,
                           template_csv("toxicities"), "tox.csv")
    from_xlsx = read_cohort(template_xlsx(), "t.xlsx", opts)
    assert from_csv.patients.height == from_xlsx.patients.height == 3
    assert from_csv.patients.equals(from_xlsx.patients)
    assert from_csv.toxicities.height == 3
    sheets = pl.read_excel(io.BytesIO(template_xlsx()), sheet_id=0)
    assert set(sheets) == {"patients", "toxicities", "dictionary"}


def test_both_tables_from_sheets_of_one_workbook():
    opts = options(mapping={}, event_codings={e: ZERO_ONE for e in
                                              ("os_event", "pfs_event", "lc_event", "ttnt_event")})
    workbook = template_xlsx()
    assert excel_sheets(workbook) == ["patients", "toxicities", "dictionary"]
    assert excel_sheets(GOOD.encode()) == []
    cohort = read_cohort(workbook, "t.xlsx", opts, workbook, "t.xlsx",
                         patients_sheet="patients", toxicities_sheet="toxicities")
    expected = read_cohort(template_csv("patients"), "t.csv", opts,
                           template_csv("toxicities"), "tox.csv")
    assert cohort.patients.equals(expected.patients)
    assert cohort.toxicities.equals(expected.toxicities)
    assert "t.xlsx, sheet 'toxicities'" in cohort.provenance


def test_a_problem_in_a_sheet_names_the_file_and_the_sheet():
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as workbook:
        pl.read_csv(GOOD.encode(), infer_schema_length=0).write_excel(workbook, worksheet="cohort")
        pl.DataFrame({"patient_id": ["A1", "ZZ"], "term": ["fatigue", "nausea"],
                      "grade": ["2", "7"]}).write_excel(workbook, worksheet="tox")
    data = buffer.getvalue()
    problems = problems_of(data, "registry.xlsx", toxicities=data, toxicities_name="registry.xlsx",
                           patients_sheet="cohort", toxicities_sheet="tox")
    assert {p.file for p in problems} == {"registry.xlsx, sheet 'tox'"}
    assert {p.column for p in problems} == {"grade", "patient_id"}
    assert all(p.rows == (3,) for p in problems)
    missing = problems_of(data, "registry.xlsx", patients_sheet="missing")
    assert missing[0].file == "registry.xlsx, sheet 'missing'"


def test_numeric_patient_ids_stay_text_and_match_the_toxicities():
    patients = b"patient_id,os_months,os_event\n001,5,1\n2,7,0\n10,9,1\n"
    toxicities = b"patient_id,term,grade\n001,fatigue,2\n10 ,nausea,1\n"
    cohort = read_cohort(patients, "p.csv", options(mapping={}), toxicities, "t.csv")
    assert cohort.patients["patient_id"].to_list() == ["001", "2", "10"]
    assert cohort.toxicities["patient_id"].to_list() == ["001", "10"]
    as_text = read_cohort(b"patient_id,os_months,os_event\n1,5,1\n1.0,7,0\n", "p.csv",
                          options(mapping={}))
    assert as_text.patients["patient_id"].to_list() == ["1", "1.0"]  # two ids, as written


def test_empty_lines_and_trailing_separators_are_ignored_but_rows_keep_their_numbers():
    data = ("patient_id;os_months;os_event;;\r\nA;5,5;1;;\r\n\r\nB;7;0;;\r\n\r\n"
            "C;-1;1;;\r\n\r\n").encode("latin-1")
    table = read_table(data, "p.csv")
    assert table.columns == ["patient_id", "os_months", "os_event"]
    problems = problems_of(data, opts=options(mapping={}))
    assert [str(p) for p in problems] == ["patients.csv, column 'os_months': negative time (row 6)"]
    good = data.replace(b"C;-1", b"C;1")
    cohort = read_cohort(good, "p.csv", options(mapping={}))
    assert cohort.patients["patient_id"].to_list() == ["A", "B", "C"]
    assert cohort.patients["os_months"].to_list() == [5.5, 7.0, 1.0]


def test_a_row_with_extra_fields_is_numbered_as_in_a_spreadsheet():
    data = b"patient_id,os_months,os_event\nA,5,1\n\n\nB,6,0,extra\n"
    problems = problems_of(data)
    assert len(problems) == 1 and problems[0].rows == (5,)
    assert "different number of fields than the header (3)" in str(problems[0])


@pytest.mark.parametrize("column", ["dlt", "toxicity_assessed"])
def test_yes_no_columns_are_read_as_booleans(column):
    lines = GOOD.splitlines()
    lines[0] += f",{column}"
    lines[1:] = [lines[1] + ",yes", lines[2] + ",no", lines[3] + ","]
    cohort = read_cohort("\n".join(lines).encode(), "patients.csv",
                         options(mapping={**CANONICAL, column: column}))
    assert cohort.patients[column].dtype == pl.Boolean
    assert cohort.patients[column].to_list() == [True, False, None]


def test_a_yes_no_column_with_another_value_names_column_and_row():
    lines = GOOD.splitlines()
    lines[0] += ",toxicity_assessed"
    lines[1:] = [lines[1] + ",yes", lines[2] + ",maybe", lines[3] + ",no"]
    problems = problems_of("\n".join(lines),
                           opts=options(mapping={**CANONICAL,
                                                 "toxicity_assessed": "toxicity_assessed"}))
    assert [(p.column, p.rows) for p in problems] == [("toxicity_assessed", (3,))]
