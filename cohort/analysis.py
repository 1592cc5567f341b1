"""A survival analysis of one endpoint, stratified or not: every table the Survival screen, its
exports and the report show, computed in one place from ``cohort.survival`` and
``cohort.competing``.

Stratifying by a numeric column splits it at a cut (the median of the analysed patients unless
one is given) into "< cut" and "≥ cut"; by a text column, one group per value, except that beyond
:data:`MAX_STRATA` values the least frequent ones are pooled into one "Other" group (the palette
has 8 distinguishable colours). Rows with a missing time, event or stratum are left out and
counted.

Times are analysed in the request's unit (days, weeks, months, years; :mod:`cohort.units`):
the endpoint's time is converted once, into one column, before any statistic (exactly from
``K_days`` where the cohort has it), and every time of the result (curve, medians, landmarks,
RMST horizon, follow-up) is in :attr:`SurvivalResult.unit`.

With a small-cell threshold (``min_cell``, :mod:`cohort.suppression`) the curve and everything
read from it (medians, landmarks, RMST, risk tables) come from counts rounded as OpenSAFELY's
``round_km`` (midpoints of multiples of ``min_cell``), and so does the cumulative incidence
(events, competing events and censorings rounded each, Aalen-Johansen computed from them);
the figures state each group's rounded size, their number at risk at time 0. Groups under
``min_cell`` patients are not drawn nor tabulated, and show no estimate (median, landmark,
hazard ratio, expected events); log-rank, Gray's test and Cox are computed on the real data,
those groups included, and their counts shown suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

from cohort.competing import GrayTestResult, cif_from_counts, gray_test_from_counts
from cohort.cox_counts import hazard_ratios_from_counts
from cohort.schema import column_label, is_numeric
from cohort.suppression import (
    caption_words,
    group_sizes,
    is_small,
    km_caption_words,
    patient_count,
    round_event_counts,
    shown_counts,
    small_groups,
)
from cohort.survival import (
    ALL,
    ConfType,
    LogrankResult,
    event_counts,
    follow_up_from_counts,
    km_from_counts,
    landmarks_from_km,
    logrank_from_counts,
    median_from_km,
    rmst_from_km,
)
from cohort.units import (
    DEFAULT_UNIT,
    DIGITS,
    analysed_unit,
    column_unit,
    conversion_words,
    time_in_unit,
    time_source,
    time_text,
    unit_label,
)

STRATUM = "stratum"
SMALL_GROUP = 5
#: Most curves in one figure: the Okabe-Ito palette's 8 colours.
MAX_STRATA = 8
COMPETING_CODE = 2
#: The analysed time: the endpoint's time in the request's unit.
TIME = "__time_in_unit"


@dataclass(frozen=True)
class SurvivalRequest:
    """What to analyse: time and event columns, optional stratum, the time ``unit`` (days,
    weeks, months, years) and, in that unit, the landmarks and RMST horizon ``tau``."""

    time: str
    event: str
    endpoint: str = ""
    by: str | None = None
    cut: float | None = None
    landmarks: tuple[float, ...] = (12.0, 24.0)
    tau: float | None = None
    conf_type: ConfType = "log-log"
    conf_level: float = 0.95
    unit: str = DEFAULT_UNIT
    #: The group the hazard ratios are against (None, or not a group: the largest group).
    reference: str | None = None


@dataclass(frozen=True)
class SurvivalResult:
    """Every table of one analysis (polars frames; times in ``unit``: the request's, or None
    when the time column's unit is unknown and its times are shown as they are)."""

    request: SurvivalRequest
    unit: str | None
    #: The column the times were read from (the endpoint's exact ``K_days`` or its time column).
    time_source: str
    n: int
    left_out: dict[str, int]
    stratum_label: str | None
    cut: float | None
    km: pl.DataFrame
    medians: pl.DataFrame
    landmarks: pl.DataFrame
    rmst: pl.DataFrame | None
    tau: float | None
    logrank: LogrankResult | None
    competing: bool
    follow_up: pl.DataFrame
    cif: pl.DataFrame | None = None
    gray: GrayTestResult | None = None
    small_groups: list[str] = field(default_factory=list)
    pooled: tuple[str, ...] = ()
    #: Cox HR of each group against the reference (:func:`cohort.survival.hazard_ratios`).
    hazard_ratios: pl.DataFrame | None = None
    #: Small-cell threshold applied (None: none); groups under it, not drawn nor tabulated.
    min_cell: int | None = None
    hidden_groups: tuple[str, ...] = ()

    @property
    def reference(self) -> str | None:
        """The group the hazard ratios are against (None without them)."""
        if self.hazard_ratios is None or self.hazard_ratios.is_empty():
            return None
        return self.hazard_ratios.filter(pl.col("is_reference"))["group"].item()

    @property
    def groups(self) -> list[str]:
        return self.medians["group"].to_list()

    @property
    def figure_n(self) -> int | str:
        """The patients the figures state: ``n``; under ``min_cell`` the drawn groups' rounded
        sizes added up, as text ('17 (rounded)'), so that it equals the curves' numbers at
        risk at time 0 (groups under ``min_cell`` left out)."""
        if not self.min_cell:
            return self.n
        sizes = self.km.group_by("group").agg(pl.col("n_risk").first())["n_risk"]
        return f"{int(sizes.sum()):,} (rounded)"



#: Cuts clinicians expect for some numeric strata; otherwise the median is suggested.
CONVENTIONAL_CUTS = {"bed10_gy": 100.0, "eqd2_gy": 100.0, "age_years": 65.0}


def suggested_cut(patients: pl.DataFrame, by: str) -> float:
    """The cut offered for splitting numeric ``by``: a conventional one (BED10 100 Gy, age 65)
    or the median rounded to 0.1 (0 when there are no values)."""
    if by in CONVENTIONAL_CUTS:
        return CONVENTIONAL_CUTS[by]
    values = patients[by].drop_nulls()
    return round(float(values.median()), 1) if values.len() else 0.0


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 else f"{value:.3g}"


def cut_labels(cut: float) -> tuple[str, str]:
    """The two groups of a numeric stratum split at ``cut``: '< cut' and '≥ cut'."""
    return f"< {_number(cut)}", f"≥ {_number(cut)}"


@dataclass(frozen=True)
class Strata:
    """Patients with a ``stratum`` Enum column (ordered groups), the numeric cut used, and the
    values pooled into the "Other" group (most frequent first)."""

    frame: pl.DataFrame
    cut: float | None = None
    pooled: tuple[str, ...] = ()


def pooled_label(n_values: int) -> str:
    """The name of the group that pools the least frequent values."""
    return f"Other ({n_values} values)"


def stratify(patients: pl.DataFrame, by: str, cut: float | None = None,
             max_strata: int = MAX_STRATA) -> Strata:
    """Stratify ``patients`` by ``by``: a numeric column at ``cut`` (default: its median), a text
    column by value, the ``max_strata - 1`` most frequent values kept and the rest pooled."""
    column = pl.col(by)
    if is_numeric(patients.schema[by]):
        values = patients[by].drop_nulls()
        if values.dtype.is_float():
            values = values.filter(values.is_finite())
        cut = float(values.median()) if cut is None and values.len() else cut
        low, high = cut_labels(cut)
        missing = (column.is_null() | column.is_nan()) if values.dtype.is_float() else column.is_null()
        labels = pl.when(missing).then(None).when(column < cut).then(pl.lit(low)).otherwise(pl.lit(high))
        return Strata(patients.with_columns(labels.cast(pl.Enum([low, high])).alias(STRATUM)), cut)
    text = column.cast(pl.String)
    by_frequency = (patients.select(text.alias("value")).drop_nulls()["value"].value_counts()
                    .sort(["count", "value"], descending=[True, False])["value"].to_list())
    if len(by_frequency) <= max_strata:
        return Strata(patients.with_columns(text.cast(pl.Enum(sorted(by_frequency))).alias(STRATUM)))
    kept, pooled = sorted(by_frequency[:max_strata - 1]), tuple(by_frequency[max_strata - 1:])
    other = pooled_label(len(pooled))
    grouped = pl.when(text.is_in(kept) | text.is_null()).then(text).otherwise(pl.lit(other))
    return Strata(patients.with_columns(grouped.cast(pl.Enum([*kept, other])).alias(STRATUM)),
                  pooled=pooled)


def _drop_missing(frame: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, dict[str, int]]:
    """``frame`` without rows missing any of ``columns`` (null or NaN), and how many each dropped."""
    left_out: dict[str, int] = {}
    for column in columns:
        missing = frame[column].is_null()
        if frame.schema[column].is_float():
            missing = missing | frame[column].is_nan()
        if missing.any():
            left_out[column] = int(missing.sum())
            frame = frame.filter(~missing)
    return frame, left_out


def _default_tau(km: pl.DataFrame) -> float | None:
    """The shortest of the groups' longest follow-up: RMST is comparable up to there."""
    if km.is_empty():
        return None
    return float(km.group_by("group").agg(pl.col("time").max())["time"].min())


def _analysed(patients: pl.DataFrame, request: SurvivalRequest
              ) -> tuple[pl.DataFrame, dict[str, int], Strata]:
    """The rows analysed (time in the request's unit as :data:`TIME`, the group as
    :data:`STRATUM`), the rows left out per column, and the strata."""
    frame = patients.with_columns(time_in_unit(patients, request.time, request.unit).alias(TIME))
    frame, left_out = _drop_missing(frame, [TIME, request.event])
    if TIME in left_out:
        left_out = {request.time: left_out.pop(TIME), **left_out}
    strata = Strata(frame)
    if request.by:
        strata = stratify(frame, request.by, request.cut)
        frame, missing_stratum = _drop_missing(strata.frame, [STRATUM])
        if missing_stratum:
            left_out[request.by] = missing_stratum[STRATUM]
    return frame, left_out, strata


@dataclass(frozen=True)
class AnalysedCounts:
    """The one aggregation a survival analysis reads (:func:`analysed_counts` in memory,
    :func:`cohort.engine_analysis.analysed_counts_in_engine` in a database): the event counts
    per (group, distinct time) of the analysed rows, times in the request's unit."""

    #: :func:`cohort.survival.event_counts` (cause 1): groups in level order, then time.
    counts: pl.DataFrame
    #: The column the times were read from (:func:`cohort.units.time_source`).
    time_source: str
    #: Rows left out per column (time, event, stratum), in that order.
    left_out: dict[str, int]
    cut: float | None = None
    pooled: tuple[str, ...] = ()
    #: The groups with a competing event (code 2).
    competing_groups: tuple[str, ...] = ()

    @property
    def groups(self) -> list[str]:
        """The analysed groups in level order."""
        return list(group_sizes(self.counts))


def analysed_counts(patients: pl.DataFrame, request: SurvivalRequest) -> AnalysedCounts:
    """The :class:`AnalysedCounts` of ``request`` on in-memory ``patients``."""
    source = time_source(patients, request.time, request.unit)
    frame, left_out, strata = _analysed(patients, request)
    by = STRATUM if request.by else None
    counts = event_counts(frame, TIME, request.event, by)
    code = frame[request.event].cast(pl.Int64, strict=False)
    competing = (frame.filter(code == COMPETING_CODE)[STRATUM].cast(pl.String).unique()
                 .to_list() if by else [ALL] if (code == COMPETING_CODE).any() else [])
    return AnalysedCounts(counts, source, left_out, strata.cut, strata.pooled,
                          tuple(g for g in group_sizes(counts) if g in set(competing)))


def reference_options_from_counts(analysed: AnalysedCounts, min_cell: int | None = None
                                  ) -> tuple[list[str], str | None]:
    """The groups analysed, in order, and the largest of them (most patients; ties: the first):
    the hazard ratios' reference unless another is chosen (no groups without a stratum). Under
    ``min_cell`` a group of fewer patients is not offered (it shows no estimate)."""
    sizes = group_sizes(analysed.counts)
    if not sizes or list(sizes) == [ALL]:
        return [], None
    largest = max(sizes, key=lambda g: sizes[g])  # the first of equals, in level order
    return [g for g, n in sizes.items() if n >= (min_cell or 0)], largest


def reference_options(patients: pl.DataFrame, request: SurvivalRequest,
                      min_cell: int | None = None) -> tuple[list[str], str | None]:
    """:func:`reference_options_from_counts` of ``request`` on ``patients``."""
    if not request.by:
        return [], None
    return reference_options_from_counts(analysed_counts(patients, request), min_cell)


def _real_counts(counts: pl.DataFrame) -> pl.DataFrame:
    """Patients and events per group of an event-counts table: group, n, events."""
    return counts.group_by("group", maintain_order=True).agg(
        n=pl.col("n_exit").sum(), events=pl.col("n_event").sum())


def _suppressed_medians(medians: pl.DataFrame, counts: pl.DataFrame, min_cell: int
                        ) -> pl.DataFrame:
    """The medians of the rounded curve with each group's real n and events, suppressed."""
    real = _real_counts(counts)
    return shown_counts(medians.drop("n", "events").join(real, on="group", maintain_order="left")
                        .select(medians.columns), ["n", "events"], min_cell)


def _suppressed_logrank(test: LogrankResult, hidden: list[str], min_cell: int
                        ) -> LogrankResult:
    """The log-rank test with its counts suppressed, without the (O-E) columns (with the
    expected count shown they would give the observed one away) and without the rows of the
    ``hidden`` groups (their expected events are an estimate of a small group)."""
    table = shown_counts(test.table.filter(~pl.col("group").is_in(hidden))
                         .select("group", "n", "observed", "expected"),
                         ["n", "observed"], min_cell)
    return replace(test, table=table)


def _suppressed_ratios(ratios: pl.DataFrame, hidden: list[str], min_cell: int
                       ) -> pl.DataFrame:
    """The hazard ratios without the ``hidden`` groups' rows, counts suppressed."""
    return shown_counts(ratios.filter(~pl.col("group").is_in(hidden)), ["n", "events"],
                        min_cell)


def analyse_survival(patients: pl.DataFrame, request: SurvivalRequest,
                     min_cell: int | None = None) -> SurvivalResult:
    """:func:`survival_from_counts` of ``request`` on in-memory ``patients``."""
    return survival_from_counts(analysed_counts(patients, request), request, min_cell)


def survival_from_counts(analysed: AnalysedCounts, request: SurvivalRequest,
                         min_cell: int | None = None) -> SurvivalResult:
    """Kaplan-Meier, medians, median follow-up (reverse Kaplan-Meier), landmarks, RMST,
    log-rank, Cox hazard ratios against the reference group and (when the event column has
    code 2) cumulative incidence with Gray's test, for ``request``, every time in the request's
    unit, all from the one aggregation ``analysed`` (in memory or in a database: the same
    numbers from the same counts). ``min_cell``: small-cell suppression (see the module's
    docstring)."""
    unit = analysed_unit(request.time, request.unit)
    counts = analysed.counts
    analysed_n = int(counts["n_exit"].sum())
    hidden = small_groups(counts, min_cell)
    if hidden:  # not drawn: the tests and hazard ratios compare the drawn groups only
        counts = counts.filter(~pl.col("group").is_in(hidden))
    km = km_from_counts(round_event_counts(counts, min_cell), request.conf_type,
                        request.conf_level)
    digits = DIGITS[unit] if unit else 1
    medians = median_from_km(km, digits)
    tau = request.tau if request.tau is not None else _default_tau(km)
    groups = list(group_sizes(counts))
    competing = any(g not in hidden for g in analysed.competing_groups)
    cif = gray = None
    if competing:
        cif = cif_from_counts(round_event_counts(counts, min_cell, competing=True),
                              request.conf_level)
        if len(groups) > 1:
            gray = gray_test_from_counts(counts)
    test = (logrank_from_counts(counts, ordered=analysed.cut is not None)
            if len(groups) > 1 else None)
    ratios = (hazard_ratios_from_counts(counts, request.reference, request.conf_level)
              if len(groups) > 1 else None)
    follow_up = follow_up_from_counts(counts, digits)
    small = [g for g in medians.filter(pl.col("n") < SMALL_GROUP)["group"] if g not in hidden]
    if min_cell:
        medians = _suppressed_medians(medians, counts, min_cell)
        follow_up = shown_counts(follow_up, ["n", "under_follow_up"], min_cell)
        test = _suppressed_logrank(test, hidden, min_cell) if test is not None else None
        ratios = _suppressed_ratios(ratios, hidden, min_cell) if ratios is not None else None
    return SurvivalResult(
        request=request,
        unit=unit,
        time_source=analysed.time_source,
        n=analysed_n,
        left_out=analysed.left_out,
        stratum_label=column_label(request.by) if request.by else None,
        cut=analysed.cut,
        km=km,
        medians=medians,
        landmarks=landmarks_from_km(km, list(request.landmarks)),
        rmst=rmst_from_km(km, tau) if tau else None,
        tau=tau,
        logrank=test,
        competing=competing and cif is not None,
        follow_up=follow_up,
        cif=cif,
        gray=gray,
        small_groups=small,
        pooled=analysed.pooled,
        hazard_ratios=ratios,
        min_cell=min_cell,
        hidden_groups=tuple(hidden),
    )


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def landmark_table(result: SurvivalResult) -> pl.DataFrame:
    """Landmark rates as text: group, time, 'survival % (lower–upper)', n at risk (under the
    result's threshold a rounded count, '<11' below it)."""
    rows = result.landmarks.iter_rows(named=True)
    return shown_counts(pl.DataFrame(
        [{"group": r["group"], "time": r["time"],
          "estimate": "not estimable (no follow-up)" if r["survival"] is None else
          f"{_percent(r['survival'])} ({_percent(r['lower'])}–{_percent(r['upper'])})",
          "n_risk": r["n_risk"]} for r in rows],
        schema={"group": pl.String, "time": pl.Float64, "estimate": pl.String,
                "n_risk": pl.Int64},
    ), ["n_risk"], result.min_cell)


def rmst_title(result: SurvivalResult) -> str:
    """'Restricted mean survival time up to 365 days': the RMST table's title."""
    return f"Restricted mean survival time up to {time_text(result.tau or 0.0, result.unit)}"


#: The columns of each result table that hold times (in the result's unit).
TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "medians": ("median", "lower", "upper", "median_text"),
    "follow_up": ("median", "q1", "q3", "text"),
    "landmarks": ("time",),
    "rmst": ("tau", "rmst", "se"),
    "competing": ("time",),
}


