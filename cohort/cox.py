"""Cox proportional hazards models that agree with R's ``survival::coxph`` and ``cox.zph``.

Efron ties, Newton-Raphson with step halving (as ``coxph.fit``), treatment-coded dummies
against a reference level (default: first level in sorted order, as R does for character
columns), strata, Harrell's concordance as ``coxph`` reports it, and the proportional-hazards
score test of ``cox.zph(fit, transform = "km")`` (survival >= 3.0: one test per covariate,
all dummies of a factor together, plus GLOBAL). Problems become messages, not exceptions;
covariates the model cannot use are listed in ``CoxResult.dropped`` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl
from scipy import stats

from cohort.elementwise import each_value
from cohort.schema import (
    ENDPOINTS,
    PATIENT_ID,
    POST_TREATMENT_COLUMNS,
    column_label,
    identifying_columns,
    is_outcome_column,
)
from cohort.suppression import Line, count_text, protect

#: Relative change of the log partial likelihood at which Newton-Raphson stops (R: 1e-9).
EPS = 1e-10
MAX_ITER = 30
#: R's ``toler.inf`` heuristic for a coefficient that drifts to +-infinity.
TOLER_INF = np.sqrt(1e-9)
MIN_EPV = 10
#: A categorical covariate with more levels than this is not offered (one coefficient per level).
MAX_LEVELS = 20

_CATEGORICAL = (pl.String, pl.Categorical, pl.Enum, pl.Boolean)


@dataclass(frozen=True)
class TestResult:
    """A chi-square test: statistic, degrees of freedom and p-value."""

    chisq: float
    df: int
    p: float


@dataclass(frozen=True)
class DroppedCovariate:
    """A covariate (or, with ``level``, one level of a categorical covariate) left out of the
    model, and why (a phrase: "the same value (male) in every row used")."""

    covariate: str
    reason: str
    level: str | None = None

    def text(self) -> str:
        """'Sex: the same value (male) in every row used'; a level: 'Regimen = none: ...'."""
        name = column_label(self.covariate)
        return f"{name}{f' = {self.level}' if self.level else ''}: {self.reason}"


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    ``terms``: one row per model term and per reference level (``is_reference``), with
    coef (log hazard ratio), hr, lower/upper (CI of the HR), se, z, p, n/events of the
    level (categorical) or of the model (numeric), and ``per`` (numeric: the HR is per this
    many units; null for levels). ``n``/``events``: rows and events used.
    ``left_out``: column -> rows dropped because that column was missing.
    ``dropped``: covariates (or levels) the model could not use, with the reason.
    ``ph_test``: cox.zph-style test per covariate and a GLOBAL row.
    """

    terms: pl.DataFrame
    n: int
    events: int
    left_out: dict[str, int]
    concordance: float | None
    concordance_se: float | None
    lr_test: TestResult | None
    wald_test: TestResult | None
    score_test: TestResult | None
    ph_test: pl.DataFrame
    messages: list[str] = field(default_factory=list)
    loglik: tuple[float, float] | None = None
    converged: bool = False
    iterations: int = 0
    strata: tuple[str, ...] = ()
    conf_level: float = 0.95
    method: str = "Efron"
    dropped: tuple[DroppedCovariate, ...] = ()


@dataclass(frozen=True)
class _Column:
    """One column of the design matrix."""

    term: str
    covariate: str
    level: str | None
    reference_level: str | None


@dataclass
class _Design:
    x: np.ndarray  # n x p, uncentered
    columns: list[_Column]
    levels: dict[str, tuple[list[str], str]]  # categorical covariate -> (levels, reference)
    codes: dict[str, np.ndarray]  # categorical covariate -> level string per row
    covariates: list[str]  # covariates kept, in order
    per: dict[str, float]  # numeric covariate -> units per HR (the column enters divided by it)


# ---------------------------------------------------------------------------------------------
# Data preparation
# ---------------------------------------------------------------------------------------------


def _missing(s: pl.Series) -> pl.Series:
    miss = s.is_null()
    if s.dtype.is_float():
        miss = miss | s.is_nan().fill_null(True)
    return miss


def _complete_cases(df: pl.DataFrame, cols: list[str]) -> tuple[pl.DataFrame, dict[str, int]]:
    """Rows with no missing value in ``cols`` and, per column, how many rows it left out."""
    masks = {c: _missing(df[c]) for c in cols}
    left_out = {c: int(m.sum()) for c, m in masks.items() if m.any()}
    drop = pl.Series([False] * df.height)
    for m in masks.values():
        drop = drop | m
    return df.filter(~drop), left_out


def covariate_levels(s: pl.Series) -> list[str]:
    """Levels present, in R's order: enum order for ``pl.Enum``, otherwise sorted."""
    present = set(s.drop_nulls().cast(pl.String).unique().to_list())
    if isinstance(s.dtype, pl.Enum):
        return [v for v in s.dtype.categories.to_list() if v in present]
    return sorted(present)


def largest_level(s: pl.Series) -> str | None:
    """The most frequent level of ``s`` (ties: the first in :func:`covariate_levels` order):
    the reference level the Cox screen proposes. None without values."""
    counts = dict(s.drop_nulls().cast(pl.String).value_counts().iter_rows())
    levels = covariate_levels(s)
    return max(levels, key=lambda v: (counts[v], -levels.index(v))) if levels else None


def _single_value(value: object) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return f"the same value ({text}) in every row used"


