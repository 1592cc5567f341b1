"""Radiobiological dose: biologically effective dose (BED) and 2-Gy equivalent dose (EQD2).

Linear-quadratic model: BED = n d (1 + d / (alpha/beta)), EQD2 = BED / (1 + 2 / (alpha/beta)),
with n fractions of d Gy. All doses in Gy; alpha/beta in Gy (10 for tumour by default).
"""

from __future__ import annotations

import polars as pl

DEFAULT_ALPHA_BETA_GY = 10.0


def bed(total_dose_gy: float, fractions: float, alpha_beta_gy: float = DEFAULT_ALPHA_BETA_GY) -> float:
    """BED in Gy of ``total_dose_gy`` given in ``fractions`` equal fractions."""
    dose_per_fraction = total_dose_gy / fractions
    return total_dose_gy * (1.0 + dose_per_fraction / alpha_beta_gy)


def eqd2(total_dose_gy: float, fractions: float, alpha_beta_gy: float = DEFAULT_ALPHA_BETA_GY) -> float:
    """EQD2 in Gy: the dose in 2-Gy fractions with the same BED."""
    return bed(total_dose_gy, fractions, alpha_beta_gy) / (1.0 + 2.0 / alpha_beta_gy)


def bed_expr(total: str, fractions: str, alpha_beta_gy: float = DEFAULT_ALPHA_BETA_GY) -> pl.Expr:
    """Polars expression for BED in Gy from a total-dose and a fractions column."""
    total_dose = pl.col(total).cast(pl.Float64)
    return total_dose * (1.0 + total_dose / pl.col(fractions).cast(pl.Float64) / alpha_beta_gy)


def eqd2_expr(total: str, fractions: str, alpha_beta_gy: float = DEFAULT_ALPHA_BETA_GY) -> pl.Expr:
    """Polars expression for EQD2 in Gy from a total-dose and a fractions column."""
    return bed_expr(total, fractions, alpha_beta_gy) / (1.0 + 2.0 / alpha_beta_gy)


def add_dose_columns(
    patients: pl.DataFrame, alpha_beta_gy: float = DEFAULT_ALPHA_BETA_GY
) -> pl.DataFrame:
    """Patients with dose_per_fraction_gy, bed10_gy and eqd2_gy (Gy) derived from dose and fractions.

    ``bed10_gy`` always uses alpha/beta = 10 Gy (its name says so); ``eqd2_gy`` uses
    ``alpha_beta_gy``. Rows without dose or fractions get nulls. Unchanged without both columns.
    """
    if not {"rt_total_dose_gy", "rt_fractions"} <= set(patients.columns):
        return patients
    has_course = pl.col("rt_fractions").cast(pl.Float64) > 0
    return patients.with_columns(
        pl.when(has_course)
        .then(pl.col("rt_total_dose_gy") / pl.col("rt_fractions").cast(pl.Float64))
        .alias("dose_per_fraction_gy"),
        pl.when(has_course).then(bed_expr("rt_total_dose_gy", "rt_fractions")).alias("bed10_gy"),
        pl.when(has_course)
        .then(eqd2_expr("rt_total_dose_gy", "rt_fractions", alpha_beta_gy))
        .alias("eqd2_gy"),
    )