def with_unit(frame: pl.DataFrame, columns: tuple[str, ...], unit: str | None) -> pl.DataFrame:
    """``frame`` with each of ``columns`` it has renamed '<column> (<unit>)' ("median (days)")."""
    label = unit_label(unit)
    return frame.rename({c: f"{c} ({label})" for c in columns if c in frame.columns})


def export_table(result: SurvivalResult, name: str) -> pl.DataFrame:
    """The numbers of one result table (``name``: a key of :data:`TIME_COLUMNS`) for CSV and
    Excel files: as analysed, its time columns' headers saying the unit (under the result's
    threshold the landmarks' numbers at risk as :func:`landmark_table` shows them)."""
    landmarks = shown_counts(result.landmarks, ["n_risk"], result.min_cell)
    tables = {"medians": result.medians, "follow_up": result.follow_up,
              "landmarks": landmarks, "rmst": result.rmst}
    frame = cif_at(result) if name == "competing" else tables[name]
    if frame is None:
        raise ValueError(f"no {name} table in this result")
    return with_unit(frame, TIME_COLUMNS[name], result.unit)


def cif_at(result: SurvivalResult, times: tuple[float, ...] | None = None) -> pl.DataFrame:
    """Cumulative incidence (Aalen-Johansen) and 1 - KM at each landmark, per group; null
    beyond the group's last follow-up time (as the landmark table: not estimable).

    The gap between them is what treating competing events as censored would overstate.
    """
    if result.cif is None:
        raise ValueError("no competing events in this endpoint")
    grid = pl.DataFrame({"time": [float(t) for t in (times or result.request.landmarks)]})
    rows = []
    for group in result.groups:
        cif = result.cif.filter(pl.col("group") == group).select("time", "cif")
        km = result.km.filter(pl.col("group") == group).select("time", "survival")
        joined = (grid.join_asof(cif.sort("time"), on="time", strategy="backward")
                  .join_asof(km.sort("time"), on="time", strategy="backward"))
        beyond = pl.col("time") > km["time"].max()
        rows.append(joined.with_columns(
            pl.lit(group).alias("group"),
            pl.when(beyond).then(None).otherwise(pl.col("cif").fill_null(0.0)).alias("cif"),
            pl.when(beyond).then(None).otherwise(1.0 - pl.col("survival").fill_null(1.0))
            .alias("one_minus_km"),
        ).select("group", "time", "cif", "one_minus_km"))
    return pl.concat(rows)


