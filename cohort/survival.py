"""Kaplan-Meier, landmark rates, median + CI, RMST and log-rank, matching R's ``survival``.

Every estimator starts from ONE polars aggregation over (group, time) giving the number of
events and of other exits (censorings) at each distinct time; everything after that is
cumulative arithmetic over distinct times, so the cost grows with the number of rows only
through that aggregation.

Conventions (those of R ``survival`` 3.x, checked against it in tests/test_survival_vs_r.py):

* the event column is 1 = event, 0 = censored, 2 = competing event (censored here), or Boolean;
  rows with a null time, event or group are dropped;
* censorings at time t are still at risk at t (events are counted before censorings);
* ``std_err`` is the Greenwood standard error of S(t) (``summary(fit)$std.err``);
* confidence limits follow ``survival:::survfit_confint`` for conf.type "log-log", "log" and
  "plain", including its NA (here null) and clipping rules;
* median and its CI follow ``print.survfit`` (``survival:::survmean``): the first time the curve
  (or the lower / upper band) is at or below 0.5, the midpoint of a flat segment at exactly 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import polars as pl
from scipy.special import chdtrc

from cohort.cox import covariate_levels, fit_cox, format_hr_ci, largest_level

ConfType = Literal["log-log", "log", "plain"]
CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")
ALL = "All"
_TOL = float(np.finfo(float).eps) ** 0.5  # R: sqrt(.Machine$double.eps)

__all__ = [
    "ConfType",
    "LogrankResult",
    "TrendResult",
    "counts_at",
    "event_codes",
    "event_counts",
    "follow_up_from_counts",
    "hazard_ratios",
    "kaplan_meier",
    "km_from_counts",
    "landmarks_from_km",
    "logrank",
    "logrank_from_counts",
    "median_survival",
    "rmst",
    "rmst_from_km",
    "survival_at",
]


# ---------------------------------------------------------------------------------------------
# the one aggregation
# ---------------------------------------------------------------------------------------------


def event_codes(event: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """An event column of type ``dtype`` as Int64 codes (Boolean True -> 1, False -> 0;
    polars' non-strict cast otherwise: a float truncated, NaN or non-integer text -> null)."""
    return event.cast(pl.Int64, strict=dtype == pl.Boolean)


def _status_expr(df: pl.DataFrame | pl.LazyFrame, event: str) -> pl.Expr:
    return event_codes(pl.col(event), df.collect_schema()[event])


def event_counts(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    by: str | None = None,
    cause: int = 1,
) -> pl.DataFrame:
    """One row per (group, distinct time): ``group`` (String), ``time`` (Float64), ``n_event``
    (status == cause), ``n_competing`` (other non-zero codes), ``n_censor`` (status 0),
    ``n_exit`` (all three). Sorted by group in natural order of the ``by`` values, then time."""
    lf = df.lazy()
    status = _status_expr(lf, event)
    key = pl.col(by) if by is not None else pl.lit(ALL)
    rows = lf.select(_g=key, time=pl.col(time).cast(pl.Float64), _s=status).drop_nulls().collect()
    n, s = pl.col("_n"), pl.col("_s")
    # (group, time, code) counts: the one pass over rows; then a pass over distinct triples
    triples = rows.group_by("_g", "time", "_s").agg(_n=pl.len().cast(pl.Int64))
    return (
        triples.group_by("_g", "time")
        .agg(
            n_event=n.filter(s == cause).sum(),
            n_censor=n.filter(s == 0).sum(),
            n_exit=n.sum(),
        )
        .sort("_g", "time")
        .with_columns(
            group=pl.col("_g").cast(pl.String),
            n_competing=pl.col("n_exit") - pl.col("n_event") - pl.col("n_censor"),
        )
        .select("group", "time", "n_event", "n_competing", "n_censor", "n_exit")
    )


def _z(conf_level: float) -> float:
    """Two-sided normal quantile, as R's qnorm(1 - (1 - conf_level) / 2)."""
    if not 0 < conf_level < 1:
        raise ValueError("conf_level must be in (0, 1)")
    return NormalDist().inv_cdf(1 - (1 - conf_level) / 2)


def _check_conf_type(conf_type: str) -> None:
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")


def _ci_exprs(s: pl.Expr, se: pl.Expr, conf_type: str, z: float) -> tuple[pl.Expr, pl.Expr]:
    """(lower, upper) as survival:::survfit_confint; ``se`` is the SE of log S (cum. hazard)."""
    if conf_type == "plain":
        half = se * s * z
        lower = pl.max_horizontal(s - half, pl.lit(0.0))
        upper = pl.min_horizontal(s + half, pl.lit(1.0))
    elif conf_type == "log":
        xx = pl.when(s > 0).then(s)
        lower = (xx.log() - z * se).exp()
        upper = pl.min_horizontal((xx.log() + z * se).exp(), pl.lit(1.0))
    else:  # log-log: NA at S == 0 and S == 1
        xx = pl.when((s > 0) & (s < 1)).then(s)
        half = z * se / xx.log()
        lower = (-((-xx.log()).log() - half).exp()).exp()
        upper = (-((-xx.log()).log() + half).exp()).exp()
    dead = s <= 0  # S == 0 only after everybody at risk died: R gives NA / NaN there
    return (
        pl.when(dead).then(None).otherwise(lower),
        pl.when(dead).then(None).otherwise(upper),
    )


def km_from_counts(
    counts: pl.DataFrame, conf_type: ConfType = "log-log", conf_level: float = 0.95
) -> pl.DataFrame:
    """:func:`kaplan_meier` from :func:`event_counts` output (competing exits are censorings),
    so that one aggregation can serve the curve, the medians and the log-rank test."""
    _check_conf_type(conf_type)
    z = _z(conf_level)
    n, d = pl.col("n_risk"), pl.col("n_event")
    km = counts.with_columns(
        n_risk=pl.col("n_exit").cum_sum(reverse=True).over("group"),
        n_censor=pl.col("n_exit") - pl.col("n_event"),
    ).with_columns(
        survival=(1.0 - d / n).cum_prod().over("group"),
        _gw=(d / (n * (n - d))).cum_sum().over("group"),
    )
    s, se_log = pl.col("survival"), pl.col("_gw").sqrt()
    lower, upper = _ci_exprs(s, se_log, conf_type, z)
    return km.select(
        "group",
        "time",
        "n_risk",
        "n_event",
        "n_censor",
        "survival",
        std_err=pl.when(s > 0).then(s * se_log),
        lower=lower,
        upper=upper,
    )


def kaplan_meier(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    by: str | None = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """Kaplan-Meier estimate per group, one row per group and distinct observed time.

    Returns columns ``group`` (String, "All" without ``by``), ``time`` (the input unit),
    ``n_risk``, ``n_event``, ``n_censor`` (Int64), ``survival``, ``std_err`` (Greenwood SE of S),
    ``lower``, ``upper`` (Float64, probabilities in [0, 1]; null where R gives NA/NaN).
    """
    counts = event_counts(df, time, event, by, cause=1)
    return km_from_counts(counts, conf_type, conf_level)


# ---------------------------------------------------------------------------------------------
# summaries of the curve
# ---------------------------------------------------------------------------------------------


def _groups(km: pl.DataFrame) -> pl.DataFrame:
    """The groups of a KM table, in order, with their number of patients."""
    return km.group_by("group", maintain_order=True).agg(
        n=pl.col("n_risk").first(), events=pl.col("n_event").sum()
    )


def survival_at(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    times: list[float] | tuple[float, ...],
    by: str | None = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """Landmark survival, as R's ``summary(fit, times=times)``.

    Returns one row per group and landmark: ``group``, ``time`` (the landmark), ``survival``,
    ``std_err``, ``lower``, ``upper`` and ``n_risk`` (patients with time >= landmark).
    A landmark beyond a group's last observed time (which R drops, extend=FALSE) is kept with
    ``n_risk`` 0 and null estimates, so the table stays rectangular.
    """
    return landmarks_from_km(kaplan_meier(df, time, event, by, conf_type, conf_level), times)


def landmarks_from_km(km: pl.DataFrame, times: list[float] | tuple[float, ...]) -> pl.DataFrame:
    """:func:`survival_at` from a :func:`kaplan_meier` table (no second pass over the rows)."""
    grid = _groups(km).select("group", "n", _last=pl.lit(None, pl.Float64)).join(
        pl.DataFrame({"time": sorted(float(t) for t in times)}, schema={"time": pl.Float64}),
        how="cross",
    )
    last = km.group_by("group").agg(_last=pl.col("time").max())
    grid = grid.drop("_last").join(last, on="group", how="left", maintain_order="left")
    est = ["survival", "std_err", "lower", "upper"]
    before = grid.sort("time").join_asof(
        km.select("group", "time", *est).sort("time"), on="time", by="group",
        strategy="backward", check_sortedness=False,
    )
    after = grid.sort("time").join_asof(
        km.select("group", "time", _nr=pl.col("n_risk")).sort("time"), on="time", by="group",
        strategy="forward", check_sortedness=False,
    )
    out = before.join(after.select("group", "time", "_nr"), on=["group", "time"], how="left")
    first = pl.col("survival").is_null()  # landmark before the first observed time
    beyond = pl.col("time") > pl.col("_last")
    # before the first observed time R's summary() reports S = 1, SE 0 and limits 1 (any type)
    fills = {"survival": 1.0, "std_err": 0.0, "lower": 1.0, "upper": 1.0}
    out = out.with_columns(
        [pl.when(first).then(pl.lit(v)).otherwise(pl.col(k)).alias(k) for k, v in fills.items()]
    ).with_columns(
        [pl.when(beyond).then(None).otherwise(pl.col(k)).alias(k) for k in est],
        n_risk=pl.col("_nr").fill_null(0).cast(pl.Int64),
    )
    order = _groups(km).select("group").with_row_index("_o")
    return (
        out.join(order, on="group")
        .sort("_o", "time")
        .select("group", "time", *est, "n_risk")
    )


def counts_at(km: pl.DataFrame, times: list[float] | tuple[float, ...]) -> pl.DataFrame:
    """The KMunicate numbers (Morris et al. 2019) of a :func:`kaplan_meier` (or cumulative
    incidence) table at each of ``times``: group, time, ``at_risk`` (patients with time >= t,
    R's ``n.risk``), ``events`` and ``censored`` (cumulative, before t), so that at_risk +
    events + censored is the group's number of patients at every t."""
    steps = km.select(
        "group", "time", "n_risk",
        events=pl.col("n_event").cum_sum().over("group"),
        censored=pl.col("n_censor").cum_sum().over("group"),
    ).sort("time")
    grid = _groups(km).select("group").with_row_index("_o").join(
        pl.DataFrame({"time": sorted(float(t) for t in times)}, schema={"time": pl.Float64}),
        how="cross").sort("time")
    at_risk = grid.join_asof(steps.select("group", "time", "n_risk"), on="time", by="group",
                             strategy="forward", check_sortedness=False)
    before = grid.join_asof(steps.select("group", "time", "events", "censored"), on="time",
                            by="group", strategy="backward", allow_exact_matches=False,
                            check_sortedness=False)
    return (at_risk.join(before.select("group", "time", "events", "censored"),
                         on=["group", "time"])
            .sort("_o", "time")
            .select("group", "time",
                    at_risk=pl.col("n_risk").fill_null(0).cast(pl.Int64),
                    events=pl.col("events").fill_null(0).cast(pl.Int64),
                    censored=pl.col("censored").fill_null(0).cast(pl.Int64)))


def largest_group(df: pl.DataFrame, by: str) -> str | None:
    """The group of ``by`` with the most rows (ties: the first in level order), as text."""
    return largest_level(df[by])


HR_SCHEMA = {"group": pl.String, "n": pl.Int64, "events": pl.Int64, "is_reference": pl.Boolean,
             "hr": pl.Float64, "lower": pl.Float64, "upper": pl.Float64, "p": pl.Float64,
             "text": pl.String}


def hazard_ratios(df: pl.DataFrame, time: str, event: str, by: str,
                  reference: str | None = None, conf_level: float = 0.95) -> pl.DataFrame:
    """Cox hazard ratio of each group of ``by`` against ``reference`` (default, or when it is
    not a group: the largest group), Efron ties and Wald CI as R's
    ``coxph(Surv(time, event == 1) ~ by)`` (:func:`cohort.cox.fit_cox`; codes other than 1 are
    censored: a competing event gives the cause-specific HR).

    Returns one row per group in level order: group, n, events, is_reference, hr, lower, upper,
    p (Wald) and ``text`` ('1.34 (0.90–2.01)', 'reference', 'not estimable'); no rows when the
    model cannot be fitted (one group, no events)."""
    used = df.drop_nulls([time, event, by])
    groups = used[by].cast(pl.String).unique().to_list()
    if reference not in groups:
        reference = largest_group(used, by)
    fit = fit_cox(used, time, event, [by], reference={by: reference}, conf_level=conf_level)
    terms = fit.terms.filter(pl.col("covariate") == by)
    if terms.height < 2:
        return pl.DataFrame(schema=HR_SCHEMA)
    rows = [{"group": t["level"], "n": t["n"], "events": t["events"],
             "is_reference": t["is_reference"], "hr": t["hr"], "lower": t["lower"],
             "upper": t["upper"], "p": t["p"],
             "text": "reference" if t["is_reference"] else format_hr_ci(t["hr"], t["lower"],
                                                                         t["upper"])}
            for t in terms.iter_rows(named=True)]
    order = {g: i for i, g in enumerate(covariate_levels(used[by]))}
    return pl.DataFrame(sorted(rows, key=lambda r: order[r["group"]]), schema=HR_SCHEMA)


def _minmin(col: str, level: float = 0.5) -> pl.Expr:
    """survival:::survmean's ``minmin`` (and ``quantile.survfit``'s rule): first time ``col`` <=
    ``level`` (within sqrt(eps)); at a flat segment at exactly ``level``, the midpoint to the
    next time the curve drops."""
    keep = pl.col(col).is_not_null() & (pl.col(col) < level + _TOL)
    y1 = pl.col(col).filter(keep).first()
    x1 = pl.col("time").filter(keep).first()
    x2 = pl.col("time").filter(keep & (pl.col(col) < y1)).first()
    flat = ((y1 - level).abs() < _TOL) & x2.is_not_null()
    return pl.when(flat).then((x1 + x2) / 2).otherwise(x1)


def _fmt(x: float | None, digits: int) -> str:
    return "NR" if x is None else f"{x:.{digits}f}"


def median_text(median: float | None, lower: float | None, upper: float | None,
                digits: int = 1) -> str:
    """'17.6 (10.4–38.1)'; 'NR' for a median or CI bound not reached: 'NR (89.5–NR)' keeps
    the lower bound a median not reached still has; 'not reached' when no bound is."""
    if median is None and lower is None:
        return "not reached"
    return f"{_fmt(median, digits)} ({_fmt(lower, digits)}–{_fmt(upper, digits)})"


def follow_up_text(median: float | None, q1: float | None, q3: float | None,
                   digits: int = 1) -> str:
    """'31.2 (IQR 18.0–47.5)'; 'NR (IQR 18.0–NR)' for a median not reached whose first
    quartile is; 'not reached' when neither is."""
    if median is None and q1 is None:
        return "not reached"
    return f"{_fmt(median, digits)} (IQR {_fmt(q1, digits)}–{_fmt(q3, digits)})"


_CENSORED = "_censored"


def median_follow_up(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    by: str | None = None,
    digits: int = 1,
) -> pl.DataFrame:
    """Median follow-up by the reverse Kaplan-Meier method (censoring is the event; any event,
    competing or not, censors), with its interquartile range, per group: as R's
    ``quantile(survfit(Surv(time, status == 0) ~ by), c(0.25, 0.5, 0.75))``.

    Returns ``group``, ``n`` (patients), ``under_follow_up`` (patients censored: without an
    event at their last follow-up), ``median``, ``q1``, ``q3`` (time unit of the input; null
    when not reached) and ``text`` ("31.2 (IQR 18.0–47.5)").
    """
    flipped = df.with_columns((pl.col(event).cast(pl.Int64) == 0).cast(pl.Int64).alias(_CENSORED))
    return _follow_up_from_km(kaplan_meier(flipped, time, _CENSORED, by), digits)


def follow_up_from_counts(counts: pl.DataFrame, digits: int = 1) -> pl.DataFrame:
    """:func:`median_follow_up` from :func:`event_counts` output: the reverse Kaplan-Meier
    of the same counts, censorings as its events."""
    reverse = counts.with_columns(n_event=pl.col("n_censor"),
                                  n_censor=pl.col("n_exit") - pl.col("n_censor"))
    return _follow_up_from_km(km_from_counts(reverse), digits)


def _follow_up_from_km(km: pl.DataFrame, digits: int) -> pl.DataFrame:
    out = km.group_by("group", maintain_order=True).agg(
        n=pl.col("n_risk").first(),
        under_follow_up=pl.col("n_event").sum(),
        median=_minmin("survival", 0.5),
        q1=_minmin("survival", 0.75),
        q3=_minmin("survival", 0.25),
    )
    text = [follow_up_text(m, a, b, digits)
            for m, a, b in zip(out["median"], out["q1"], out["q3"], strict=True)]
    return out.with_columns(text=pl.Series(text, dtype=pl.String))


def median_survival(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    by: str | None = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
    digits: int = 1,
) -> pl.DataFrame:
    """Median survival and its CI per group, as R's ``print(survfit(...))``.

    Returns ``group``, ``n`` (patients), ``events``, ``median``, ``lower``, ``upper`` (time unit of
    the input; null when not reached) and ``median_text`` ("17.6 (10.4–38.1)", "NR (89.5–NR)",
    "not reached": :func:`median_text`).
    """
    km = kaplan_meier(df, time, event, by, conf_type, conf_level)
    return median_from_km(km, digits)


def median_from_km(km: pl.DataFrame, digits: int = 1) -> pl.DataFrame:
    """Median table (see :func:`median_survival`) from a :func:`kaplan_meier` table."""
    out = km.group_by("group", maintain_order=True).agg(
        n=pl.col("n_risk").first(),
        events=pl.col("n_event").sum(),
        median=_minmin("survival"),
        lower=_minmin("lower"),
        upper=_minmin("upper"),
    )
    text = [
        median_text(m, lo, up, digits)
        for m, lo, up in zip(out["median"], out["lower"], out["upper"], strict=True)
    ]
    return out.with_columns(median_text=pl.Series(text, dtype=pl.String))


def rmst(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    tau: float,
    by: str | None = None,
) -> pl.DataFrame:
    """Restricted mean survival time up to ``tau``, as R's ``print(fit, rmean=tau)``.

    Returns ``group``, ``tau``, ``rmst`` (area under S from 0 to tau, in the time unit) and ``se``
    (R's "se(rmean)", Greenwood-type).
    """
    return rmst_from_km(kaplan_meier(df, time, event, by, conf_type="plain"), tau)


def rmst_from_km(km: pl.DataFrame, tau: float) -> pl.DataFrame:
    """:func:`rmst` from a :func:`kaplan_meier` table (any conf_type: only S, n and d are used)."""
    tau = float(tau)
    n, d = pl.col("n_risk"), pl.col("n_event")
    kept = km.filter(pl.col("time") <= tau).with_columns(
        _seg=(pl.col("time").shift(-1).over("group").fill_null(tau) - pl.col("time"))
        * pl.col("survival"),
        _hh=pl.when(n - d == 0).then(0.0).otherwise(d / (n * (n - d))),
    )
    kept = kept.with_columns(_area=pl.col("_seg").cum_sum(reverse=True).over("group"))
    agg = kept.group_by("group").agg(
        rmst=pl.col("time").first() + pl.col("_seg").sum(),
        se=((pl.col("_area") ** 2 * pl.col("_hh")).sum()).sqrt(),
    )
    return (
        _groups(km)
        .select("group")
        .join(agg, on="group", how="left", maintain_order="left")
        .select(
            "group",
            tau=pl.lit(tau),
            rmst=pl.col("rmst").fill_null(tau),
            se=pl.col("se").fill_null(0.0),
        )
    )


# ---------------------------------------------------------------------------------------------
# log-rank
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendResult:
    """Log-rank test for trend (1 df) with group scores 1..k in group order."""

    chisq: float
    p: float
    df: int = 1
    method: str = "log-rank test for trend, scores 1..k: (w'(O-E))^2 / (w'Vw), V of survdiff"


@dataclass(frozen=True)
class LogrankResult:
    """Log-rank test (R's ``survdiff``, rho = 0) and its companions.

    ``table``: group, n, observed, expected, (O-E)^2/E, (O-E)^2/V. ``pairwise``: group_a,
    group_b, chisq, p, p_holm (survdiff on each pair, Holm-adjusted as
    survminer::pairwise_survdiff). ``trend``: only when called with ``ordered=True``.
    """

    chisq: float
    df: int
    p: float
    table: pl.DataFrame
    pairwise: pl.DataFrame
    trend: TrendResult | None = None
    method: str = "log-rank (R survival::survdiff, rho = 0)"


def _risk_matrices(counts: pl.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(groups, at-risk matrix, events matrix), both distinct-times-with-an-event x groups."""
    groups = counts["group"].unique(maintain_order=True).to_list()
    idx = counts.select(
        t=pl.col("time").rank("dense").cast(pl.Int64) - 1,
        g=pl.col("group").replace_strict(groups, list(range(len(groups))), return_dtype=pl.Int64),
    )
    t, g = idx["t"].to_numpy(), idx["g"].to_numpy()
    shape = (int(t.max()) + 1 if t.size else 0, len(groups))
    exits, events = np.zeros(shape), np.zeros(shape)
    exits[t, g] = counts["n_exit"].to_numpy()
    events[t, g] = counts["n_event"].to_numpy()
    at_risk = np.cumsum(exits[::-1], axis=0)[::-1]
    has_event = events.sum(axis=1) > 0
    return groups, at_risk[has_event], events[has_event]


def _survdiff(at_risk: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, ...]:
    """Observed, expected and variance matrix, as survival's C routine survdiff2."""
    n = at_risk.sum(axis=1)
    d = events.sum(axis=1)
    share = at_risk / n[:, None]
    obs = events.sum(axis=0)
    exp = (share * d[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    var = np.diag((w[:, None] * share).sum(axis=0)) - (share * w[:, None]).T @ share
    return obs, exp, var


def _chisq(obs: np.ndarray, exp: np.ndarray, var: np.ndarray) -> tuple[float, int]:
    """survdiff's chi-square over groups with expected > 0 (first such group dropped)."""
    keep = exp > 0
    df = int(keep.sum()) - 1
    if df < 1:
        return 0.0, df
    diff = (obs - exp)[keep][1:]
    vv = var[np.ix_(keep, keep)][1:, 1:]
    try:
        sol = np.linalg.solve(vv, diff)
    except np.linalg.LinAlgError:
        sol = np.linalg.pinv(vv) @ diff
    return float(sol @ diff), df


def _p(chisq: float, df: int) -> float:
    return float(chdtrc(df, chisq)) if df > 0 else float("nan")


def holm(p: list[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, as R's p.adjust(p, "holm")."""
    p = np.asarray(p, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def _pairwise(groups: list[str], at_risk: np.ndarray, events: np.ndarray) -> pl.DataFrame:
    """survdiff on each pair of groups (rows restricted to the pair), Holm-adjusted."""
    rows = []
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            cols = [i, j]
            ar, ev = at_risk[:, cols], events[:, cols]
            live = ev.sum(axis=1) > 0
            chisq, df = _chisq(*_survdiff(ar[live], ev[live]))
            rows.append((groups[i], groups[j], chisq, _p(chisq, df)))
    frame = pl.DataFrame(
        rows, schema=["group_a", "group_b", "chisq", "p"], orient="row"
    ) if rows else pl.DataFrame(
        schema={"group_a": pl.String, "group_b": pl.String, "chisq": pl.Float64, "p": pl.Float64}
    )
    return frame.with_columns(p_holm=pl.Series(holm(frame["p"].to_numpy()), dtype=pl.Float64))


def _trend(obs: np.ndarray, exp: np.ndarray, var: np.ndarray) -> TrendResult:
    w = np.arange(1, obs.size + 1, dtype=float)
    chisq = float((w @ (obs - exp)) ** 2 / (w @ var @ w))
    return TrendResult(chisq=chisq, p=_p(chisq, 1))


def logrank(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    by: str,
    ordered: bool = False,
) -> LogrankResult:
    """Log-rank test across the groups of ``by`` (R's ``survdiff(Surv(time, event) ~ by)``).

    Returns a :class:`LogrankResult`: chi-square, df, p, per-group table, pairwise tests with
    Holm adjustment, and (``ordered=True``) the test for trend over groups scored 1..k in
    natural order of the ``by`` values.
    """
    return logrank_from_counts(event_counts(df, time, event, by, cause=1), ordered)


def logrank_from_counts(counts: pl.DataFrame, ordered: bool = False) -> LogrankResult:
    """:func:`logrank` from :func:`event_counts` output (cause 1)."""
    groups, at_risk, events = _risk_matrices(counts)
    if len(groups) < 2:
        raise ValueError("log-rank needs at least 2 groups")
    obs, exp, var = _survdiff(at_risk, events)
    chisq, dof = _chisq(obs, exp, var)
    n = counts.group_by("group", maintain_order=True).agg(n=pl.col("n_exit").sum())["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pl.DataFrame(
            {
                "group": groups,
                "n": n,
                "observed": obs,
                "expected": exp,
                "(O-E)^2/E": (obs - exp) ** 2 / exp,
                "(O-E)^2/V": (obs - exp) ** 2 / np.diag(var),
            }
        ).fill_nan(None)
    return LogrankResult(
        chisq=chisq,
        df=dof,
        p=_p(chisq, dof),
        table=table,
        pairwise=_pairwise(groups, at_risk, events),
        trend=_trend(obs, exp, var) if ordered else None,
    )
