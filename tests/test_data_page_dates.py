"""The Data page on registry exports with dates (Streamlit AppTest): the suggestion is preset
and loads as it is; warnings are listed and may be accepted; errors stop the load; a day/month
order the values leave open is asked; the time unit is asked only for durations."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.apptest import as_read, metric, open_app
from tests.registry_exports import clinic_export

HEADER = "MRN;Arm;RT start;Date of death or last contact;Vital status\n"


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="upload.patients").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label_start: str):
    return next(b for b in at.button if b.label.startswith(label_start))


def selectbox(at: AppTest, label_start: str):
    return next(s for s in at.selectbox if as_read(s.label).startswith(label_start))


def texts(elements) -> str:
    return "\n".join(as_read(e.value) for e in elements)


def test_clinic_export_loads_with_the_suggestion_as_it_is():
    at = upload(open_app("pages/data.py"), "clinic.csv",
                clinic_export().write_csv(separator=";").encode())
    assert selectbox(at, "MRN →").value == "patient_id"
    assert selectbox(at, "Time zero").value == "Treatment start"
    assert selectbox(at, "Vital status (dead").value == "Vital status"
    assert selectbox(at, "Progression or recurrence").value == "Recurrence date"
    assert not any(s.label.startswith("Unit of the time") for s in at.selectbox)
    button(at, "Validate and load").click().run()
    assert not at.error, texts(at.error)
    assert metric(at, "Patients in cohort") == "60"
    counts = at.dataframe[0].value
    assert counts["endpoint"].tolist() == ["Overall survival", "Progression-free survival"]
    assert counts["patients"].tolist() == [60, 60]


def test_warnings_are_listed_with_rows_and_the_file_loads_when_accepted():
    rows = ("A;x;01.02.2019;01.03.2020;dead\n"
            "B;y;01.02.2019;05.05.2019;alive\n"
            "C;x;01.02.2019;;alive\n")
    at = upload(open_app("pages/data.py"), "reg.csv", (HEADER + rows).encode())
    button(at, "Validate and load").click().run()
    shown = texts(at.warning)
    assert "column 'Date of death or last contact': alive without a date of last contact" \
           in shown and "(row 4)" in shown
    assert metric(at, "Patients in cohort") != "3"
    button(at, "Load anyway").click().run()
    assert metric(at, "Patients in cohort") == "3"
    assert "1 warning(s) accepted" in texts(at.caption)


def test_an_event_before_time_zero_stops_the_load():
    rows = "A;x;01.02.2019;01.01.2019;dead\nB;y;01.02.2019;05.05.2019;alive\n"
    at = upload(open_app("pages/data.py"), "reg.csv", (HEADER + rows).encode())
    button(at, "Validate and load").click().run()
    shown = texts(at.error)
    assert "before the time zero 'RT start' (row 2)" in shown and "nothing was loaded" in shown
    assert not any(b.label.startswith("Load anyway") for b in at.button)


def test_an_ambiguous_day_month_order_is_asked_before_loading():
    rows = "A;x;01/02/2019;03/04/2020;dead\nB;y;02/02/2019;05/06/2019;alive\n"
    at = upload(open_app("pages/data.py"), "reg.csv", (HEADER.replace(";", ",") +
                                                        rows.replace(";", ",")).encode())
    asked = [r for r in at.radio if "written as" in as_read(r.label)]
    assert {as_read(r.label).split("'")[1] for r in asked} == {
        "RT start", "Date of death or last contact"}
    assert button(at, "Validate and load").disabled
    for radio in asked:
        radio.set_value("mdy").run()
    button(at, "Validate and load").click().run()
    assert metric(at, "Patients in cohort") == "2"


def test_durations_still_need_their_unit():
    at = upload(open_app("pages/data.py"), "d.csv",
                b"patient_id,OS (days),status\nA,100,dead\nB,200,alive\n")
    assert selectbox(at, "Unit of the time").value == "days"
    assert selectbox(at, "How is 'status'").value == "dead/alive"
    button(at, "Validate and load").click().run()
    assert metric(at, "Patients in cohort") == "2"