def time_words(result: SurvivalResult) -> str:
    """Where the times come from and in which unit, in words (for the methods)."""
    source, unit = result.time_source, result.unit
    if unit is None:
        return f"times as recorded in {source} (unit unknown: not converted)"
    source_unit = column_unit(source)
    if source_unit == unit:
        exact = "exact days, " if source != result.request.time else ""
        return f"times in {unit} ({exact}{source})"
    return f"times in {unit}, converted from {source_unit} ({source}; {conversion_words(source_unit, unit)})"


def left_out_text(result: SurvivalResult, total: int) -> str:
    """'4,226 of 4,299 patients analysed; left out: 73 missing ECOG.', its counts suppressed
    under the result's threshold; when the patients left out are fewer than it, no number
    analysed (with the cohort's size, shown beside it, it would give the small count away)."""
    min_cell = result.min_cell
    dropped = ", ".join(f"{patient_count(n, min_cell)} missing {column_label(c)}"
                        for c, n in result.left_out.items())
    if is_small(total - result.n, min_cell):
        return f"All but <{min_cell} of the cohort's patients analysed; left out: {dropped}."
    analysed = f"{patient_count(result.n, min_cell)} of {patient_count(total, min_cell)}"
    return f"{analysed} patients analysed; left out: {dropped}."


