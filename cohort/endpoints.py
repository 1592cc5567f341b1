"""Time-to-event endpoints from registry dates: exact whole days from a time zero, event codes,
and the checks a data manager expects (each naming its column and spreadsheet rows).

A registry stores dates, not durations. ``derive_endpoints`` takes the patients' dates (polars
``Date`` columns, named as in the file), an optional vital status (1 = dead, 0 = alive) and the
``DateEndpoints`` the user stated, and returns for each endpoint key ``K`` the columns ``K_days``
(Int64, exact), ``K_months`` (days / 30.4375) and ``K_event`` (0 censored, 1 event, 2 competing
event), as the rest of the app expects. Rows whose time cannot be determined get nulls there
and are reported as warnings (they are left out of that endpoint's analyses).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from cohort.units import DAYS_PER_MONTH

#: A rule's event or competing source meaning "the patient's death" (date of death, or the
#: end-of-follow-up date where the vital status says dead).
DEATH = "(death)"
#: Days after death beyond which a later follow-up or event date is implausible.
DAYS_AFTER_DEATH = 60


@dataclass(frozen=True)
class EndpointRule:
    """One endpoint from dates. ``events``: date columns (or ``DEATH``) of the event; the
    earliest present counts. ``competing``: dates of competing events (code 2 when first).
    ``censor``: the censoring date column (None: the last-contact date). ``status``: an
    optional status column (1 = event, 0 = none) that decides whether ``events`` are events."""

    key: str
    events: tuple[str, ...]
    competing: tuple[str, ...] = ()
    censor: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class DateEndpoints:
    """How a registry's dates give its endpoints.

    ``time_zero``: the date column times are counted from (RT start by default). ``death``: the
    date of death, or one "death or last contact" date read with ``vital_status``.
    ``vital_status``: a status column (dead = 1 with its event coding); without it, a death
    date present means dead. ``last_contact``: the last follow-up date (may be ``death``).
    ``orders``: day/month order ("dmy", "mdy") of date columns whose text is ambiguous.
    ``date_system``: 1900 or 1904, for Excel serial numbers.
    """

    time_zero: str
    rules: tuple[EndpointRule, ...]
    death: str | None = None
    vital_status: str | None = None
    last_contact: str | None = None
    orders: Mapping[str, str] = field(default_factory=dict)
    date_system: int = 1900

    def date_columns(self) -> list[str]:
        """Every date column the endpoints read, each once, in a stable order."""
        named = [self.time_zero, self.death, self.last_contact]
        for rule in self.rules:
            named += [*rule.events, *rule.competing, rule.censor]
        return list(dict.fromkeys(c for c in named if c and c != DEATH))

    def status_columns(self) -> list[str]:
        """The status columns read (vital status and rules' status), each once."""
        named = [self.vital_status, *(rule.status for rule in self.rules)]
        return list(dict.fromkeys(c for c in named if c))


def standard_rules(death: bool = True, progression: str | None = None,
                   local_failure: str | None = None, next_treatment: str | None = None
                   ) -> tuple[EndpointRule, ...]:
    """OS (death; censored at last contact), PFS (progression or death, whichever first),
    LC (local failure; death first is competing) and TTNT (next-line therapy; death first is
    competing), for the dates a registry has."""
    rules = [EndpointRule("os", (DEATH,))] if death else []
    if progression:
        rules.append(EndpointRule("pfs", (progression, DEATH) if death else (progression,)))
    if local_failure:
        rules.append(EndpointRule("lc", (local_failure,), (DEATH,) if death else ()))
    if next_treatment:
        rules.append(EndpointRule("ttnt", (next_treatment,), (DEATH,) if death else ()))
    return tuple(rules)


@dataclass(frozen=True)
class DateCheck:
    """A finding on the dates: its column (as in the file), 0-based data rows and message;
    ``warning`` findings may be accepted, the others stop the load."""

    column: str | None
    rows: tuple[int, ...]
    message: str
    warning: bool


@dataclass(frozen=True)
class DerivedEndpoints:
    """The derived columns (``K_days``, ``K_months``, ``K_event`` per rule, in row order) and
    the findings on the dates."""

    columns: pl.DataFrame
    checks: tuple[DateCheck, ...]


def _rows(mask: pl.Series) -> tuple[int, ...]:
    return tuple(mask.fill_null(False).arg_true().to_list())


def _earliest(dates: pl.DataFrame, sources: tuple[str, ...], death: pl.Series) -> pl.Series:
    columns = [death if source == DEATH else dates[source] for source in sources]
    if not columns:
        return pl.Series([None] * dates.height, dtype=pl.Date)
    return pl.DataFrame({str(i): c for i, c in enumerate(columns)}).select(
        pl.min_horizontal(pl.all())).to_series()


class _Deaths:
    """Who died and when; and where each patient's follow-up ends."""

    def __init__(self, dates: pl.DataFrame, status: pl.DataFrame, spec: DateEndpoints):
        none = pl.Series([None] * dates.height, dtype=pl.Date)
        recorded = dates[spec.death] if spec.death else none
        if spec.vital_status:
            self.dead = status[spec.vital_status] == 1
            self.known = status[spec.vital_status].is_not_null()
        else:
            self.dead = recorded.is_not_null()
            self.known = pl.Series([spec.death is not None] * dates.height)
        self.date = pl.select(pl.when(self.dead).then(recorded)).to_series()
        last = dates[spec.last_contact] if spec.last_contact else none
        self.last_contact = (last if spec.last_contact != spec.death
                             else pl.select(pl.when(~self.dead).then(last)).to_series())
        self.follow_up_end = pl.select(pl.coalesce(self.date, self.last_contact)).to_series()


def _censor_dates(dates: pl.DataFrame, rule: EndpointRule, deaths: _Deaths) -> pl.Series:
    if rule.censor:
        return dates[rule.censor]
    return deaths.follow_up_end


def _derive_rule(dates: pl.DataFrame, status: pl.DataFrame, rule: EndpointRule,
                 deaths: _Deaths, time_zero: pl.Series) -> pl.DataFrame:
    """``K_days``, ``K_months`` and ``K_event`` of one rule."""
    event_date = _earliest(dates, rule.events, deaths.date)
    if rule.status:
        event_date = pl.select(pl.when(status[rule.status] == 1).then(event_date)).to_series()
    competing_date = _earliest(dates, rule.competing, deaths.date)
    censor_date = _censor_dates(dates, rule, deaths)
    frame = pl.DataFrame({"event": event_date, "competing": competing_date,
                          "censor": censor_date, "zero": time_zero})
    is_event = pl.col("event").is_not_null() & (
        pl.col("competing").is_null() | (pl.col("event") <= pl.col("competing")))
    is_competing = ~is_event & pl.col("competing").is_not_null()
    end = (pl.when(is_event).then("event").when(is_competing).then("competing")
           .otherwise("censor"))
    code = pl.when(is_event).then(1).when(is_competing).then(2).otherwise(0)
    derived = frame.select(
        days=(end - pl.col("zero")).dt.total_days(),
        event=pl.when(end.is_not_null() & pl.col("zero").is_not_null()).then(code),
    )
    days = derived["days"].cast(pl.Int64)
    return pl.DataFrame({
        f"{rule.key}_days": days,
        f"{rule.key}_months": days.cast(pl.Float64) / DAYS_PER_MONTH,
        f"{rule.key}_event": derived["event"].cast(pl.Int64),
    })


def derive_endpoints(dates: pl.DataFrame, status: pl.DataFrame, spec: DateEndpoints,
                     today: dt.date | None = None) -> DerivedEndpoints:
    """Each rule's ``K_days`` (whole days from time zero), ``K_months`` and ``K_event`` from
    ``dates`` (``Date`` columns named as in ``spec``) and ``status`` (Int64 0/1 columns),
    with the checks of the dates (``today``: the date after which dates are in the future)."""
    deaths = _Deaths(dates, status, spec)
    time_zero = dates[spec.time_zero]
    derived = [_derive_rule(dates, status, rule, deaths, time_zero) for rule in spec.rules]
    columns = pl.concat(derived, how="horizontal") if derived else pl.DataFrame()
    checks = _date_checks(dates, spec, deaths, columns, today or dt.date.today())
    return DerivedEndpoints(columns, tuple(checks))


def _date_checks(dates: pl.DataFrame, spec: DateEndpoints, deaths: _Deaths,
                 columns: pl.DataFrame, today: dt.date) -> list[DateCheck]:
    checks: list[DateCheck] = []

    def add(column: str | None, mask: pl.Series, message: str, warning: bool) -> None:
        rows = _rows(mask)
        if rows:
            checks.append(DateCheck(column, rows, message, warning))

    zero = dates[spec.time_zero]
    used = spec.date_columns()
    for column in used:
        add(column, dates[column] > today, f"date in the future (after {today.isoformat()})",
            warning=False)
    for column in used:
        if column != spec.time_zero:
            add(column, dates[column] < zero,
                f"before the time zero '{spec.time_zero}'", warning=False)
    add(spec.time_zero, zero.is_null() & _has_any(dates, used, spec.time_zero),
        "no time-zero date: left out of every endpoint", warning=True)
    for column in used:
        if column not in (spec.death, spec.time_zero):
            late = dates[column] > deaths.date + dt.timedelta(days=DAYS_AFTER_DEATH)
            add(column, late, f"more than {DAYS_AFTER_DEATH} days after the date of death",
                warning=True)
    if spec.vital_status or spec.death:
        add(spec.death or spec.vital_status, deaths.dead & deaths.date.is_null(),
            "dead without a date of death: left out of the endpoints death ends", warning=True)
        alive = ~deaths.dead.fill_null(False)
        add(spec.last_contact or spec.death, alive & deaths.last_contact.is_null(),
            "alive without a date of last contact: follow-up unknown", warning=True)
    for rule in spec.rules:
        for source in rule.events + rule.competing:
            if source != DEATH and spec.last_contact and source != spec.last_contact:
                add(source, dates[source] > deaths.last_contact,
                    f"after the date of last contact '{spec.last_contact}'", warning=True)
    return _unique(checks)


def _has_any(dates: pl.DataFrame, columns: list[str], besides: str) -> pl.Series:
    others = [c for c in columns if c != besides]
    if not others:
        return pl.Series([False] * dates.height)
    return dates.select(pl.any_horizontal(pl.col(others).is_not_null())).to_series()


def _unique(checks: list[DateCheck]) -> list[DateCheck]:
    """Each finding once (a column used by several rules is checked once per rule)."""
    return list(dict.fromkeys(checks))


def endpoint_counts(patients: pl.DataFrame, endpoints: list) -> pl.DataFrame:
    """Per endpoint (``cohort.schema.Endpoint``): ``endpoint``, ``patients`` with a time,
    ``events`` (code 1), ``competing`` (code 2), ``censored`` (code 0) and ``missing`` (no time
    or event: left out of its analyses)."""
    rows = []
    for endpoint in endpoints:
        event = patients[endpoint.event]
        known = patients[endpoint.time].is_not_null() & event.is_not_null()
        rows.append({"endpoint": endpoint.label, "patients": int(known.sum()),
                     "events": int(((event == 1) & known).sum()),
                     "competing": int(((event == 2) & known).sum()),
                     "censored": int(((event == 0) & known).sum()),
                     "missing": int((~known).sum())})
    schema = {"endpoint": pl.String, **dict.fromkeys(
        ("patients", "events", "competing", "censored", "missing"), pl.Int64)}
    return pl.DataFrame(rows, schema=schema)
