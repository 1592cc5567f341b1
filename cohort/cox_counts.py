"""Cox hazard ratios of one categorical covariate from event counts alone.

The input is :func:`cohort.survival.event_counts` (one row per group and distinct time), as a
database returns it for a registry too large to bring back row by row. The model is the one
:func:`cohort.survival.hazard_ratios` fits from rows (:func:`cohort.cox.fit_cox`: Efron ties,
Newton-Raphson with step halving as R's ``coxph.fit``, Wald CI, the infinite-coefficient test);
with a single categorical covariate every row of a group at a time shares its weight, so the
Efron sums need only the risk set and deaths of each group at each event time.

Per event time with d deaths the Efron sums over l = 0..d-1 of 1/u, x/u, 1/u², x/u², x²/u²
and log u (u = S - x E, x = l / d) are summed directly when d <= :data:`DIRECT_MAX_TIES`, and
otherwise from closed forms in digamma, trigamma and log-gamma (with c = d S / E, u = (E/d)(c-l)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import special, stats

from cohort.cox import TOLER_INF, _estimate, _Fit, format_hr_ci, newton_raphson
from cohort.survival import HR_SCHEMA

#: Tied deaths at one time up to which the Efron sums are summed term by term.
DIRECT_MAX_TIES = 1000
#: Below this E / S the tied deaths' weight is negligible: u = S for every l (to rounding).
_NEGLIGIBLE = 1e-14

_Sums = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Tables:
    """Per event time (rows) and group (columns): at risk and deaths; the Efron expansion of
    the times with few ties (time index and x = l / d per term) and which times have many."""

    at_risk: np.ndarray  # K x G
    deaths: np.ndarray  # K x G
    ndead: np.ndarray  # K
    small_time: np.ndarray  # expanded terms: index into the small-tie times
    small_x: np.ndarray
    small: np.ndarray  # boolean K: d <= DIRECT_MAX_TIES


def _tables(counts: pl.DataFrame, levels: list[str]) -> _Tables:
    idx = counts.select(
        t=pl.col("time").rank("dense").cast(pl.Int64) - 1,
        g=pl.col("group").replace_strict(levels, list(range(len(levels))),
                                         return_dtype=pl.Int64),
    )
    t, g = idx["t"].to_numpy(), idx["g"].to_numpy()
    shape = (int(t.max()) + 1, len(levels))
    exits, deaths = np.zeros(shape), np.zeros(shape)
    np.add.at(exits, (t, g), counts["n_exit"].to_numpy().astype(float))
    np.add.at(deaths, (t, g), counts["n_event"].to_numpy().astype(float))
    at_risk = np.cumsum(exits[::-1], axis=0)[::-1]
    has = deaths.sum(axis=1) > 0
    at_risk, deaths = at_risk[has], deaths[has]
    ndead = deaths.sum(axis=1)
    small = ndead <= DIRECT_MAX_TIES
    nd = ndead[small].astype(np.int64)
    small_time = np.repeat(np.arange(len(nd)), nd)
    first = np.cumsum(nd) - nd
    small_x = (np.arange(len(small_time)) - np.repeat(first, nd)) / np.repeat(nd, nd)
    return _Tables(at_risk, deaths, ndead, small_time, small_x, small)


def _direct_sums(s: np.ndarray, e: np.ndarray, time: np.ndarray, x: np.ndarray) -> _Sums:
    """Sums over the Efron terms of each time of 1/u, x/u, 1/u², x/u², x²/u², log u."""
    u = s[time] - x * e[time]
    inv, inv2 = 1 / u, 1 / u**2
    n = len(s)
    return (np.bincount(time, inv, n), np.bincount(time, x * inv, n),
            np.bincount(time, inv2, n), np.bincount(time, x * inv2, n),
            np.bincount(time, x * x * inv2, n), np.bincount(time, np.log(u), n))


def _closed_sums(s: np.ndarray, e: np.ndarray, d: np.ndarray) -> _Sums:
    """The same sums from digamma / trigamma / log-gamma, u = (E/d)(c - l), c = d S / E; where
    E / S is negligible, u = S throughout."""
    tiny = e <= _NEGLIGIBLE * s
    e_safe = np.where(tiny, s, e)
    c = d * s / e_safe
    inv = (d / e_safe) * (special.digamma(c + 1) - special.digamma(c - d + 1))
    inv2 = (d / e_safe) ** 2 * (special.polygamma(1, c - d + 1) - special.polygamma(1, c + 1))
    logs = d * np.log(e_safe / d) + special.gammaln(c + 1) - special.gammaln(c - d + 1)
    x_inv = (s * inv - d) / e_safe
    x_inv2 = (s * inv2 - inv) / e_safe
    x2_inv2 = (s * s * inv2 - 2 * s * inv + d) / e_safe**2
    mean_x, mean_x2 = (d - 1) / (2 * d), (d - 1) * (2 * d - 1) / (6 * d * d)
    limit = (d / s, d * mean_x / s, d / s**2, d * mean_x / s**2, d * mean_x2 / s**2,
             d * np.log(s))
    return tuple(np.where(tiny, lim, val) for lim, val in
                 zip(limit, (inv, x_inv, inv2, x_inv2, x2_inv2, logs), strict=True))


def _efron_sums(tab: _Tables, s: np.ndarray, e: np.ndarray) -> _Sums:
    out = [np.empty(len(s)) for _ in range(6)]
    small, large = tab.small, ~tab.small
    for arr, part in zip(out, _direct_sums(s[small], e[small], tab.small_time, tab.small_x),
                         strict=True):
        arr[small] = part
    if large.any():
        for arr, part in zip(out, _closed_sums(s[large], e[large], tab.ndead[large]),
                             strict=True):
            arr[large] = part
    return tuple(out)


def _efron(tab: _Tables, beta: np.ndarray, ref: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score and information at ``beta`` (log HRs of the groups
    other than ``ref``, in group order)."""
    full = np.insert(beta, ref, 0.0)
    shift = full.max()
    w = np.exp(full - shift)
    s_g, e_g = tab.at_risk * w, tab.deaths * w  # K x G: d S / d beta_g, d E / d beta_g
    s, e = s_g.sum(axis=1), e_g.sum(axis=1)
    a0, a1, b0, b1, b2, logs = _efron_sums(tab, s, e)
    loglik = float((tab.deaths @ (full - shift)).sum() - logs.sum())
    mean_part = s_g * a0[:, None] - e_g * a1[:, None]
    score = tab.deaths.sum(axis=0) - mean_part.sum(axis=0)
    cross = ((s_g * b0[:, None]).T @ s_g - (s_g * b1[:, None]).T @ e_g
             - (e_g * b1[:, None]).T @ s_g + (e_g * b2[:, None]).T @ e_g)
    info = np.diag(mean_part.sum(axis=0)) - cross
    keep = np.arange(len(full)) != ref
    return loglik, score[keep], info[np.ix_(keep, keep)]


