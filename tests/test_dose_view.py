"""cohort.dose additions (DLT table, BED10 bands, Cox on BED10) and cohort.figures.dose."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from cohort.competing import cumulative_incidence, gray_test
from cohort.cox import fit_cox
from cohort.dose import (
    BED10_BAND,
    BED10_PER_10_GY,
    add_bed_band,
    add_dose_columns,
    dlt_table,
    fit_bed_cox,
    local_failure_by_bed_band,
    patients_assessed,
)
from cohort.figures.dose import (
    DOSE_QUANTITIES,
    dlt_cell_text,
    dlt_grid_figure,
    dose_distribution_figure,
    long_by_group,
)

#: A sunitinib + RT phase 1 layout: 0/3, 0/3, 1/10, 2/5 DLTs.
LEVELS = [(1, 25.0, 40.0, 3, 0), (2, 37.5, 40.0, 3, 0), (3, 50.0, 40.0, 10, 1),
          (4, 50.0, 50.0, 5, 2)]


def phase_one() -> pl.DataFrame:
    rows = []
    for level, drug, rt, n, dlts in LEVELS:
        rows += [(f"L{level}-{i}", level, drug, rt, i < dlts) for i in range(n)]
    rows[-1] = ("L4-4", 4, 50.0, 45.0, False)  # an off-protocol RT dose: still level 4
    rows.append(("X1", None, None, 60.0, None))  # not in the study: left out
    rows.append(("X2", 4, 50.0, 50.0, None))  # not assessable: left out
    return pl.DataFrame(rows, schema=["patient_id", "dose_level", "drug_dose_mg",
                                      "rt_total_dose_gy", "dlt"], orient="row")


def test_dlt_table_counts_and_clopper_pearson():
    table = dlt_table(phase_one())
    assert table.columns == ["dose_level", "drug_dose_mg", "rt_total_dose_gy", "n", "dlt",
                             "rate", "lower", "upper"]
    assert table.select("dose_level", "n", "dlt").rows() == [(1, 3, 0), (2, 3, 0), (3, 10, 1),
                                                             (4, 5, 2)]
    assert patients_assessed(table) == 21
    ci = dict(zip(table["dose_level"], zip(table["lower"], table["upper"], strict=True),
                  strict=True))
    assert ci[1] == pytest.approx((0.0, 0.7076), abs=5e-5)  # 0/3
    assert ci[3] == pytest.approx((0.0025, 0.4450), abs=5e-5)  # 1/10
    assert ci[4] == pytest.approx((0.0527, 0.8534), abs=5e-5)  # 2/5
    assert table["rate"].to_list() == [0.0, 0.0, 0.1, 0.4]
    assert table["rt_total_dose_gy"].to_list() == [40.0, 40.0, 40.0, 50.0]  # level's usual dose


def test_dlt_table_all_dlts_and_missing_dose_columns():
    df = pl.DataFrame({"dose_level": [1, 1], "dlt": [True, True]})
    row = dlt_table(df).row(0, named=True)
    assert row["drug_dose_mg"] is None and row["rt_total_dose_gy"] is None
    assert (row["n"], row["dlt"], row["upper"]) == (2, 2, 1.0)
    assert row["lower"] == pytest.approx(0.1581, abs=5e-5)  # R: binom.test(2, 2)
    with pytest.raises(ValueError, match="dlt"):
        dlt_table(pl.DataFrame({"dose_level": [1]}))


def test_bed_band_edges():
    df = add_bed_band(pl.DataFrame({"bed10_gy": [99.9, 100.0, None, float("nan")]}), 100)
    assert df[BED10_BAND].cast(pl.String).to_list() == ["BED10 <100 Gy", "BED10 ≥100 Gy", None,
                                                         None]


def lc_cohort(n: int = 120, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    fractions = rng.choice([1, 3, 5, 10], n)
    total = np.select([fractions == 1, fractions == 3, fractions == 5],
                      [rng.choice([18.0, 24.0], n), rng.choice([30.0, 45.0, 54.0], n),
                       rng.choice([35.0, 40.0, 50.0], n)], 30.0)
    df = add_dose_columns(pl.DataFrame({
        "patient_id": [f"P{i}" for i in range(n)], "rt_total_dose_gy": total,
        "rt_fractions": fractions, "rt_technique": rng.choice(["SBRT", "IMRT"], n),
        "treated_sites": [["lung", "liver"][: 1 + i % 2] for i in range(n)],
        "lc_months": rng.exponential(20, n).round(1) + 0.1,
        "lc_event": rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]),
    }))
    return df.with_columns(pl.when(pl.int_range(pl.len()) < 4).then(None)
                           .otherwise(pl.col("bed10_gy")).alias("bed10_gy"))


def test_local_failure_by_band_equals_cumulative_incidence_by_hand():
    df = lc_cohort()
    result = local_failure_by_bed_band(df, 100.0)
    assert (result.n_used, result.n_left_out) == (116, 4)
    used = add_bed_band(df.drop_nulls("bed10_gy"), 100.0).with_columns(
        pl.col(BED10_BAND).cast(pl.String))
    expected = cumulative_incidence(used, "lc_months", "lc_event", by=BED10_BAND)
    assert result.cif.equals(expected)
    gray = gray_test(used, "lc_months", "lc_event", BED10_BAND)
    assert result.gray.p == pytest.approx(gray.p)
    assert set(result.cif["group"]) == {"BED10 <100 Gy", "BED10 ≥100 Gy"}


def test_single_band_has_no_gray_test():
    result = local_failure_by_bed_band(lc_cohort(), 10_000.0)
    assert result.gray is None and result.cif["group"].n_unique() == 1


def test_bed_cox_is_per_10_gy():
    df = lc_cohort()
    per_10 = fit_bed_cox(df).terms.row(0, named=True)
    per_gy = fit_cox(df, "lc_months", "lc_event", ["bed10_gy"]).terms.row(0, named=True)
    assert per_10["coef"] == pytest.approx(10 * per_gy["coef"], rel=1e-6)
    assert per_10["p"] == pytest.approx(per_gy["p"], rel=1e-6)
    assert per_10["covariate"] == BED10_PER_10_GY


def test_long_by_group_explodes_sites():
    df = pl.DataFrame({"treated_sites": [["lung", "liver", "lung"], ["bone"], None],
                       "bed10_gy": [100.0, 50.0, 60.0]})
    got = long_by_group(df, "bed10_gy", "treated_sites").sort("group")
    assert got.rows() == [("bone", 50.0), ("liver", 100.0), ("lung", 100.0), ("missing", 60.0)]


def group_names(fig: go.Figure) -> list[str]:
    """The groups' labels, in drawing order (a box and its markers share one)."""
    return list(dict.fromkeys(t.name for t in fig.data))


