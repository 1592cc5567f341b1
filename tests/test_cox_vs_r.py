"""cohort.cox against R's survival::coxph / cox.zph (tests/reference/cox_reference.R -> .json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cohort import cox
from cohort.cox import fit_cox, univariable_screen

REF_DIR = Path(__file__).parent / "reference"
REFERENCE = json.loads((REF_DIR / "cox_reference.json").read_text())
MODELS = [k for k in REFERENCE if k != "meta"]
COEF_TOL = 1e-5
P_TOL = 1e-4


def _data(name: str) -> pl.DataFrame:
    return pl.read_csv(REF_DIR / "data" / f"{name}.csv")


def _model_data(ref: dict) -> pl.DataFrame:
    df = _data(ref["data"]).with_row_index("_row")
    for col, rows in (ref.get("na_rows") or {}).items():
        zero_based = [r - 1 for r in rows]
        df = df.with_columns(
            pl.when(pl.col("_row").is_in(zero_based)).then(None).otherwise(pl.col(col)).alias(col)
        )
    return df.drop("_row")


@pytest.fixture(scope="module", params=MODELS)
def pair(request):
    ref = REFERENCE[request.param]
    res = fit_cox(_model_data(ref), time="time", event="status", covariates=ref["covariates"],
                  reference=ref["reference"], strata=ref["strata"])
    return ref, res


def _joined(ref: dict, res: cox.CoxResult) -> pl.DataFrame:
    r = pl.DataFrame(ref["terms"])
    py = res.terms.filter(~pl.col("is_reference"))
    assert sorted(py["term"].to_list()) == sorted(r["term"].to_list())
    return r.join(py, on="term", suffix="_py")


def _maxdiff(df: pl.DataFrame, col: str) -> float:
    return float((df[col] - df[f"{col}_py"]).abs().max())


def test_counts(pair):
    ref, res = pair
    assert res.n == ref["n"]
    assert res.events == ref["events"]
    assert res.converged


def test_coefficients_and_se(pair):
    ref, res = pair
    j = _joined(ref, res)
    assert _maxdiff(j, "coef") < COEF_TOL
    assert _maxdiff(j, "se") < COEF_TOL
    assert _maxdiff(j, "z") < P_TOL
    assert _maxdiff(j, "p") < P_TOL
    for col in ("hr", "lower", "upper"):
        assert np.allclose(j[col], j[f"{col}_py"], rtol=COEF_TOL, atol=0)


def test_loglik_and_global_tests(pair):
    ref, res = pair
    assert np.allclose(res.loglik, ref["loglik"], atol=P_TOL, rtol=0)
    for name in ("lr_test", "wald_test", "score_test"):
        ours, theirs = getattr(res, name), ref[name]
        assert abs(ours.chisq - theirs["chisq"]) < P_TOL, name
        assert ours.df == theirs["df"], name
        assert abs(ours.p - theirs["p"]) < P_TOL, name


def test_concordance(pair):
    ref, res = pair
    assert abs(res.concordance - ref["concordance"]) < P_TOL
    assert abs(res.concordance_se - ref["concordance_se"]) < P_TOL


def test_proportional_hazards(pair):
    ref, res = pair
    r = pl.DataFrame(ref["ph_test"]).rename({"term": "covariate"})
    assert res.ph_test["covariate"].to_list() == r["covariate"].to_list()
    j = r.join(res.ph_test, on="covariate", suffix="_py")
    assert _maxdiff(j, "chisq") < P_TOL
    assert _maxdiff(j, "p") < P_TOL
    assert j["df"].to_list() == j["df_py"].to_list()


def test_missing_values_left_out_by_column():
    ref = REFERENCE["veterans_missing"]
    res = fit_cox(_model_data(ref), "time", "status", ref["covariates"], ref["reference"])
    assert res.left_out == {"Karnofsky_score": 3, "Celltype": 3}
    assert res.n == 137 - 5 == ref["n"]
    assert any("5 of 137 rows left out" in m and "'Celltype' (3)" in m for m in res.messages)


def test_terms_table_reference_rows_and_level_counts():
    vet = _data("veterans")
    res = fit_cox(vet, "time", "status", ["Celltype", "Karnofsky_score"])
    refrow = res.terms.filter(pl.col("is_reference"))
    assert refrow["term"].to_list() == ["Celltypeadeno"]
    assert refrow["hr"].to_list() == [1.0] and refrow["p"].to_list() == [None]
    counts = vet.group_by("Celltype").agg(pl.len().alias("n"), pl.col("status").sum().alias("e"))
    got = res.terms.filter(pl.col("covariate") == "Celltype").join(
        counts, left_on="level", right_on="Celltype"
    )
    assert got.height == 4
    assert (got["n"] == got["n_right"]).all() and (got["events"] == got["e"]).all()
    num = res.terms.filter(pl.col("term") == "Karnofsky_score").row(0, named=True)
    assert (num["n"], num["events"]) == (137, 128)


def test_event_codes_other_than_one_are_censored():
    vet = _data("veterans")
    recoded = vet.with_columns(pl.when(pl.col("status") == 0).then(2).otherwise(1).alias("status"))
    a = fit_cox(vet, "time", "status", ["Karnofsky_score"])
    b = fit_cox(recoded, "time", "status", ["Karnofsky_score"])
    assert a.terms["coef"].to_list() == pytest.approx(b.terms["coef"].to_list(), abs=1e-12)


def test_level_with_no_events_is_a_message_not_a_crash():
    vet = _data("veterans").with_columns(
        pl.when(pl.col("status") == 0).then(pl.lit("rare")).otherwise(pl.col("Celltype"))
        .alias("Celltype")
    )
    res = fit_cox(vet, "time", "status", ["Celltype", "Karnofsky_score"])
    assert any("'rare' of 'Celltype' has no events" in m for m in res.messages)
    rare = res.terms.filter(pl.col("level") == "rare").row(0, named=True)
    assert rare["estimable"] is False
    assert rare["hr"] == 0.0 and rare["lower"] is None and rare["p"] is None
    assert (rare["n"], rare["events"]) == (9, 0)
    kps = res.terms.filter(pl.col("term") == "Karnofsky_score").row(0, named=True)
    assert kps["estimable"] and np.isfinite(kps["se"])


def test_single_valued_covariate_is_dropped_with_its_reason():
    vet = _data("veterans").with_columns(pl.lit("all").alias("site"), pl.lit(3.0).alias("dose"))
    res = fit_cox(vet, "time", "status", ["site", "Karnofsky_score", "dose"])
    assert res.dropped == (
        cox.DroppedCovariate("site", "the same value (all) in every row used"),
        cox.DroppedCovariate("dose", "the same value (3) in every row used"),
    )
    assert res.dropped[0].text() == "Site: the same value (all) in every row used"
    assert res.terms["covariate"].unique().to_list() == ["Karnofsky_score"]
    assert res.ph_test["covariate"].to_list() == ["Karnofsky_score", "GLOBAL"]


def test_low_events_per_variable_warns():
    vet = _data("veterans").head(40)
    res = fit_cox(vet, "time", "status", ["Treatment", "Celltype", "Karnofsky_score",
                                          "Age_in_years", "Prior_therapy"])
    assert any("events per coefficient" in m for m in res.messages)
    ok = fit_cox(_data("veterans"), "time", "status", ["Karnofsky_score"])
    assert not any("events per coefficient" in m for m in ok.messages)


def test_collinear_covariate_is_dropped_with_its_reason():
    vet = _data("veterans").with_columns((pl.col("Karnofsky_score") * 2).alias("kps2"))
    res = fit_cox(vet, "time", "status", ["Karnofsky_score", "kps2"])
    assert res.dropped == (cox.DroppedCovariate("kps2", cox.COLLINEAR),)
    assert res.terms["term"].to_list() == ["Karnofsky_score"]


def test_collinear_level_is_dropped_with_its_level():
    # 'arm' repeats Treatment's levels under other names: its dummy equals Treatment's
    vet = _data("veterans").with_columns(
        pl.col("Treatment").replace({"standard": "a", "test": "b"}).alias("arm"))
    res = fit_cox(vet, "time", "status", ["Treatment", "arm"])
    assert res.dropped == (cox.DroppedCovariate("arm", cox.COLLINEAR, "b"),)
    assert res.dropped[0].text().startswith("Arm = b: collinear")


def test_all_missing_covariate_is_dropped_not_every_row():
    vet = _data("veterans").with_columns(pl.lit(None, dtype=pl.Float64).alias("gtv"))
    res = fit_cox(vet, "time", "status", ["Karnofsky_score", "gtv"])
    assert res.dropped == (cox.DroppedCovariate("gtv", cox.ALL_MISSING),)
    assert res.n == vet.height and not res.left_out
    alone = fit_cox(vet, "time", "status", ["Karnofsky_score"])
    assert res.terms.equals(alone.terms)


def test_list_column_cannot_be_a_covariate():
    vet = _data("veterans").with_columns(pl.col("Celltype").map_elements(
        lambda c: [c], return_dtype=pl.List(pl.String)).alias("sites"))
    res = fit_cox(vet, "time", "status", ["Karnofsky_score", "sites"])
    assert [d.covariate for d in res.dropped] == ["sites"]
    assert "cannot be a covariate" in res.dropped[0].reason


def test_non_convergence_is_a_message(monkeypatch):
    monkeypatch.setattr(cox, "MAX_ITER", 1)
    res = fit_cox(_data("gbsg2"), "time", "status", ["age", "pnodes", "tgrade"])
    assert not res.converged
    assert any("did not converge" in m for m in res.messages)


def test_no_events_returns_empty_result_with_message():
    vet = _data("veterans").with_columns(pl.lit(0).alias("status"))
    res = fit_cox(vet, "time", "status", ["Karnofsky_score"])
    assert res.terms.height == 0 and res.lr_test is None
    assert any("No events" in m for m in res.messages)


def test_unknown_reference_level_falls_back_with_message():
    res = fit_cox(_data("veterans"), "time", "status", ["Celltype"], {"Celltype": "oat"})
    assert any("'oat'" in m for m in res.messages)
    assert res.terms.filter(pl.col("is_reference"))["level"].to_list() == ["adeno"]


def test_conf_level():
    vet = _data("veterans")
    r90 = fit_cox(vet, "time", "status", ["Karnofsky_score"], conf_level=0.90)
    row = r90.terms.row(0, named=True)
    assert row["lower"] == pytest.approx(np.exp(row["coef"] - 1.6448536269514722 * row["se"]))


def test_univariable_screen_matches_single_models():
    gbsg = _data("gbsg2")
    screen = univariable_screen(gbsg, "time", "status", ["pnodes", "tgrade"])
    ref = REFERENCE["gbsg2_pnodes"]
    row = screen.filter(pl.col("term") == "pnodes").row(0, named=True)
    assert abs(row["coef"] - ref["terms"][0]["coef"]) < COEF_TOL
    assert abs(row["lr_p"] - ref["lr_test"]["p"]) < P_TOL
    assert screen.filter(pl.col("covariate") == "tgrade").height == 3  # reference + 2 levels
    assert {"lr_p", "messages", "is_reference"} <= set(screen.columns)


def test_forest_figure_rows_reference_and_log_axis():
    from cohort.figures.forest import forest_figure

    vet = _data("veterans").with_columns(
        pl.when(pl.col("status") == 0).then(pl.lit("rare")).otherwise(pl.col("Celltype"))
        .alias("Celltype")
    )
    res = fit_cox(vet, "time", "status", ["Treatment", "Celltype", "Karnofsky_score"])
    fig = forest_figure(res.terms, title="OS", caption="Efron ties")
    texts = [a.text for a in fig.layout.annotations]
    assert fig.layout.xaxis.type == "log"
    assert texts.count("reference") == 2  # Treatment standard, Celltype adeno
    assert "not estimable" in texts and "9 / 0" in texts
    markers = fig.data[1]
    assert len(markers.x) == res.terms.filter(~pl.col("is_reference") & pl.col("estimable")).height