def hidden_groups_text(result: SurvivalResult) -> str:
    """Why some groups are missing from the figure and tables ('' when none are)."""
    if not result.hidden_groups:
        return ""
    if result.km.is_empty():
        return (f"Fewer than {result.min_cell} patients in every group: no curve or table is "
                "shown (small-cell suppression). Widen the filters.")
    names = ", ".join(f"'{g}'" for g in result.hidden_groups)
    return (f"Not drawn nor tabulated: {names} (fewer than {result.min_cell} patients; "
            "small-cell suppression). The log-rank test and hazard ratios include them.")


def method_text(result: SurvivalResult) -> str:
    """The methods in one sentence, for captions and reports."""
    level = f"{100 * result.request.conf_level:.0f}%"
    text = (f"Kaplan-Meier with Greenwood variance, {level} CI ({result.request.conf_type}); "
            "medians where the curve and its CI cross 0.5 (as R's survfit); median follow-up by "
            "reverse Kaplan-Meier, with IQR; " + time_words(result))
    if result.logrank is not None:
        text += "; log-rank test"
    if result.reference is not None:
        text += (f"; hazard ratios against {result.reference} by Cox proportional hazards "
                 "(Efron ties, Wald CI)")
    if result.cut is not None:
        text += f"; {result.stratum_label} split at {_number(result.cut)}"
    if result.pooled:
        text += (f"; {result.stratum_label}: the {MAX_STRATA - 1} most frequent values, the other "
                 f"{len(result.pooled)} pooled as \"{pooled_label(len(result.pooled))}\"")
    if result.competing:
        text += ("; competing events (code 2) censored in Kaplan-Meier; cumulative incidence by "
                 "Aalen-Johansen" + (", Gray's test" if result.gray else ""))
    if result.min_cell:
        text += f"; {km_caption_words(result.min_cell)}; {caption_words(result.min_cell)}"
    return text