def _categorical_columns(cov: str, s: pl.Series, reference: dict[str, str],
                         messages: list[str]) -> tuple[list[str], str, np.ndarray] | str:
    """(levels, reference, level per row) of a categorical covariate, or why it is left out."""
    lv = covariate_levels(s)
    if len(lv) < 2:
        return _single_value(lv[0] if lv else "none")
    ref = reference.get(cov, lv[0])
    if ref not in lv:
        messages.append(f"Reference level '{ref}' of '{cov}' is not in the data; "
                        f"using '{lv[0]}'.")
        ref = lv[0]
    return lv, ref, s.cast(pl.String).to_numpy().astype(str)


def _build_design(
    df: pl.DataFrame,
    covariates: list[str],
    reference: dict[str, str],
    per: dict[str, float],
    messages: list[str],
    dropped: list[DroppedCovariate],
) -> _Design:
    cols: list[np.ndarray] = []
    spec: list[_Column] = []
    levels: dict[str, tuple[list[str], str]] = {}
    codes: dict[str, np.ndarray] = {}
    kept: list[str] = []
    for cov in covariates:
        s = df[cov]
        if isinstance(s.dtype, _CATEGORICAL):
            found = _categorical_columns(cov, s, reference, messages)
            if isinstance(found, str):
                dropped.append(DroppedCovariate(cov, found))
                continue
            lv, ref, code = found
            levels[cov], codes[cov] = (lv, ref), code
            for level in (v for v in lv if v != ref):
                cols.append((code == level).astype(float))
                spec.append(_Column(f"{cov}{level}", cov, level, ref))
        elif s.dtype.is_numeric():
            v = s.cast(pl.Float64).to_numpy()
            if np.unique(v).size < 2:
                dropped.append(DroppedCovariate(cov, _single_value(v[0] if v.size else "none")))
                continue
            cols.append(v / per.get(cov, 1.0))
            spec.append(_Column(cov, cov, None, None))
        else:
            dropped.append(DroppedCovariate(cov, f"its type ({s.dtype}) cannot be a covariate"))
            continue
        kept.append(cov)
    x = np.column_stack(cols) if cols else np.empty((df.height, 0))
    used_per = {c: per.get(c, 1.0) for c in kept if c not in levels}
    return _Design(x, spec, levels, codes, kept, used_per)


COLLINEAR = "collinear with the other covariates (a linear combination of them)"


def _drop_collinear(design: _Design, dropped: list[DroppedCovariate]) -> _Design:
    """Leave out columns that are linear combinations of earlier ones (R gives them NA)."""
    x = design.x - design.x.mean(axis=0)
    keep: list[int] = []
    for j in range(x.shape[1]):
        trial = x[:, keep + [j]]
        scale = np.linalg.norm(trial, axis=0)
        if np.linalg.matrix_rank(trial / scale, tol=1e-7 * np.sqrt(len(x))) == len(keep) + 1:
            keep.append(j)
        else:
            column = design.columns[j]
            dropped.append(DroppedCovariate(column.covariate, COLLINEAR, column.level))
    if len(keep) == x.shape[1]:
        return design
    columns = [design.columns[j] for j in keep]
    kept = [c for c in design.covariates if any(col.covariate == c for col in columns)]
    per = {c: u for c, u in design.per.items() if c in kept}
    return _Design(design.x[:, keep], columns, design.levels, design.codes, kept, per)


def _strata_codes(df: pl.DataFrame, strata: list[str]) -> np.ndarray:
    """Integer stratum per row (0 when unstratified)."""
    if not strata:
        return np.zeros(df.height, dtype=np.int64)
    key = pl.concat_str([pl.col(c).cast(pl.String) for c in strata], separator="\x1f")
    return df.select(key.rank("dense").alias("k"))["k"].to_numpy().astype(np.int64) - 1


# ---------------------------------------------------------------------------------------------
# Efron partial likelihood
# ---------------------------------------------------------------------------------------------


@dataclass
class _Block:
    """One stratum, rows sorted by decreasing time; sums are over tied-time groups."""

    x: np.ndarray
    time: np.ndarray
    status: np.ndarray
    ends: np.ndarray  # last row index of each event-time group (risk set = rows[:end+1])
    starts: np.ndarray  # first row index of each event-time group
    ndead: np.ndarray  # deaths per event-time group
    gtime: np.ndarray | None = None  # cox.zph time transform per event-time group


def _blocks(x: np.ndarray, time: np.ndarray, status: np.ndarray, strat: np.ndarray) -> list[_Block]:
    out = []
    for s in np.unique(strat):
        idx = np.flatnonzero(strat == s)
        order = idx[np.lexsort((status[idx], -time[idx]))]
        t, d = time[order], status[order]
        new = np.r_[True, t[1:] != t[:-1]]
        starts = np.flatnonzero(new)
        ends = np.r_[starts[1:] - 1, len(t) - 1]
        ndead = np.add.reduceat(d, starts)
        has = ndead > 0
        out.append(_Block(x[order], t, d, ends[has], starts[has], ndead[has]))
    return out


