"""cohort.survival against R survival 3.5-3 (tests/reference/survival_reference.json, produced by
tests/reference/survival_reference.R) and against lifelines, plus edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cohort.survival import (
    kaplan_meier,
    logrank,
    median_survival,
    median_text,
    rmst,
    survival_at,
)

REF_DIR = Path(__file__).parent / "reference"
ATOL = 1e-6  # absolute tolerance for probabilities, SEs, chi-squares
RTOL = 1e-9  # relative part, for large magnitudes (expected counts, RMST in days)


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF_DIR / "survival_reference.json").read_text())


def _data(name: str, ref: dict) -> pl.DataFrame:
    if name in ("veterans", "gbsg2"):
        return pl.read_csv(REF_DIR / "data" / f"{name}.csv")
    return pl.DataFrame(ref["edge"][name]).with_columns(
        pl.col("time").cast(pl.Float64), pl.col("status").cast(pl.Int64)
    )


def _arr(x) -> list:
    return x if isinstance(x, list) else [x]


def assert_close(mine, theirs, atol: float = ATOL, rtol: float = RTOL, what: str = "") -> None:
    """Same null pattern (R NA/NaN <-> null) and |a - b| <= atol + rtol |b| elsewhere."""
    a = np.array([np.nan if v is None else v for v in _arr(mine)], dtype=float)
    b = np.array([np.nan if v is None else v for v in _arr(theirs)], dtype=float)
    assert a.shape == b.shape, f"{what}: {a.shape} != {b.shape}"
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: NA pattern {a} vs {b}"
    ok = ~np.isnan(b)
    diff = np.abs(a[ok] - b[ok])
    assert np.all(diff <= atol + rtol * np.abs(b[ok])), f"{what}: max diff {diff.max()}"


def _load() -> dict:
    return json.loads((REF_DIR / "survival_reference.json").read_text())


def _ids(key: str) -> list:
    out = []
    for e in _load()[key]:
        out.append("-".join(str(e.get(k)) for k in ("data", "by", "conf_type") if k in e))
    return out


# ------------------------------------------------------------------------------------------
# R survival
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(len(_load()["km"])), ids=_ids("km"))
def test_km_matches_r(ref: dict, i: int) -> None:
    e = ref["km"][i]
    km = kaplan_meier(_data(e["data"], ref), "time", "status", by=e["by"],
                      conf_type=e["conf_type"])
    assert km["group"].to_list() == _arr(e["group"])
    assert km["time"].to_list() == [float(t) for t in _arr(e["time"])]
    for col in ("n_risk", "n_event", "n_censor"):
        assert km[col].to_list() == _arr(e[col]), col
    for col in ("survival", "std_err", "lower", "upper"):
        assert_close(km[col].to_list(), e[col], what=col)


@pytest.mark.parametrize("i", range(len(_load()["landmarks"])), ids=_ids("landmarks"))
def test_landmarks_match_r(ref: dict, i: int) -> None:
    e = ref["landmarks"][i]
    out = survival_at(_data(e["data"], ref), "time", "status", _arr(e["times"]), by=e["by"],
                      conf_type=e["conf_type"])
    r = pl.DataFrame({"group": _arr(e["group"]), "time": [float(t) for t in _arr(e["time"])],
                      "r_row": range(len(_arr(e["time"])))})
    j = r.join(out, on=["group", "time"], how="left").sort("r_row")
    assert j["n_risk"].to_list() == _arr(e["n_risk"])
    for col in ("survival", "std_err", "lower", "upper"):
        assert_close(j[col].to_list(), e[col], what=col)
    # rows R drops (landmark after the last follow-up, extend=FALSE) are kept here, empty
    extra = out.join(r, on=["group", "time"], how="anti")
    assert extra["survival"].null_count() == extra.height
    assert (extra["n_risk"] == 0).all()


@pytest.mark.parametrize("i", range(len(_load()["medians"])), ids=_ids("medians"))
def test_median_matches_r(ref: dict, i: int) -> None:
    e = ref["medians"][i]
    out = median_survival(_data(e["data"], ref), "time", "status", by=e["by"],
                          conf_type=e["conf_type"])
    assert out["group"].to_list() == _arr(e["group"])
    assert out["n"].to_list() == _arr(e["n"])
    assert out["events"].to_list() == _arr(e["events"])
    for col in ("median", "lower", "upper"):
        assert_close(out[col].to_list(), e[col], what=col)


@pytest.mark.parametrize("i", range(len(_load()["rmeans"])), ids=_ids("rmeans"))
def test_rmst_matches_r(ref: dict, i: int) -> None:
    e = ref["rmeans"][i]
    out = rmst(_data(e["data"], ref), "time", "status", tau=e["tau"], by=e["by"])
    assert out["group"].to_list() == _arr(e["group"])
    assert_close(out["rmst"].to_list(), e["rmst"], what="rmst")
    assert_close(out["se"].to_list(), e["se"], what="se")


@pytest.mark.parametrize("i", range(len(_load()["logranks"])), ids=_ids("logranks"))
def test_logrank_matches_r(ref: dict, i: int) -> None:
    e = ref["logranks"][i]
    res = logrank(_data(e["data"], ref), "time", "status", by=e["by"], ordered=True)
    assert res.df == e["df"]
    assert_close(res.chisq, e["chisq"], what="chisq")
    assert_close(res.p, e["p"], atol=1e-12, rtol=1e-6, what="p")
    t = res.table
    assert t["group"].to_list() == e["group"]
    assert t["n"].to_list() == e["n"]
    assert_close(t["observed"].to_list(), e["observed"], what="O")
    assert_close(t["expected"].to_list(), e["expected"], what="E")
    o, x, v = (np.array(e[k], dtype=float) for k in ("observed", "expected", "var_diag"))
    assert_close(t["(O-E)^2/E"].to_list(), list((o - x) ** 2 / x), what="(O-E)^2/E")
    assert_close(t["(O-E)^2/V"].to_list(), list((o - x) ** 2 / v), what="(O-E)^2/V")
    assert res.trend is not None
    assert_close(res.trend.chisq, e["trend_chisq"], what="trend")
    assert_close(res.trend.p, e["trend_p"], atol=1e-12, rtol=1e-6, what="trend p")
    pw, rp = res.pairwise, e["pairwise"]
    assert pw["group_a"].to_list() == _arr(rp["group_a"])
    assert pw["group_b"].to_list() == _arr(rp["group_b"])
    assert_close(pw["chisq"].to_list(), rp["chisq"], what="pair chisq")
    for col in ("p", "p_holm"):
        assert_close(pw[col].to_list(), rp[col], atol=1e-12, rtol=1e-6, what=col)


def test_reference_covers_the_brief(ref: dict) -> None:
    combos = {(e["data"], e["by"], e["conf_type"]) for e in ref["km"]}
    for data, by in [("veterans", "Celltype"), ("veterans", "Treatment"), ("gbsg2", "horTh"),
                     ("gbsg2", "tgrade"), ("veterans", None), ("gbsg2", None)]:
        for ct in ("log-log", "log", "plain"):
            assert (data, by, ct) in combos


# ------------------------------------------------------------------------------------------
# lifelines
# ------------------------------------------------------------------------------------------

LL_CASES = [("veterans", "Celltype"), ("veterans", None), ("gbsg2", "tgrade"), ("gbsg2", "horTh")]


@pytest.mark.parametrize(("data", "by"), LL_CASES)
def test_km_matches_lifelines(ref: dict, data: str, by: str | None) -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    df = _data(data, ref)
    km = kaplan_meier(df, "time", "status", by=by)  # log-log, as lifelines
    med = median_survival(df, "time", "status", by=by)
    parts = df.partition_by(by, as_dict=True) if by else {("All",): df}
    for (g,), part in parts.items():
        kmf = KaplanMeierFitter().fit(part["time"].to_numpy(), part["status"].to_numpy())
        mine = km.filter(pl.col("group") == str(g))
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        at = sf.index.get_indexer(mine["time"].to_numpy())
        assert (at >= 0).all()
        assert_close(mine["survival"].to_list(), list(sf.to_numpy()[at]), what="S")
        lo, hi = ci.iloc[at, 0].to_numpy(), ci.iloc[at, 1].to_numpy()
        ok = mine["lower"].is_not_null().to_numpy()
        assert ok.sum() > 5
        assert_close(mine["lower"].to_numpy()[ok].tolist(), list(lo[ok]), what="lower")
        assert_close(mine["upper"].to_numpy()[ok].tolist(), list(hi[ok]), what="upper")
        m = med.filter(pl.col("group") == str(g)).row(0, named=True)
        lm = float(kmf.median_survival_time_)
        assert_close(m["median"], None if np.isinf(lm) else lm, what="median")
        mci = median_survival_times(ci).to_numpy().ravel()
        lmed = [None if np.isinf(x) else float(x) for x in mci]
        assert_close([m["lower"], m["upper"]], lmed, what="median CI")


@pytest.mark.parametrize(("data", "by"), [c for c in LL_CASES if c[1]])
def test_logrank_matches_lifelines(ref: dict, data: str, by: str) -> None:
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    df = _data(data, ref)
    res = logrank(df, "time", "status", by=by)
    mv = multivariate_logrank_test(df["time"].to_numpy(), df[by].to_numpy(),
                                   df["status"].to_numpy())
    assert_close(res.chisq, mv.test_statistic, what="chisq")
    assert_close(res.p, mv.p_value, atol=1e-12, rtol=1e-6, what="p")
    row = res.pairwise.row(0, named=True)
    a, b = (df.filter(pl.col(by) == row[k]) for k in ("group_a", "group_b"))
    two = logrank_test(a["time"].to_numpy(), b["time"].to_numpy(), a["status"].to_numpy(),
                       b["status"].to_numpy())
    assert_close(row["chisq"], two.test_statistic, what="pair chisq")


# ------------------------------------------------------------------------------------------
# edge cases and conventions
# ------------------------------------------------------------------------------------------


def test_ties_censored_at_t_remain_at_risk() -> None:
    df = pl.DataFrame({"t": [2.0, 2.0, 2.0, 3.0], "e": [1, 0, 1, 1]})
    km = kaplan_meier(df, "t", "e")
    first = km.row(0, named=True)
    assert (first["n_risk"], first["n_event"], first["n_censor"]) == (4, 2, 1)
    assert first["survival"] == pytest.approx(0.5)  # 1 - 2/4, not 1 - 2/3
    assert km["n_risk"].to_list() == [4, 1]


def test_single_group_and_by_none_agree() -> None:
    df = pl.DataFrame({"t": [1.0, 2.0, 3.0], "e": [1, 0, 1], "arm": ["x", "x", "x"]})
    a = kaplan_meier(df, "t", "e", by="arm")
    b = kaplan_meier(df, "t", "e")
    assert a["group"].unique().to_list() == ["x"]
    assert b["group"].unique().to_list() == ["All"]
    assert a.drop("group").equals(b.drop("group"))
    with pytest.raises(ValueError):
        logrank(df, "t", "e", by="arm")


def test_all_censored_median_not_reached() -> None:
    df = pl.DataFrame({"t": [1.0, 2.0, 3.0], "e": [0, 0, 0]})
    med = median_survival(df, "t", "e").row(0, named=True)
    assert med["median"] is None and med["lower"] is None and med["upper"] is None
    assert med["median_text"] == "not reached"
    assert (kaplan_meier(df, "t", "e")["survival"] == 1.0).all()


def test_one_patient_group() -> None:
    df = pl.DataFrame({"t": [5.0, 1.0, 2.0, 3.0], "e": [1, 1, 0, 1], "g": ["b", "a", "a", "a"]})
    km = kaplan_meier(df, "t", "e", by="g")
    b = km.filter(pl.col("group") == "b").row(0, named=True)
    assert (b["n_risk"], b["survival"], b["std_err"], b["lower"]) == (1, 0.0, None, None)
    res = logrank(df, "t", "e", by="g")
    assert res.table["n"].to_list() == [3, 1]
    assert np.isfinite(res.chisq)


def test_event_codes_boolean_and_competing_and_nulls() -> None:
    base = pl.DataFrame({"t": [1.0, 2.0, 3.0, 4.0, None], "e": [1, 2, 0, 1, 1]})
    km = kaplan_meier(base, "t", "e")
    assert km["n_event"].to_list() == [1, 0, 0, 1]  # 2 (competing) counts as censored
    assert km["n_censor"].to_list() == [0, 1, 1, 0]
    as_bool = base.with_columns(pl.col("e") == 1)
    assert kaplan_meier(as_bool, "t", "e").equals(km)


def test_numeric_groups_sorted_numerically_nulls_dropped() -> None:
    df = pl.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 1, 0, 1, 1, 0],
                       "dose": [10, 9, 100, 9, None, 10]})
    km = kaplan_meier(df, "t", "e", by="dose")
    assert km["group"].unique(maintain_order=True).to_list() == ["9", "10", "100"]
    assert km.height == 5


def test_median_text_format() -> None:
    assert median_text(17.6, 10.4, 38.1) == "17.6 (10.4–38.1)"
    assert median_text(17.6, 10.4, None) == "17.6 (10.4–NR)"
    assert median_text(None, 89.5, None) == "NR (89.5–NR)"
    assert median_text(None, None, None) == "not reached"


def test_median_not_reached_keeps_rs_lower_bound(ref: dict) -> None:
    # R: print(survfit(Surv(time, cens) ~ tgrade, gbsg2)): grade I median NA, 0.95LCL 1990
    e = next(m for m in ref["medians"] if m["data"] == "gbsg2" and m["by"] == "tgrade"
             and m["conf_type"] == "log-log")
    out = median_survival(_data("gbsg2", ref), "time", "status", by="tgrade")
    grade_1 = out.row(0, named=True)
    assert (grade_1["median"], grade_1["lower"]) == (e["median"][0], e["lower"][0]) == (None, 1990)
    assert grade_1["median_text"] == "NR (1990.0–NR)"


def test_flat_half_uses_midpoint() -> None:
    df = pl.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 1, 1, 1]})
    assert median_survival(df, "t", "e")["median"].item() == pytest.approx(2.5)


def test_conf_type_validated() -> None:
    df = pl.DataFrame({"t": [1.0], "e": [1]})
    with pytest.raises(ValueError):
        kaplan_meier(df, "t", "e", conf_type="logit")  # type: ignore[arg-type]


def test_km_figure_builds(ref: dict) -> None:
    from cohort.figures.km import km_figure, nice_ticks, risk_table
    from cohort.figures.style import PALETTE

    df = _data("veterans", ref)
    km = kaplan_meier(df, "time", "status", by="Treatment")
    fig = km_figure(km, median_table=median_survival(df, "time", "status", by="Treatment"),
                    logrank=logrank(df, "time", "status", by="Treatment"), time_label="Days")
    names = {t.name for t in fig.data if t.mode == "lines" and t.hoverinfo != "skip"
             and "median" not in (t.hovertemplate or "")}
    assert names == {"standard (n=69)", "test (n=68)"}
    curves = [t for t in fig.data if t.name == "standard (n=69)"]
    assert curves[0].line.shape == "hv" and curves[0].line.color == PALETTE[0]
    risk = risk_table(km, [0.0, 100.0, 10_000.0])
    assert risk.filter(pl.col("group") == "test")["n_risk"].to_list() == [68, 21, 0]  # count(time >= 100)
    assert any((a.text or "").startswith("Log-rank p = ") for a in fig.layout.annotations)
    assert nice_ticks(60, "months") == [0, 12, 24, 36, 48, 60]
    assert nice_ticks(30, "months") == [0, 6, 12, 18, 24, 30]
