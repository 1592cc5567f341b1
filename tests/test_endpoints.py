"""Endpoints from registry dates (cohort.endpoints): exact days, event codes, and the checks a
data manager expects."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cohort.endpoints import (
    DEATH,
    DateEndpoints,
    EndpointRule,
    derive_endpoints,
    standard_rules,
)

TODAY = dt.date(2026, 12, 1)


def _dates(**columns: list[dt.date | None]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.Date))


def _derive(dates: pl.DataFrame, spec: DateEndpoints, **status: list[int | None]):
    frame = pl.DataFrame(status, schema=dict.fromkeys(status, pl.Int64)) if status else \
        pl.DataFrame()
    return derive_endpoints(dates, frame, spec, today=TODAY)


def d(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, day)


def test_overall_survival_from_one_end_date_and_vital_status_is_exact_days():
    dates = _dates(start=[d(2019, 1, 1), d(2019, 1, 1)], end=[d(2020, 1, 1), d(2019, 7, 1)])
    spec = DateEndpoints("start", standard_rules(), death="end", vital_status="vs",
                         last_contact="end")
    derived = _derive(dates, spec, vs=[1, 0])
    assert derived.columns["os_days"].to_list() == [365, 181]
    assert derived.columns["os_event"].to_list() == [1, 0]
    assert derived.columns["os_months"].to_list() == pytest.approx([365 / 30.4375, 181 / 30.4375],
                                                                   rel=1e-15)
    assert derived.checks == ()


def test_separate_death_and_last_contact_dates_without_status():
    dates = _dates(start=[d(2019, 1, 1)] * 2, death=[d(2019, 3, 2), None],
                   last=[d(2019, 3, 1), d(2021, 1, 1)])
    spec = DateEndpoints("start", standard_rules(), death="death", last_contact="last")
    derived = _derive(dates, spec)
    assert derived.columns["os_days"].to_list() == [60, 731]
    assert derived.columns["os_event"].to_list() == [1, 0]


def test_pfs_is_progression_or_death_whichever_first():
    dates = _dates(start=[d(2019, 1, 1)] * 3,
                   prog=[d(2019, 2, 1), None, d(2019, 12, 1)],
                   end=[d(2019, 5, 1), d(2019, 4, 1), d(2019, 11, 1)])
    spec = DateEndpoints("start", standard_rules(progression="prog"), death="end",
                         vital_status="vs", last_contact="end")
    derived = _derive(dates, spec, vs=[1, 1, 0]).columns
    assert derived["pfs_days"].to_list() == [31, 90, 334]
    assert derived["pfs_event"].to_list() == [1, 1, 1]


def test_local_control_codes_death_first_as_competing():
    dates = _dates(start=[d(2019, 1, 1)] * 4,
                   lf=[d(2019, 3, 1), None, d(2019, 9, 1), None],
                   end=[d(2019, 6, 1), d(2019, 4, 11), d(2019, 8, 1), d(2019, 10, 1)])
    spec = DateEndpoints("start", standard_rules(local_failure="lf"), death="end",
                         vital_status="vs", last_contact="end")
    derived = _derive(dates, spec, vs=[1, 1, 1, 0])
    assert derived.columns["lc_event"].to_list() == [1, 2, 2, 0]
    assert derived.columns["lc_days"].to_list() == [59, 100, 212, 273]


def test_custom_endpoint_with_its_own_censoring_date_and_status():
    dates = _dates(rt_end=[d(2020, 1, 10)] * 3, flare=[d(2020, 2, 9), d(2020, 3, 1), None],
                   seen=[d(2020, 5, 1)] * 3)
    rule = EndpointRule("flare", ("flare",), censor="seen", status="confirmed")
    spec = DateEndpoints("rt_end", (rule,))
    derived = _derive(dates, spec, confirmed=[1, 0, 0]).columns
    assert derived["flare_days"].to_list() == [30, 112, 112]
    assert derived["flare_event"].to_list() == [1, 0, 0]


def test_time_zero_can_be_any_date_column():
    dates = _dates(diagnosis=[d(2018, 1, 1)], start=[d(2019, 1, 1)], end=[d(2020, 1, 1)])
    by_diagnosis = DateEndpoints("diagnosis", standard_rules(), death="end", vital_status="vs",
                                 last_contact="end")
    assert _derive(dates, by_diagnosis, vs=[1]).columns["os_days"].to_list() == [730]


def _messages(derived) -> dict[tuple[str | None, str], tuple[tuple[int, ...], bool]]:
    return {(c.column, c.message.split(" (")[0]): (c.rows, c.warning) for c in derived.checks}


def test_checks_a_data_manager_expects_name_columns_rows_and_severity():
    dates = _dates(
        start=[d(2019, 1, 1), d(2019, 1, 1), d(2019, 1, 1), d(2019, 1, 1), d(2019, 1, 1),
               d(2019, 1, 1)],
        prog=[d(2018, 12, 1), None, d(2020, 1, 1), None, None, d(2019, 6, 1)],
        death=[None, d(2019, 5, 1), d(2019, 10, 1), None, None, None],
        last=[d(2020, 1, 1), d(2019, 9, 1), d(2019, 10, 1), None, d(2027, 1, 1),
              d(2019, 5, 1)],
    )
    spec = DateEndpoints("start", standard_rules(progression="prog"), death="death",
                         last_contact="last")
    found = _messages(_derive(dates, spec))
    assert found[("prog", "before the time zero 'start'")] == ((0,), False)
    assert found[("last", "more than 60 days after the date of death")] == ((1,), True)
    assert found[("prog", "more than 60 days after the date of death")] == ((2,), True)
    assert found[("last", "alive without a date of last contact: follow-up unknown")] == \
        ((3,), True)
    assert found[("last", "date in the future")] == ((4,), False)
    assert found[("prog", "after the date of last contact 'last'")] == ((2, 5), True)


def test_dead_without_a_date_of_death_is_a_warning_and_leaves_os_missing():
    dates = _dates(start=[d(2019, 1, 1), d(2019, 1, 1)], end=[None, d(2019, 2, 1)])
    spec = DateEndpoints("start", standard_rules(), death="end", vital_status="vs",
                         last_contact="end")
    derived = _derive(dates, spec, vs=[1, 0])
    assert _messages(derived)[("end", "dead without a date of death: left out of the "
                                      "endpoints death ends")] == ((0,), True)
    assert derived.columns["os_days"].to_list() == [None, 31]


def test_an_endpoint_without_death_needs_no_death_date():
    dates = _dates(start=[d(2019, 1, 1)], lf=[d(2019, 2, 1)], last=[d(2019, 6, 1)])
    spec = DateEndpoints("start", standard_rules(death=False, local_failure="lf"),
                         last_contact="last")
    derived = _derive(dates, spec)
    assert derived.columns.columns == ["lc_days", "lc_months", "lc_event"]
    assert derived.columns["lc_event"].to_list() == [1]


@pytest.mark.parametrize("rule", standard_rules(progression="p", local_failure="l",
                                                next_treatment="n"))
def test_standard_rules_read_death_as_event_or_competing(rule: EndpointRule):
    assert DEATH in rule.events + rule.competing
