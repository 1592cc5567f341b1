"""Cumulative incidence under competing risks (Aalen-Johansen) and Gray's test, as cmprsk.

Event coding: 0 censored, ``cause`` (default 1) the event of interest, any other non-zero code a
competing event (2 = death first, in the canonical endpoints).

* ``cif``: Aalen-Johansen estimate, CIF(t) = sum_{s<=t} S(s-) d_cause(s) / n(s), S the all-cause
  Kaplan-Meier; identical to ``cmprsk::cuminc``'s ``est``.
* ``std_err``: square root of ``cmprsk::cuminc``'s ``var`` (Gray's delta-method variance, the
  Fortran routine ``cinc``), which R only updates at event times of the cause of interest: so
  does this module.
* ``lower``/``upper``: the log(-log) transformed band F^exp(-+z se / (F log F)) on that variance
  (cmprsk gives no CI; this is the band of tidycmprsk and Stata's stcompet). Null where F is 0.
* :func:`gray_test`: Gray's K-sample test (rho = 0, no strata), a port of cmprsk's ``crstm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import chdtrc

from cohort.survival import _z, event_counts

__all__ = ["GrayTestResult", "cif_from_counts", "cumulative_incidence", "gray_test",
           "gray_test_from_counts"]


def _t5(d: pl.Expr, n: pl.Expr) -> pl.Expr:
    """cmprsk's tie correction 1 - (d - 1) / (n - 1) (1 for a single event)."""
    return pl.when(d > 1).then(1.0 - (d - 1) / (n - 1)).otherwise(1.0)


def cumulative_incidence(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    by: str | None = None,
    cause: int = 1,
    conf_level: float = 0.95,
) -> pl.DataFrame:
    """Cumulative incidence of ``cause`` per group, one row per group and distinct time.

    Returns ``group``, ``time``, ``n_risk``, ``n_event`` (this cause), ``n_competing`` (other
    causes), ``n_censor``, ``cif`` (probability), ``std_err`` (cmprsk's sqrt(var)), ``lower``,
    ``upper`` (log(-log) band at ``conf_level``).
    """
    return cif_from_counts(event_counts(df, time, event, by, cause=cause), conf_level)


def cif_from_counts(counts: pl.DataFrame, conf_level: float = 0.95) -> pl.DataFrame:
    """:func:`cumulative_incidence` from an :func:`cohort.survival.event_counts` table (or one
    rounded by :func:`cohort.suppression.round_event_counts` with ``competing``): the number
    at risk is each group's exits from that time on."""
    z = _z(conf_level)
    n, d1, d2 = pl.col("n_risk"), pl.col("n_event"), pl.col("n_competing")
    g = "group"
    out = counts.with_columns(n_risk=pl.col("n_exit").cum_sum(reverse=True).over(g)).with_columns(
        _skm=(1.0 - (d1 + d2) / n).cum_prod().over(g),
    ).with_columns(
        _fk=pl.col("_skm").shift(1, fill_value=1.0).over(g),
    ).with_columns(
        cif=(pl.col("_fk") * d1 / n).cum_sum().over(g),
    )
    fk, fkn, f = pl.col("_fk"), pl.col("_skm"), pl.col("cif")
    t6_2 = pl.when((d2 > 0) & (fkn > 0)).then(fk * fk * _t5(d2, n) * d2 / (n * n)).otherwise(0.0)
    t6_1 = pl.when(d1 > 0).then(fk * fk * _t5(d1, n) * d1 / (n * n)).otherwise(0.0)
    inv = pl.when(fkn > 0).then(1.0 / fkn).otherwise(0.0)
    t4_1 = 1.0 + inv * f
    out = out.with_columns(
        _v1=((f * inv) ** 2 * t6_2 + t4_1**2 * t6_1).cum_sum().over(g),
        _v2=(inv * f * inv * t6_2 + inv * t4_1 * t6_1).cum_sum().over(g),
        _v3=(inv**2 * (t6_2 + t6_1)).cum_sum().over(g),
    ).with_columns(
        _var=pl.when(d1 > 0)
        .then(pl.col("_v1") + f * f * pl.col("_v3") - 2 * f * pl.col("_v2"))
        .forward_fill()
        .over(g)
        .fill_null(0.0),
    )
    se = pl.col("_var").sqrt()
    inner = pl.when((f > 0) & (f < 1)).then(z * se / (f * f.log()))
    return out.select(
        "group",
        "time",
        "n_risk",
        "n_event",
        "n_competing",
        "n_censor",
        "cif",
        std_err=se,
        lower=f.pow((-inner).exp()),
        upper=f.pow(inner.exp()),
    )


@dataclass(frozen=True)
class GrayTestResult:
    """Gray's test for equality of cumulative incidence curves (chi-square, df, p)."""

    statistic: float
    df: int
    p: float
    method: str = "Gray's test (cmprsk::cuminc, rho = 0)"