@pytest.mark.parametrize("kind", ["box", "strip"])
@pytest.mark.parametrize("column", DOSE_QUANTITIES)
def test_distribution_figures(kind, column):
    fig = dose_distribution_figure(lc_cohort(), column, "treated_sites", kind, 3.0)
    assert isinstance(fig, go.Figure) and fig.layout.paper_bgcolor == "white"
    assert group_names(fig) == ["lung (n=120)", "liver (n=60)"] or column == "bed10_gy"
    if column == "eqd2_gy":
        assert "α/β = 3 Gy" in fig.layout.title.text


def test_distribution_groups_beyond_the_limit_become_other():
    df = pl.DataFrame({"g": [f"g{i % 20}" for i in range(100)], "v": list(range(100))})
    fig = dose_distribution_figure(df, "v", "g", max_groups=5)
    names = group_names(fig)
    assert len(names) == 5 and names[-1] == "other (n=80)"


def test_dlt_grid_figure_cells():
    table = dlt_table(phase_one())
    fig = dlt_grid_figure(table)
    heat = fig.data[0]
    assert list(heat.x) == ["40 Gy", "50 Gy"] and list(heat.y) == ["25 mg", "37.5 mg", "50 mg"]
    assert "1/10 DLT (10.0%)" in heat.text[2][0] and "2/5 DLT (40.0%)" in heat.text[2][1]
    assert heat.text[0][1] == "" and heat.z[0][1] is None
    text = dlt_cell_text(table.row(2, named=True))
    assert text == "<b>DL3</b><br>1/10 DLT (10.0%)<br>95% CI 0.3%–44.5%"
    assert not math.isnan(heat.z[2][1])