@dataclass
class _EfronRows:
    """Per death (Efron-expanded) quantities of one block at one beta."""

    group: np.ndarray  # event-time group of each expanded row
    frac: np.ndarray  # Efron's fraction of the tied deaths' weight removed, per expanded row
    den: np.ndarray
    mean: np.ndarray  # weighted covariate mean per expanded row
    dead_x: np.ndarray  # covariates of the deaths, by group order
    dead_group: np.ndarray
    block: _Block
    risk: np.ndarray  # exp(linear predictor) per row of the block

    def var_sum(self, weight: np.ndarray | None = None) -> np.ndarray:
        """Sum over expanded rows k of weight_k * (weighted covariance of the risk set at k), a
        p x p matrix, without forming the per-row covariances: each row of the block enters
        with the summed weight of the risk sets it belongs to."""
        weight = np.ones(len(self.den)) if weight is None else weight
        n_groups = len(self.block.ends)
        per_group = np.bincount(self.group, weight / self.den, n_groups)
        removed = np.bincount(self.group, weight * self.frac / self.den, n_groups)
        at_end = np.zeros(len(self.risk))
        at_end[self.block.ends] = per_group
        row_weight = self.risk * np.cumsum(at_end[::-1])[::-1]  # risk set g = rows[:end_g + 1]
        dead = self.block.status == 1
        row_weight[dead] -= self.risk[dead] * removed[self.dead_group]
        x = self.block.x
        return (x * row_weight[:, None]).T @ x - (self.mean * weight[:, None]).T @ self.mean


def _efron_rows(b: _Block, beta: np.ndarray) -> tuple[_EfronRows, float]:
    eta = b.x @ beta
    eta = eta - eta.max()
    r = np.exp(eta)
    rx = r[:, None] * b.x
    s0, s1 = np.cumsum(r)[b.ends], np.cumsum(rx, 0)[b.ends]
    dead = b.status == 1
    dg = np.searchsorted(b.starts, np.flatnonzero(dead), side="right") - 1
    nd = b.ndead.astype(int)
    first_death = np.r_[0, np.cumsum(nd)[:-1]]  # deaths come in group order
    d0 = np.add.reduceat(r[dead], first_death)
    d1 = np.add.reduceat(rx[dead], first_death, axis=0)
    g = np.repeat(np.arange(len(nd)), nd)
    f = (np.arange(len(g)) - np.repeat(first_death, nd)) / np.repeat(nd, nd)
    den = s0[g] - f * d0[g]
    mean = (s1[g] - f[:, None] * d1[g]) / den[:, None]
    loglik = float(eta[dead].sum() - np.log(den).sum())
    return _EfronRows(g, f, den, mean, b.x[dead], dg, b, r), loglik


def _efron(blocks: list[_Block], beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    p = len(beta)
    loglik, u, imat = 0.0, np.zeros(p), np.zeros((p, p))
    for b in blocks:
        rows, ll = _efron_rows(b, beta)
        loglik += ll
        u += rows.dead_x.sum(0) - rows.mean.sum(0)
        imat += rows.var_sum()
    return loglik, u, imat


@dataclass
class _Fit:
    beta: np.ndarray
    loglik0: float
    loglik: float
    u0: np.ndarray
    imat0: np.ndarray
    imat: np.ndarray
    step: np.ndarray  # the Newton step that would follow (for the infinite-coefficient check)
    converged: bool
    iterations: int
    singular: bool


def _solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, bool]:
    try:
        return np.linalg.solve(a, b), False
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0], True


def newton_raphson(efron: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
                   p: int) -> _Fit:
    """Newton-Raphson from beta = 0 with step halving, as R's coxph.fit; ``efron(beta)``
    gives the Efron log partial likelihood, its score and its information matrix."""
    beta = np.zeros(p)
    ll0, u0, i0 = efron(beta)
    ll, u, imat = ll0, u0, i0
    singular, converged, it = False, False, 0
    for it in range(1, MAX_ITER + 1):  # noqa: B007
        step, sing = _solve(imat, u)
        singular |= sing
        new = beta + step
        nll, nu, nimat = efron(new)
        for _ in range(40):
            if np.isfinite(nll) and nll >= ll - 1e-12 * abs(ll):
                break
            new = (beta + new) / 2
            nll, nu, nimat = efron(new)
        done = abs(1 - ll / nll) <= EPS if nll != 0 else True
        beta, ll, u, imat = new, nll, nu, nimat
        if done:
            converged = True
            break
    step, _ = _solve(imat, u)
    return _Fit(beta, ll0, ll, u0, i0, imat, step, converged, it, singular)


# ---------------------------------------------------------------------------------------------
# Tests, concordance, proportional hazards
# ---------------------------------------------------------------------------------------------


def _chisq(stat: float, df: int) -> TestResult:
    return TestResult(float(stat), int(df), float(stats.chi2.sf(stat, df)))


def _km_transform(time: np.ndarray, status: np.ndarray, at: np.ndarray) -> np.ndarray:
    """1 - S(t-) of the pooled Kaplan-Meier at times ``at`` (cox.zph's "km" transform)."""
    etimes, ndead = np.unique(time[status == 1], return_counts=True)
    nrisk = len(time) - np.searchsorted(np.sort(time), etimes, side="left")
    surv = np.r_[1.0, np.cumprod(1 - ndead / nrisk)]
    return 1 - surv[np.searchsorted(etimes, at, side="left")]


