"""Radiobiological dose: biologically effective dose (BED) and 2-Gy equivalent dose (EQD2).

Linear-quadratic model: BED = n d (1 + d / (alpha/beta)), EQD2 = BED / (1 + 2 / (alpha/beta)),
with n fractions of d Gy. All doses in Gy; alpha/beta in Gy (10 for tumour by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from scipy.stats import beta

from cohort.competing import GrayTestResult, cif_from_counts, gray_test
from cohort.cox import CoxResult, fit_cox
from cohort.suppression import Line, count_text, protect, round_event_counts, small_groups
from cohort.survival import event_counts

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


def _clopper_pearson(k: int, n: int, conf_level: float) -> tuple[float | None, float | None]:
    """Exact (Clopper-Pearson) binomial CI of k/n; (None, None) when n is 0."""
    if n == 0:
        return None, None
    a = (1.0 - conf_level) / 2.0
    lower = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1.0 - a, k + 1, n - k))
    return lower, upper


DLT_COLUMNS = ("dose_level", "dlt")


def _level_dose(column: str) -> pl.Expr:
    """The dose of a level: its most frequent value (the smallest of ties); null if none."""
    return pl.col(column).drop_nulls().mode().sort().first().alias(column)


def patients_assessed(table: pl.DataFrame) -> int:
    """Patients with a dose level and a DLT assessment: the n of a :func:`dlt_table`."""
    return int(table["n"].sum())


def dlt_table(patients: pl.DataFrame, conf_level: float = 0.95) -> pl.DataFrame:
    """Patients and dose-limiting toxicities per dose level, with an exact binomial CI.

    One row per dose level (patients with a dose level and a DLT assessment): the level's
    ``drug_dose_mg`` and ``rt_total_dose_gy`` (most frequent value in the level; null when the
    column is absent), ``n``, ``dlt`` (patients with a DLT), ``rate`` = dlt / n and
    ``lower``/``upper`` (Clopper-Pearson at ``conf_level``).
    """
    missing = [c for c in DLT_COLUMNS if c not in patients.columns]
    if missing:
        raise ValueError(f"columns not in the data: {', '.join(missing)}")
    doses = ["drug_dose_mg", "rt_total_dose_gy"]
    data = patients.with_columns(
        pl.col(c).cast(pl.Float64) if c in patients.columns else pl.lit(None, pl.Float64).alias(c)
        for c in doses
    ).filter(pl.col("dose_level").is_not_null() & pl.col("dlt").is_not_null())
    counts = (
        data.group_by("dose_level")
        .agg(*(_level_dose(c) for c in doses), pl.len().cast(pl.Int64).alias("n"),
             pl.col("dlt").cast(pl.Int64).sum().alias("dlt"))
        .sort("dose_level")
    )
    bounds = [_clopper_pearson(k, n, conf_level) for k, n in counts.select("dlt", "n").rows()]
    return counts.with_columns(
        pl.col("dose_level").cast(pl.Int64),
        pl.col(doses).cast(pl.Float64),
        (pl.col("dlt") / pl.col("n")).alias("rate"),
        pl.Series("lower", [b[0] for b in bounds], dtype=pl.Float64),
        pl.Series("upper", [b[1] for b in bounds], dtype=pl.Float64),
    ).select("dose_level", *doses, "n", "dlt", "rate", "lower", "upper")


def suppressed_dlt_table(table: pl.DataFrame, min_cell: int | None) -> pl.DataFrame:
    """A :func:`dlt_table` under a small-cell threshold (:mod:`cohort.suppression`): dose
    levels of fewer than ``min_cell`` patients left out, ``n`` and ``dlt`` as text, and the
    rate and CI null where the DLT count, or the count without a DLT, is hidden. Unchanged
    without a threshold."""
    if not min_cell:
        return table
    kept = table.filter(pl.col("n") >= min_cell)
    dlt_text, hidden_rates = [], []
    for n, dlt in kept.select("n", "dlt").rows():
        hidden = protect({"dlt": dlt, "without": n - dlt, "n": n},
                         [Line(("dlt", "without"), "n")], min_cell)
        dlt_text.append(count_text(dlt, min_cell, "dlt" in hidden))
        hidden_rates.append(bool(hidden))
    hide = pl.Series(hidden_rates, dtype=pl.Boolean)
    return kept.with_columns(
        pl.col("n").cast(pl.String), pl.Series("dlt", dlt_text, dtype=pl.String),
        *(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c)
          for c in ("rate", "lower", "upper")))


BED10_BAND = "bed10_band"
BED10_PER_10_GY = "BED10 per 10 Gy"


def bed_band_labels(cut_gy: float) -> tuple[str, str]:
    """The two band labels of :func:`add_bed_band`, low first."""
    return f"BED10 <{cut_gy:g} Gy", f"BED10 ≥{cut_gy:g} Gy"


def add_bed_band(patients: pl.DataFrame, cut_gy: float = 100.0) -> pl.DataFrame:
    """Patients with ``bed10_band``: below ``cut_gy`` or at/above it (null without BED10)."""
    low, high = bed_band_labels(cut_gy)
    bed10 = pl.col("bed10_gy")
    return patients.with_columns(
        pl.when(bed10.is_null() | bed10.is_nan()).then(None)
        .when(bed10 < cut_gy).then(pl.lit(low)).otherwise(pl.lit(high))
        .cast(pl.Enum([low, high])).alias(BED10_BAND)
    )


def fit_bed_cox(
    patients: pl.DataFrame, time: str = "lc_months", event: str = "lc_event"
) -> CoxResult:
    """Cox model of ``event`` (code 1; 2 = competing, censored: cause-specific hazard) on BED10
    as a continuous covariate per 10 Gy (column "BED10 per 10 Gy" = bed10_gy / 10)."""
    data = patients.with_columns((pl.col("bed10_gy") / 10.0).alias(BED10_PER_10_GY))
    return fit_cox(data, time, event, [BED10_PER_10_GY])


@dataclass(frozen=True)
class BedBandIncidence:
    """Cumulative incidence of local failure per BED10 band.

    ``cif``: :func:`cohort.competing.cumulative_incidence` table (group = band label; under
    ``min_cell`` from rounded counts, :mod:`cohort.suppression`, without the bands of fewer
    patients, named in ``hidden_bands``); ``gray``: Gray's test between the bands, on the
    real data (None with a single band); ``n_used`` patients, ``n_left_out`` for a missing
    BED10, time or event.
    """

    cif: pl.DataFrame
    gray: GrayTestResult | None
    n_used: int
    n_left_out: int
    min_cell: int | None = None
    hidden_bands: tuple[str, ...] = ()

    @property
    def figure_n(self) -> int | str:
        """The patients the figure states: ``n_used``; under ``min_cell`` the drawn bands'
        rounded sizes (their numbers at risk at time 0) added up, as text ('17 (rounded)')."""
        if not self.min_cell:
            return self.n_used
        sizes = self.cif.group_by("group").agg(pl.col("n_risk").first())["n_risk"]
        return f"{int(sizes.sum()):,} (rounded)"


def local_failure_by_bed_band(
    patients: pl.DataFrame, cut_gy: float = 100.0, time: str = "lc_months",
    event: str = "lc_event", conf_level: float = 0.95, min_cell: int | None = None,
) -> BedBandIncidence:
    """Cumulative incidence of local failure (code 1; death, code 2, competing) per BED10 band
    (below ``cut_gy`` / at or above it), with Gray's test between the bands; under
    ``min_cell`` from counts rounded as :func:`cohort.suppression.round_event_counts`."""
    data = add_bed_band(patients, cut_gy)
    used = data.filter(pl.col(BED10_BAND).is_not_null() & pl.col(time).is_not_null()
                       & pl.col(event).is_not_null())
    used = used.with_columns(pl.col(BED10_BAND).cast(pl.String))
    counts = event_counts(used, time, event, by=BED10_BAND, cause=1)
    table = cif_from_counts(round_event_counts(counts, min_cell, competing=True), conf_level)
    gray = gray_test(used, time, event, BED10_BAND) if used[BED10_BAND].n_unique() >= 2 else None
    return BedBandIncidence(table, gray, used.height, data.height - used.height, min_cell,
                            tuple(small_groups(counts, min_cell)))