def _reference(n: dict[str, int], levels: list[str], reference: str | None) -> str:
    """``reference`` if it is a group, else the largest group (ties: first in level order)."""
    if reference in n:
        return reference
    return max(levels, key=lambda v: (n[v], -levels.index(v)))


def _infinite(fit: _Fit, share: np.ndarray) -> np.ndarray:
    """:func:`cohort.cox._fit`'s test; the std of an indicator column is sqrt(p (1 - p))."""
    step = np.abs(fit.step)
    sd = np.sqrt(share * (1 - share))
    return (step > 1e-9) & (step > TOLER_INF * np.abs(fit.beta)) & (step * sd > 1e-6)


def _rows(levels: list[str], ref: int, n: np.ndarray, events: np.ndarray, fit: _Fit,
          conf_level: float) -> list[dict]:
    zq = stats.norm.ppf(0.5 + conf_level / 2)
    var = np.linalg.pinv(fit.imat)
    se = np.sqrt(np.clip(np.diag(var), 0, None))
    others = [i for i in range(len(levels)) if i != ref]
    infinite = _infinite(fit, n[others] / n.sum())
    rows = [{"group": levels[ref], "n": int(n[ref]), "events": int(events[ref]),
             "is_reference": True, "hr": 1.0, "lower": None, "upper": None, "p": None,
             "text": "reference"}]
    for j, g in enumerate(others):
        est = _estimate(float(fit.beta[j]), float(se[j]), zq, bool(infinite[j]))
        lower, upper = est.get("lower"), est.get("upper")
        rows.append({"group": levels[g], "n": int(n[g]), "events": int(events[g]),
                     "is_reference": False, "hr": est["hr"], "lower": lower, "upper": upper,
                     "p": est.get("p"), "text": format_hr_ci(est["hr"], lower, upper)})
    order = {g: i for i, g in enumerate(levels)}
    return sorted(rows, key=lambda r: order[r["group"]])


def hazard_ratios_from_counts(counts: pl.DataFrame, reference: str | None = None,
                              conf_level: float = 0.95,
                              levels: list[str] | None = None) -> pl.DataFrame:
    """Cox hazard ratio of each group against ``reference`` from
    :func:`cohort.survival.event_counts` output, as :func:`cohort.survival.hazard_ratios`
    computes it from the rows (reference default, or when it is not a group: the group with
    the most rows, ties first in ``levels`` order; ``levels`` default: order of appearance).

    Returns the same frame (:data:`cohort.survival.HR_SCHEMA`, one row per group in level
    order; hr, lower, upper unitless, p Wald two-sided); no rows when the model cannot be
    fitted (one group, no events)."""
    present = counts["group"].unique(maintain_order=True).to_list()
    levels = [g for g in (levels or present) if g in set(present)]
    n_all = dict(counts.group_by("group").agg(pl.col("n_exit").sum()).iter_rows())
    ref_name = _reference(n_all, levels, reference)
    used = counts.filter(pl.col("time").is_not_nan())  # fit_cox leaves NaN times out
    levels = [g for g in levels if g in set(used["group"].to_list())]
    if len(levels) < 2 or used["n_event"].sum() == 0:
        return pl.DataFrame(schema=HR_SCHEMA)
    ref = levels.index(ref_name) if ref_name in levels else 0
    totals = used.group_by("group").agg(pl.col("n_exit").sum(), pl.col("n_event").sum())
    by_group = {g: (ne, nv) for g, ne, nv in totals.iter_rows()}
    n = np.array([by_group[g][0] for g in levels], dtype=float)
    events = np.array([by_group[g][1] for g in levels], dtype=float)
    tab = _tables(used, levels)
    fit = newton_raphson(lambda b: _efron(tab, b, ref), len(levels) - 1)
    return pl.DataFrame(_rows(levels, ref, n, events, fit, conf_level), schema=HR_SCHEMA)