def _ph_test(
    blocks: list[_Block], beta: np.ndarray, columns: list[_Column], gtime_of: dict
) -> pl.DataFrame:
    """cox.zph score test (survival >= 3.0): per covariate (all its dummies) and GLOBAL."""
    p = len(beta)
    u2 = np.zeros(p)
    imat = np.zeros((2 * p, 2 * p))
    for k, b in enumerate(blocks):
        rows, _ = _efron_rows(b, beta)
        g_grp = gtime_of[k]
        g_row = g_grp[rows.group]
        u2 += (g_grp[rows.dead_group][:, None] * rows.dead_x).sum(0)
        u2 -= (g_row[:, None] * rows.mean).sum(0)
        imat[:p, :p] += rows.var_sum()
        imat[:p, p:] += rows.var_sum(g_row)
        imat[p:, p:] += rows.var_sum(g_row**2)
    imat[p:, :p] = imat[:p, p:].T
    u = np.r_[np.zeros(p), u2]
    out = []
    covs = list(dict.fromkeys(c.covariate for c in columns))
    for cov in covs:
        jj = [j for j, c in enumerate(columns) if c.covariate == cov]
        kk = list(range(p)) + [j + p for j in jj]
        sub_u = u[kk]
        stat = float(sub_u @ _solve(imat[np.ix_(kk, kk)], sub_u)[0])
        out.append((cov, *vars(_chisq(stat, len(jj))).values()))
    stat = float(u @ _solve(imat, u)[0])
    out.append(("GLOBAL", *vars(_chisq(stat, p)).values()))
    return pl.DataFrame(out, schema=["covariate", "chisq", "df", "p"], orient="row")


def _dense_rank(*keys: np.ndarray) -> tuple[np.ndarray, int]:
    """0-based dense rank of the rows of ``keys`` (sorted lexicographically, last key first, as
    ``np.lexsort``) and the number of distinct rows."""
    order = np.lexsort(keys)
    changed = np.zeros(len(order), dtype=bool)
    for key in keys:
        changed[1:] |= key[order][1:] != key[order][:-1]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(changed)
    return rank, int(rank.max()) + 1 if len(rank) else 0