def _matrices(counts: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(at risk, cause events, competing events) as distinct-times x groups arrays."""
    groups = counts["group"].unique(maintain_order=True).to_list()
    t = (counts["time"].rank("dense").cast(pl.Int64) - 1).to_numpy()
    g = counts["group"].replace_strict(groups, list(range(len(groups))),
                                       return_dtype=pl.Int64).to_numpy()
    shape = (int(t.max()) + 1 if t.size else 0, len(groups))
    mats = []
    for col in ("n_exit", "n_event", "n_competing"):
        m = np.zeros(shape)
        m[t, g] = counts[col].to_numpy()
        mats.append(m)
    at_risk = np.cumsum(mats[0][::-1], axis=0)[::-1]
    return at_risk, mats[1], mats[2], len(groups)


def _crst(rs_all: np.ndarray, d1_all: np.ndarray, d2_all: np.ndarray,
          rho: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores (ng-1) and their covariance matrix, a port of cmprsk's Fortran ``crst``."""
    ng = rs_all.shape[1]
    k1 = ng - 1
    f1m, skmm = np.zeros(ng), np.ones(ng)
    v3, v2 = np.zeros(ng), np.zeros((k1, ng))
    c, s, v = np.zeros((ng, ng)), np.zeros(k1), np.zeros((k1, k1))
    fm = 0.0
    rows = np.flatnonzero((d1_all + d2_all).sum(axis=1) > 0)
    for r in rows:
        rs, d1, d2 = rs_all[r], d1_all[r], d2_all[r]
        live = rs > 0
        nd1, nd2 = d1.sum(), d2.sum()
        safe, sk = np.where(live, rs, 1.0), np.where(live, skmm, 1.0)
        skm = np.where(live, skmm * (rs - d1 - d2) / safe, skmm)
        f1 = np.where(live, f1m + skmm * d1 / safe, f1m)
        t1 = np.where(live, rs / sk, 0.0)
        tr = t1.sum()
        tq = np.where(live, rs * (1 - f1m) / sk, 0.0).sum()
        f = fm + nd1 / tr
        fb = (1 - fm) ** rho
        a = fb * (np.diag(t1) - np.outer(t1, t1) / tr)
        if nd1 > 0:
            c += a * nd1 / (tr * (1 - fm))
        s += np.where(live, fb * (d1 - nd1 * rs * (1 - f1m) / (sk * tq)), 0.0)[:k1]
        if nd1 > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                t4 = np.where(skm > 0, 1 - (1 - f) / skm, 1.0)
            t5 = 1 - (nd1 - 1) / (tr * skmm - 1) if nd1 > 1 else np.ones(ng)
            t3 = np.where(live, t5 * skmm * nd1 / (tr * safe), 0.0)
            v3 += t4 * t4 * t3
            tt = a[:k1] - c[:k1] * t4
            v2 += tt * (t4 * t3)
            v += (tt * t3) @ tt.T
        if nd2 > 0:
            ok = (skm > 0) & (d2 > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                t4 = np.where(ok, (1 - f) / skm, 0.0)
                t5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
                t3 = np.where(ok, t5 * skmm**2 * d2 / safe**2, 0.0)
            v3 += t4 * t4 * t3
            tt = c[:k1] * t4
            v2 -= tt * (t4 * t3)
            v += (tt * t3) @ tt.T
        fm, f1m, skmm = f, f1, skm
    ck = c[:k1]
    v += (ck * v3) @ ck.T + ck @ v2.T + v2 @ ck.T
    return s, v


def gray_test(
    df: pl.DataFrame | pl.LazyFrame,
    time: str,
    event: str,
    by: str,
    cause: int = 1,
    rho: float = 0.0,
) -> GrayTestResult:
    """Gray's test that the cumulative incidence of ``cause`` is equal across groups of ``by``.

    Returns a :class:`GrayTestResult` (chi-square statistic, df = groups - 1, p), as the
    ``Tests`` row of ``cmprsk::cuminc`` for that cause (NaN statistic when the covariance
    matrix is singular, where cmprsk reports -1).
    """
    return gray_test_from_counts(event_counts(df, time, event, by, cause=cause), rho)


def gray_test_from_counts(counts: pl.DataFrame, rho: float = 0.0) -> GrayTestResult:
    """:func:`gray_test` from :func:`cohort.survival.event_counts` output (``n_event``: the
    cause's events, ``n_competing``: the other causes')."""
    at_risk, d1, d2, ng = _matrices(counts)
    if ng < 2:
        raise ValueError("Gray's test needs at least 2 groups")
    s, v = _crst(at_risk, d1, d2, rho)
    dof = ng - 1
    if np.linalg.matrix_rank(v) < dof:
        return GrayTestResult(statistic=float("nan"), df=dof, p=float("nan"))
    stat = float(s @ np.linalg.solve(v, s))
    return GrayTestResult(statistic=stat, df=dof, p=float(chdtrc(dof, stat)))
