"""cohort.competing against cmprsk 2.2-11 (tests/reference/survival_reference.json) and
lifelines' AalenJohansenFitter."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cohort.competing import cumulative_incidence, gray_test
from cohort.survival import kaplan_meier

REF_DIR = Path(__file__).parent / "reference"
ATOL = 1e-6


def _ref() -> dict:
    return json.loads((REF_DIR / "survival_reference.json").read_text())


@pytest.fixture(scope="module")
def ref() -> dict:
    return _ref()


@pytest.fixture(scope="module")
def competing() -> pl.DataFrame:
    return pl.read_csv(REF_DIR / "data" / "competing.csv")


def _close(a, b, atol: float = ATOL, what: str = "") -> None:
    a = np.array([np.nan if v is None else v for v in a], dtype=float)
    b = np.array([np.nan if v is None else v for v in b], dtype=float)
    assert a.shape == b.shape, what
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: NA pattern"
    ok = ~np.isnan(b)
    assert np.all(np.abs(a[ok] - b[ok]) <= atol), f"{what}: {np.abs(a[ok] - b[ok]).max()}"


def _cmprsk_jumps(e: dict) -> pl.DataFrame:
    """cuminc's step-function corners -> one row per event time of the cause (value after)."""
    t, est = e["time"], e["est"]
    var, lo, hi = e["var"], e["lower"], e["upper"]
    idx = list(range(2, len(t) - 1, 2))  # x(1)=0, then pairs (before, after), then last time
    return pl.DataFrame(
        {"time": [float(t[i]) for i in idx], "est": [est[i] for i in idx],
         "var": [var[i] for i in idx], "lo": [lo[i] for i in idx], "hi": [hi[i] for i in idx]},
        schema={k: pl.Float64 for k in ("time", "est", "var", "lo", "hi")},
    )


@pytest.mark.parametrize("i", range(len(_ref()["cif"])),
                         ids=[f"{e['by']}-{e['group']}-cause{e['cause']}" for e in _ref()["cif"]])
def test_cif_matches_cmprsk(ref: dict, competing: pl.DataFrame, i: int) -> None:
    e = ref["cif"][i]
    out = cumulative_incidence(competing, "time", "status", by=e["by"], cause=e["cause"])
    mine = out.filter(pl.col("group") == e["group"])
    r = _cmprsk_jumps(e)
    assert r.height > 10
    # every cause-specific event time of R is a row here with at least one event of the cause
    j = r.join(mine, on="time", how="left")
    assert (j["n_event"] > 0).all()
    assert mine.filter(pl.col("n_event") > 0).height == r.height
    _close(j["cif"].to_list(), j["est"].to_list(), what="cif")
    _close((j["std_err"] ** 2).to_list(), j["var"].to_list(), what="var")
    _close(j["lower"].to_list(), j["lo"].to_list(), what="lower")
    _close(j["upper"].to_list(), j["hi"].to_list(), what="upper")
    # between jumps the curve and cmprsk's variance stay flat
    flat = mine.filter(pl.col("n_event") == 0).join_asof(
        r.sort("time"), on="time", strategy="backward", check_sortedness=False
    ).drop_nulls("est")
    _close(flat["cif"].to_list(), flat["est"].to_list(), what="cif between jumps")
    _close((flat["std_err"] ** 2).to_list(), flat["var"].to_list(), what="var between jumps")


def test_gray_matches_cmprsk(ref: dict, competing: pl.DataFrame) -> None:
    g = ref["gray"]
    for k, cause in enumerate(g["cause"]):
        res = gray_test(competing, "time", "status", by="group", cause=cause)
        assert res.df == g["df"][k]
        _close([res.statistic], [g["stat"][k]], what=f"stat cause {cause}")
        _close([res.p], [g["p"][k]], atol=1e-9, what=f"p cause {cause}")


def test_gray_matches_cmprsk_gbsg2(ref: dict) -> None:
    g = ref["gray_gbsg2"]
    gb = pl.read_csv(REF_DIR / "data" / "gbsg2.csv")
    res = gray_test(gb, "time", "status", by="tgrade")
    _close([res.statistic], [g["stat"]], what="stat")
    _close([res.p], [g["p"]], atol=1e-9, what="p")


def test_cif_matches_lifelines(competing: pl.DataFrame) -> None:
    from lifelines import AalenJohansenFitter

    # lifelines jitters times shared by different event types; separate them first
    df = competing.with_columns(
        time=pl.col("time") + pl.when(pl.col("status") == 2).then(0.01).otherwise(0.0)
    )
    for by_val, part in df.partition_by("group", as_dict=True).items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a jitter warning would make this comparison moot
            ajf = AalenJohansenFitter(calculate_variance=False).fit(
                part["time"].to_numpy(), part["status"].to_numpy(), event_of_interest=1
            )
        cdf = ajf.cumulative_density_.iloc[:, 0]
        mine = cumulative_incidence(part, "time", "status")
        at = cdf.index.get_indexer(mine["time"].to_numpy())
        assert (at >= 0).all(), by_val
        _close(mine["cif"].to_list(), list(cdf.to_numpy()[at]), what=f"cif {by_val}")


def test_no_competing_events_cif_is_one_minus_km() -> None:
    df = pl.DataFrame({"t": [1.0, 2, 2, 3, 4, 5, 5, 6], "e": [1, 1, 0, 1, 0, 1, 1, 0]})
    cif = cumulative_incidence(df, "t", "e")
    km = kaplan_meier(df, "t", "e")
    _close(cif["cif"].to_list(), (1 - km["survival"]).to_list(), atol=1e-12, what="1-KM")
    assert cif["n_competing"].sum() == 0


def test_counts_and_ties() -> None:
    df = pl.DataFrame({"t": [1.0, 1.0, 1.0, 2.0, 3.0], "e": [1, 2, 0, 1, 2],
                       "g": ["a", "a", "a", "a", None]})
    out = cumulative_incidence(df, "t", "e", by="g")
    first = out.row(0, named=True)
    assert (first["n_risk"], first["n_event"], first["n_competing"], first["n_censor"]) == (
        4, 1, 1, 1)
    assert first["cif"] == pytest.approx(0.25)
    # S(1) = 2/4 all-cause; next cause-1 jump 0.5 * 1/1
    assert out["cif"].to_list() == pytest.approx([0.25, 0.75])
    assert out["lower"][1] is not None