def _linear_predictor(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """x @ beta, computed once per distinct covariate row so that equal rows tie exactly."""
    row_rank, n_distinct = _dense_rank(*x.T[::-1])
    first = np.zeros(n_distinct, dtype=np.int64)
    first[row_rank[::-1]] = np.arange(len(row_rank))[::-1]
    return (x[first] @ beta)[row_rank]


def _concordance_counts(
    time: np.ndarray, status: np.ndarray, lp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Totals (concordant, discordant, tied on lp) and the same per observation.

    A pair is comparable when the shorter time is an event; a censored time equal to an
    event time counts as longer; tied event times are not compared (as survival's
    ``concordancefit``). Concordant = the event has the higher linear predictor.

    In O(n log² n): rows are ranked by (time, censored after events), so that the pairs are
    exactly (event i, row j) with rank_i < rank_j. Two ranks first differ at one bit; at each
    bit level, events with a 0 there are compared, by sorted search over lp ranks, with rows
    that share the higher bits and have a 1.
    """
    dead = status == 1
    order_rank, n_keys = _dense_rank((~dead).astype(np.int8), time)
    lp_rank, n_lp = _dense_rank(lp)
    width = n_lp + 1
    per = np.zeros((len(time), 3))
    for level in range(max(n_keys - 1, 0).bit_length()):
        prefix = (order_rank >> (level + 1)) * width
        high = ((order_rank >> level) & 1) == 1
        low_events = ~high & dead
        _count_pairs(per, prefix, lp_rank, width, queries=low_events, against=high, flip=False)
        _count_pairs(per, prefix, lp_rank, width, queries=high, against=low_events, flip=True)
    return per.sum(0) / 2, per


def _count_pairs(per: np.ndarray, prefix: np.ndarray, lp_rank: np.ndarray, width: int,
                 queries: np.ndarray, against: np.ndarray, flip: bool) -> None:
    """Add to ``per`` the (concordant, discordant, tied) counts of each query row against the
    rows of ``against`` with the same prefix. A query's own lp is the event's (``flip`` False:
    lower lp against = concordant) or the comparator's (``flip`` True: lower = discordant)."""
    sorted_codes = np.sort(prefix[against] + lp_rank[against])
    code = prefix[queries] + lp_rank[queries]
    first = np.searchsorted(sorted_codes, prefix[queries], side="left")
    last = np.searchsorted(sorted_codes, prefix[queries] + width, side="left")
    below = np.searchsorted(sorted_codes, code, side="left") - first
    at_or_below = np.searchsorted(sorted_codes, code, side="right") - first
    above = last - first - at_or_below
    lower_col, higher_col = (1, 0) if flip else (0, 1)
    per[queries, lower_col] += below
    per[queries, higher_col] += above
    per[queries, 2] += at_or_below - below


def _concordance(
    time: np.ndarray, status: np.ndarray, lp: np.ndarray, strat: np.ndarray
) -> tuple[float | None, float | None]:
    """Harrell's C and its infinitesimal-jackknife SE, as ``coxph``'s ``concordance``."""
    totals, per = np.zeros(3), np.zeros((len(time), 3))
    for s in np.unique(strat):
        idx = np.flatnonzero(strat == s)
        t, p = _concordance_counts(time[idx], status[idx], lp[idx])
        totals += t
        per[idx] = p
    npair = totals.sum()
    if npair == 0:
        return None, None
    somer = (totals[0] - totals[1]) / npair
    dfbeta = (per[:, 0] - per[:, 1]) / npair - somer / npair * per.sum(1)
    return float((somer + 1) / 2), float(np.sqrt((dfbeta**2).sum() / 4))


# ---------------------------------------------------------------------------------------------
# Result tables
# ---------------------------------------------------------------------------------------------


def _terms_table(
    design: _Design, fit: _Fit, events: np.ndarray, infinite: np.ndarray, conf_level: float
) -> pl.DataFrame:
    zq = stats.norm.ppf(0.5 + conf_level / 2)
    var = np.linalg.pinv(fit.imat) if fit.imat.size else fit.imat
    se = np.sqrt(np.clip(np.diag(var), 0, None))
    n, nev = len(events), int(events.sum())
    rows: list[dict] = []
    for cov in design.covariates:
        if cov in design.levels:
            lv, ref = design.levels[cov]
            code = design.codes[cov]
            m = code == ref
            rows.append(_row(f"{cov}{ref}", cov, ref, ref, int(m.sum()), int(events[m].sum())))
        for j, col in enumerate(design.columns):
            if col.covariate != cov:
                continue
            if col.level is None:
                ln, le = n, nev
            else:
                m = design.codes[cov] == col.level
                ln, le = int(m.sum()), int(events[m].sum())
            b = float(fit.beta[j])
            stats_ = _estimate(b, float(se[j]), zq, bool(infinite[j]))
            rows.append(_row(col.term, cov, col.level, col.reference_level, ln, le,
                             per=design.per.get(cov), **stats_))
    return pl.DataFrame(rows, schema=_TERM_SCHEMA)


_TERM_SCHEMA = {
    "term": pl.String, "covariate": pl.String, "level": pl.String,
    "reference_level": pl.String, "is_reference": pl.Boolean, "estimable": pl.Boolean,
    "coef": pl.Float64, "hr": pl.Float64, "lower": pl.Float64, "upper": pl.Float64,
    "se": pl.Float64, "z": pl.Float64, "p": pl.Float64, "n": pl.Int64, "events": pl.Int64,
    "per": pl.Float64,
}


def _row(term, cov, level, ref, n, events, per=None, **est) -> dict:
    is_ref = not est
    base = {"term": term, "covariate": cov, "level": level, "reference_level": ref,
            "is_reference": is_ref, "estimable": True, "coef": None, "hr": 1.0 if is_ref else None,
            "lower": None, "upper": None, "se": None, "z": None, "p": None,
            "n": n, "events": events, "per": per}
    base.update(est)
    return base


def _estimate(b: float, se: float, zq: float, infinite: bool) -> dict:
    if infinite:
        return {"estimable": False, "coef": b, "hr": 0.0 if b < 0 else float("inf")}
    z = b / se if se > 0 else float("nan")
    return {"coef": b, "hr": float(np.exp(b)), "lower": float(np.exp(b - zq * se)),
            "upper": float(np.exp(b + zq * se)), "se": se, "z": z,
            "p": float(2 * stats.norm.sf(abs(z)))}


def _empty_result(n, events, left_out, messages, strata, conf_level, dropped) -> CoxResult:
    terms = pl.DataFrame(schema=_TERM_SCHEMA)
    ph = pl.DataFrame(schema={"covariate": pl.String, "chisq": pl.Float64, "df": pl.Int64,
                              "p": pl.Float64})
    return CoxResult(terms, n, events, left_out, None, None, None, None, None, ph,
                     messages, strata=tuple(strata), conf_level=conf_level,
                     dropped=tuple(dropped))


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _as_list(strata: str | list[str] | None) -> list[str]:
    if strata is None:
        return []
    return [strata] if isinstance(strata, str) else list(strata)


def _problem_messages(design: _Design, events: np.ndarray, messages: list[str]) -> set[str]:
    """Add messages for levels without events and low events per variable.

    Returns the covariates that have a level without events.
    """
    flagged: set[str] = set()
    for cov, (lv, ref) in design.levels.items():
        if cov not in design.covariates:
            continue
        for level in lv:
            if events[design.codes[cov] == level].sum() == 0:
                flagged.add(cov)
                role = "reference level" if level == ref else "level"
                messages.append(f"{role.capitalize()} '{level}' of '{cov}' has no events: "
                                "its hazard ratio cannot be estimated (it tends to 0 or "
                                "infinity). Merge or exclude this level.")
    p, nev = design.x.shape[1], int(events.sum())
    if p and nev / p < MIN_EPV:
        messages.append(f"Only {nev / p:.1f} events per coefficient ({nev} events, {p} "
                        f"coefficients; at least {MIN_EPV} recommended): estimates may be "
                        "unstable and over-fitted.")
    return flagged


def is_categorical(dtype: pl.DataType) -> bool:
    """Whether a column of this type enters a model as levels (dummies) rather than a number."""
    return isinstance(dtype, _CATEGORICAL)


def outcome_columns(columns: list[str]) -> set[str]:
    """Endpoint columns among ``columns`` (canonical ones and any
    :func:`cohort.schema.is_outcome_column`: ``_months``, ``_event``, an endpoint's ``_days``),
    plus outcomes observed after treatment (:data:`cohort.schema.POST_TREATMENT_COLUMNS`)."""
    present = set(columns)
    out = {c for e in ENDPOINTS.values() for c in (e.time, e.event)} | set(POST_TREATMENT_COLUMNS)
    out |= {c for c in present if is_outcome_column(c, present)}
    return out & present


def covariate_options(patients: pl.DataFrame, identifying: Collection[str] | None = None
                      ) -> list[str]:
    """Columns usable as baseline covariates, in table order: not the id, not an outcome, not a
    list, not ``identifying`` (default: as detected in ``patients``; its levels would go into
    links), more than one value, and at most :data:`MAX_LEVELS` levels if categorical."""
    if identifying is None:
        identifying = identifying_columns(patients)
    excluded = outcome_columns(patients.columns) | {PATIENT_ID} | set(identifying)
    out = []
    for name, dtype in patients.schema.items():
        if name in excluded or isinstance(dtype, pl.List):
            continue
        distinct = patients[name].drop_nulls().n_unique()
        if distinct >= 2 and not (is_categorical(dtype) and distinct > MAX_LEVELS):
            out.append(name)
    return out


ALL_MISSING = "missing in every row that has the endpoint"


def _all_missing(df: pl.DataFrame, covariates: list[str], required: list[str]) -> list[str]:
    """Covariates without a single value in the rows that have ``required`` (time, event,
    strata): kept, they would leave every row out."""
    absent = pl.Series([False] * df.height)
    for c in required:
        absent = absent | _missing(df[c])
    rows = df.filter(~absent)
    return [c for c in covariates if rows.height and bool(_missing(rows[c]).all())]


def _check_per(per: Mapping[str, float]) -> dict[str, float]:
    for cov, unit in per.items():
        if not (isinstance(unit, int | float) and np.isfinite(unit) and unit > 0):
            raise ValueError(f"the unit of '{cov}' must be a positive number, not {unit!r}")
    return {c: float(u) for c, u in per.items()}


def fit_cox(
    df: pl.DataFrame,
    time: str,
    event: str,
    covariates: list[str],
    reference: dict[str, str] | None = None,
    strata: str | list[str] | None = None,
    conf_level: float = 0.95,
    per: Mapping[str, float] | None = None,
) -> CoxResult:
    """Fit a Cox model (Efron ties) as R's ``coxph``; event 1 = event, any other code censored.

    Returns a :class:`CoxResult`; coefficients are log hazard ratios per unit of each numeric
    covariate (in its own units; ``per`` = {column: k}: per k units, the column entering the
    model as column / k, as ``coxph(Surv(t, e) ~ I(age / 10))``) or versus the reference level
    of a categorical one (default: the first level, as R).
    """
    strata_cols = _as_list(strata)
    missing_cols = [c for c in [time, event, *covariates, *strata_cols] if c not in df.columns]
    if missing_cols:
        raise ValueError(f"columns not in the data: {', '.join(missing_cols)}")
    per = _check_per(per or {})
    messages: list[str] = []
    covariates = list(dict.fromkeys(covariates))
    empty = _all_missing(df, covariates, [time, event, *strata_cols])
    dropped = [DroppedCovariate(c, ALL_MISSING) for c in empty]
    covariates = [c for c in covariates if c not in empty]
    used_cols = list(dict.fromkeys([time, event, *covariates, *strata_cols]))
    data, left_out = _complete_cases(df, used_cols)
    if left_out:
        detail = ", ".join(f"'{c}' ({k})" for c, k in left_out.items())
        messages.append(f"{df.height - data.height} of {df.height} rows left out: "
                        f"missing {detail}.")
    t = data[time].cast(pl.Float64).to_numpy()
    d = (data[event].cast(pl.Float64).to_numpy() == 1).astype(float)
    nev = int(d.sum())
    if nev == 0:
        messages.append("No events in the rows used: a Cox model cannot be fitted.")
        return _empty_result(data.height, 0, left_out, messages, strata_cols, conf_level,
                             dropped)
    design = _drop_collinear(
        _build_design(data, covariates, reference or {}, per, messages, dropped), dropped)
    if not design.columns:
        messages.append("No usable covariates: nothing to fit.")
        return _empty_result(data.height, nev, left_out, messages, strata_cols, conf_level,
                             dropped)
    no_events = _problem_messages(design, d, messages)
    result = _fit(design, t, d, _strata_codes(data, strata_cols), left_out, messages,
                  strata_cols, conf_level, no_events)
    return replace(result, dropped=tuple(dropped))


def _fit(
    design, t, d, strat, left_out, messages, strata_cols, conf_level, no_events
) -> CoxResult:
    x = design.x - design.x.mean(axis=0)
    blocks = _blocks(x, t, d, strat)
    p = x.shape[1]
    fit = newton_raphson(lambda beta: _efron(blocks, beta), p)
    if not fit.converged:
        messages.append(f"The model did not converge in {MAX_ITER} iterations: estimates are "
                        "unreliable.")
    if fit.singular:
        messages.append("The information matrix is singular: some covariates are redundant.")
    # R's test (the next Newton step is not negligible) plus: still moving on the scale of
    # the linear predictor, so tiny coefficients of covariates in large units are not flagged
    step = np.abs(fit.step)
    infinite = (step > 1e-9) & (step > TOLER_INF * np.abs(fit.beta)) & (step * x.std(0) > 1e-6)
    for j in np.flatnonzero(infinite):
        if design.columns[j].covariate in no_events:
            continue  # already explained by the "no events" message
        messages.append(f"The coefficient of '{design.columns[j].term}' may be infinite "
                        "(monotone likelihood): its hazard ratio and CI are not reported.")
    score, _ = _solve(fit.imat0, fit.u0)
    centre = _km_transform(t, d, t[d == 1]).mean()
    gtime_of = {k: _km_transform(t, d, b.time[b.ends]) - centre for k, b in enumerate(blocks)}
    lp = _linear_predictor(x, fit.beta)
    conc, conc_se = _concordance(t, d, lp, strat)
    return CoxResult(
        terms=_terms_table(design, fit, d, infinite, conf_level),
        n=len(t), events=int(d.sum()), left_out=left_out,
        concordance=conc, concordance_se=conc_se,
        lr_test=_chisq(2 * (fit.loglik - fit.loglik0), p),
        wald_test=_chisq(float(fit.beta @ fit.imat @ fit.beta), p),
        score_test=_chisq(float(fit.u0 @ score), p),
        ph_test=_ph_test(blocks, fit.beta, design.columns, gtime_of),
        messages=messages, loglik=(fit.loglik0, fit.loglik), converged=fit.converged,
        iterations=fit.iterations, strata=tuple(strata_cols), conf_level=conf_level,
    )


def univariable_screen(
    df: pl.DataFrame,
    time: str,
    event: str,
    covariates: list[str],
    reference: dict[str, str] | None = None,
    conf_level: float = 0.95,
    per: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Each covariate alone in its own Cox model (its own complete cases; ``per`` as in
    :func:`fit_cox`).

    Returns the rows of each model's ``terms`` plus ``lr_p`` (likelihood-ratio p of the
    covariate) and ``messages`` (the model's messages and why it left a covariate out).
    """
    frames = []
    for cov in covariates:
        res = fit_cox(df, time, event, [cov], reference=reference, conf_level=conf_level,
                      per=per)
        lr_p = res.lr_test.p if res.lr_test else None
        notes = [*res.messages, *(f"{d.text()}." for d in res.dropped)]
        frames.append(res.terms.with_columns(
            pl.lit(lr_p, dtype=pl.Float64).alias("lr_p"),
            pl.lit(" ".join(notes), dtype=pl.String).alias("messages"),
        ))
    if not frames:
        return pl.DataFrame(schema={**_TERM_SCHEMA, "lr_p": pl.Float64, "messages": pl.String})
    return pl.concat(frames, how="vertical")


# ---------------------------------------------------------------------------------------------
# Univariable beside multivariable
# ---------------------------------------------------------------------------------------------

_ESTIMATES = ("hr", "lower", "upper", "p")


#: Decimals of a hazard ratio and its CI: at least the usual two, at most six.
HR_MIN_DIGITS, HR_MAX_DIGITS = 2, 6


def hr_digits(hr: float | None, lower: float | None, upper: float | None,
              minimum: int = HR_MIN_DIGITS, maximum: int = HR_MAX_DIGITS) -> int:
    """The fewest decimals (``minimum`` to ``maximum``) at which the HR and both CI bounds,
    as printed, each differ from 1 (and from 0) and from one another, wherever the values
    themselves do: 1.0043 (0.9991–1.0096) -> 3, "1.004 (0.999–1.010)", not "1.00 (1.00–1.01)"."""
    values = [v for v in (hr, lower, upper) if v is not None and np.isfinite(v)]
    targets = [*values, 0.0, 1.0]
    for digits in range(minimum, maximum + 1):
        text = [f"{v:.{digits}f}" for v in targets]
        if all(text[i] != text[j] for i, a in enumerate(values)
               for j, b in enumerate(targets) if j > i and a != b):
            return digits
    return maximum


def format_hr_ci(hr: float | None, lower: float | None, upper: float | None,
                 digits: int | None = None) -> str:
    """'0.85 (0.60–1.21)', with :func:`hr_digits` decimals unless ``digits`` is given;
    'not estimable' without a finite CI; '' without an HR."""
    if hr is None:
        return ""
    if lower is None or upper is None or not (np.isfinite(lower) and np.isfinite(upper)):
        return "not estimable"
    digits = hr_digits(hr, lower, upper) if digits is None else digits
    return f"{hr:.{digits}f} ({lower:.{digits}f}–{upper:.{digits}f})"


def format_p_value(p: float | None) -> str:
    """'<0.001', '0.042'; '' when missing."""
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _name_and_unit(covariate: str) -> tuple[str, str | None]:
    """'Age (years)' -> ('Age', 'years'); 'Metastases (n)' -> ('Metastases', None)."""
    label = column_label(covariate)
    named = re.fullmatch(r"(.+) \(([^()]+)\)", label)
    if named is None:
        return label, None
    name, unit = named.groups()
    return name, (None if unit == "n" else unit)


def per_text(covariate: str, per: float) -> str:
    """'per 10 years', 'per year', 'per 2.5 Gy'; without a unit 'per 10'."""
    unit = _name_and_unit(covariate)[1]
    if unit is None:
        return f"per {per:g}"
    if per == 1:
        return f"per {unit[:-1] if unit.endswith('s') else unit}"
    return f"per {per:g} {unit}"


def covariate_label(covariate: str, per: float | None = None) -> str:
    """The covariate as a table or figure names it: 'Age (years)'; per 10 units 'Age (per 10
    years)'; a label without a unit 'Karnofsky score (per 10)'."""
    if per is None or per == 1:
        return column_label(covariate)
    return f"{_name_and_unit(covariate)[0]} ({per_text(covariate, per)})"


def _side_text(row: dict, prefix: str, in_model: bool) -> tuple[str, str]:
    """HR (CI) text and p text of one side (univariable or multivariable) of a merged row."""
    if not in_model:
        return "not in model", ""
    if row[f"{prefix}_is_reference"]:
        return "reference", ""
    hr_ci = format_hr_ci(row[f"{prefix}_hr"], row[f"{prefix}_lower"], row[f"{prefix}_upper"])
    return hr_ci, format_p_value(row[f"{prefix}_p"])


def univariable_multivariable_table(
    univariable: pl.DataFrame, multivariable: pl.DataFrame
) -> pl.DataFrame:
    """One row per covariate level (or numeric covariate): univariable beside multivariable.

    ``univariable``: :func:`univariable_screen`; ``multivariable``: ``CoxResult.terms``.
    Rows follow the univariable screen, then any multivariable-only rows. Columns:
    covariate, level, per (numeric: units per HR), ``uni_``/``multi_`` + hr, lower, upper, p
    (Wald, per term), n, events, is_reference, and the text columns ``uni_hr_ci``,
    ``uni_p_text``, ``multi_hr_ci``, ``multi_p_text`` ("reference" for a reference level,
    "not in model" for a covariate the model left out, "not estimable" for an infinite
    coefficient).
    """
    keep = ["covariate", "level", *_ESTIMATES, "n", "events", "is_reference"]

    def side(terms: pl.DataFrame, prefix: str) -> pl.DataFrame:
        out = terms.select(keep).with_columns(pl.lit(True).alias("_in"))
        return out.rename({c: f"{prefix}_{c}" for c in [*keep[2:], "_in"]})

    uni, multi = side(univariable, "uni"), side(multivariable, "multi")
    order = (
        pl.concat([t.select("covariate", "level", "per") for t in (univariable, multivariable)])
        .unique(["covariate", "level"], maintain_order=True).with_row_index("_order")
    )
    merged = (
        order.join(uni, on=["covariate", "level"], how="left", nulls_equal=True)
        .join(multi, on=["covariate", "level"], how="left", nulls_equal=True)
        .sort("_order")
    )
    texts = {k: [] for k in ("uni_hr_ci", "uni_p_text", "multi_hr_ci", "multi_p_text")}
    for row in merged.iter_rows(named=True):
        for prefix in ("uni", "multi"):
            hr_ci, p = _side_text(row, prefix, bool(row[f"{prefix}__in"]))
            texts[f"{prefix}_hr_ci"].append(hr_ci)
            texts[f"{prefix}_p_text"].append(p)
    return merged.drop("_order", "uni__in", "multi__in").with_columns(
        pl.Series(k, v, dtype=pl.String) for k, v in texts.items()
    )


#: A cell where a value does not apply (a covariate the model left out has no n or events).
NOT_APPLICABLE = "–"


def _count_text(table: pl.DataFrame, column: str) -> pl.Series:
    """A count column as text ('1,234'; a suppressed count's text as it is; "–" where none)."""
    return each_value(table, column, lambda v: v if isinstance(v, str) else f"{v:,}"
                      ).fill_null(NOT_APPLICABLE)


def suppressed_terms(terms: pl.DataFrame, min_cell: int | None) -> pl.DataFrame:
    """A terms table (``CoxResult.terms``, :func:`univariable_screen`) with its ``n`` and
    ``events`` as text under a small-cell threshold (:mod:`cohort.suppression`): counts of 1 to
    min_cell - 1 as '<11', and, where the levels of a covariate add up to the model's count, one
    more level 'withheld' if only one would be hidden. Unchanged without a threshold."""
    if not min_cell or terms.is_empty():
        return terms
    rows = list(terms.iter_rows(named=True))
    texts: dict[str, list[str]] = {}
    for column in ("n", "events"):
        values = {i: int(r[column]) for i, r in enumerate(rows) if r[column] is not None}
        lines = []
        for covariate in terms["covariate"].unique(maintain_order=True):
            parts = tuple(i for i, r in enumerate(rows)
                          if r["covariate"] == covariate and r["level"] is not None and i in values)
            if len(parts) > 1:
                total = ("total", covariate)
                values[total] = sum(values[i] for i in parts)
                lines.append(Line(parts, total))
        hidden = protect(values, lines, min_cell)
        texts[column] = [None if i not in values else count_text(values[i], min_cell, i in hidden)
                         for i in range(len(rows))]
    return terms.with_columns(pl.Series(c, v, dtype=pl.String) for c, v in texts.items())


def hr_table_text(table: pl.DataFrame) -> pl.DataFrame:
    """:func:`univariable_multivariable_table` as the screen and the report show it, all text
    and no empty (null) cell: the covariate (its label, with the unit of its HR: "Age (per 10
    years)") on its first row only, level ('' for a numeric covariate), HR (95% CI) and p of
    each side, and the multivariable n and events ("–" where the model left the row out)."""
    labels = [covariate_label(c, per) for c, per in table.select("covariate", "per").rows()]
    first = pl.col("covariate").ne_missing(pl.col("covariate").shift(1))
    return table.with_columns(pl.Series("_label", labels, dtype=pl.String),
                              _count_text(table, "multi_n"), _count_text(table, "multi_events")
                              ).select(
        pl.when(first).then(pl.col("_label")).otherwise(pl.lit("")).alias("covariate"),
        pl.col("level").fill_null(""),
        "uni_hr_ci", "uni_p_text",
        "multi_n", "multi_events", "multi_hr_ci", "multi_p_text",
    )


def dropped_table(result: CoxResult) -> pl.DataFrame:
    """The covariates (or levels) the model left out: covariate (its label), level ('' for a
    whole covariate) and reason."""
    rows = [(column_label(d.covariate), d.level or "", d.reason) for d in result.dropped]
    return pl.DataFrame(rows, schema={"covariate": pl.String, "level": pl.String,
                                      "reason": pl.String}, orient="row")
