"""Bundled datasets by name, mapped to the canonical schema (no download: files ship in packages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cohort.dose import add_dose_columns
from cohort.schema import Cohort
from cohort.units import DAYS_PER_MONTH

DEFAULT_DATASET = "oligomet-demo"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEMO_PATIENTS = DATA_DIR / "oligomet_demo_patients.parquet"
DEMO_TOXICITIES = DATA_DIR / "oligomet_demo_toxicities.parquet"
DEMO_COURSES = DATA_DIR / "oligomet_demo_courses.parquet"


@dataclass(frozen=True)
class DatasetInfo:
    """A bundled dataset: key, title shown to users, and where it comes from."""

    key: str
    title: str
    provenance: str
    synthetic: bool = False


def _sksurv_frame(loader: Callable) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """Covariates, event (bool) and time (days) of a scikit-survival bundled dataset."""
    covariates, outcome = loader()
    categorical = covariates.select_dtypes("category").columns
    frame = pl.from_pandas(covariates.astype(dict.fromkeys(categorical, str)))
    event_name, time_name = outcome.dtype.names
    return frame, pl.Series(outcome[event_name]), pl.Series(outcome[time_name])


def numbered_ids(prefix: str) -> pl.Expr:
    """patient_id 'PREFIX-001', 'PREFIX-002', ... in row order."""
    number = pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(3)
    return pl.format(f"{prefix}-{{}}", number).alias("patient_id")


def kps_to_ecog(kps: pl.Expr) -> pl.Expr:
    """ECOG band from a Karnofsky score (100-90: 0, 80-70: 1, 60-50: 2, 40-30: 3, 20-10: 4)."""
    return (
        pl.when(kps >= 90).then(0).when(kps >= 70).then(1).when(kps >= 50).then(2)
        .when(kps >= 30).then(3).when(kps.is_not_null()).then(4).cast(pl.Int64)
    )


def _veterans() -> pl.DataFrame:
    from sksurv.datasets import load_veterans_lung_cancer

    frame, event, days = _sksurv_frame(load_veterans_lung_cancer)
    return frame.select(
        numbered_ids("VET"),
        pl.lit("VA lung cancer trial").alias("study"),
        pl.col("Age_in_years").alias("age_years"),
        pl.col("Celltype").alias("histology"),
        pl.col("Treatment").replace({"standard": "standard chemotherapy",
                                     "test": "test chemotherapy"}).alias("regimen"),
        kps_to_ecog(pl.col("Karnofsky_score")).alias("ecog"),
        pl.col("Karnofsky_score").cast(pl.Int64).alias("kps"),
        pl.col("Months_from_Diagnosis").alias("months_from_diagnosis"),
        pl.col("Prior_therapy").alias("prior_therapy"),
        days.cast(pl.Int64).alias("os_days"),
        (days / DAYS_PER_MONTH).alias("os_months"),
        event.cast(pl.Int64).alias("os_event"),
    )


def _gbsg2() -> pl.DataFrame:
    from sksurv.datasets import load_gbsg2

    frame, event, days = _sksurv_frame(load_gbsg2)
    return frame.select(
        numbered_ids("GBSG"),
        pl.lit("GBSG2 trial").alias("study"),
        pl.col("age").alias("age_years"),
        pl.lit("female").alias("sex"),
        pl.lit("breast cancer").alias("histology"),
        pl.col("horTh").replace({"yes": "tamoxifen", "no": "none"}).alias("regimen"),
        pl.col("menostat").replace({"Pre": "premenopausal", "Post": "postmenopausal"})
        .alias("menopausal_status"),
        pl.col("tsize").alias("tumour_size_mm"),
        pl.col("tgrade").alias("tumour_grade"),
        pl.col("pnodes").cast(pl.Int64).alias("positive_nodes"),
        pl.col("progrec").alias("progesterone_receptor_fmol"),
        pl.col("estrec").alias("estrogen_receptor_fmol"),
        days.cast(pl.Int64).alias("pfs_days"),
        (days / DAYS_PER_MONTH).alias("pfs_months"),
        event.cast(pl.Int64).alias("pfs_event"),
    )


def _demo() -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(DEMO_PATIENTS), pl.read_parquet(DEMO_TOXICITIES)


def demo_courses() -> pl.DataFrame:
    """Per-site radiotherapy courses of the demonstration cohort's pazopanib series."""
    return pl.read_parquet(DEMO_COURSES)


_DATASETS: dict[str, tuple[DatasetInfo, Callable[[], tuple[pl.DataFrame, pl.DataFrame | None]]]] = {
    "oligomet-demo": (
        DatasetInfo(
            "oligomet-demo",
            "Oligomet demonstration cohort (synthetic)",
            "Synthetic patient-level rows reconstructed from the published figures of five "
            "studies of metastasis-directed radiotherapy (sunitinib + IGRT phase 1, pazopanib + "
            "SRT in mRCC, liver SBRT phase 1, liver IMRT, MRT in mCRC with a systemic-only "
            "registry); see data/README.md and the Published vs. this cohort screen. "
            "Not patient records.",
            synthetic=True,
        ),
        _demo,
    ),
    "veterans": (
        DatasetInfo(
            "veterans",
            "Veterans' Administration lung cancer trial",
            "Kalbfleisch & Prentice (1980), VA lung cancer trial: standard vs test chemotherapy; "
            "real trial data shipped with scikit-survival. Survival in days (kept exact as "
            "os_days) converted to months (30.4375 days per month); Karnofsky score kept as kps "
            "and banded to ECOG.",
        ),
        lambda: (_veterans(), None),
    ),
    "gbsg2": (
        DatasetInfo(
            "gbsg2",
            "GBSG2 breast cancer trial",
            "German Breast Cancer Study Group 2 (Schumacher et al. 1994): hormonal therapy "
            "(tamoxifen) vs none; real trial data shipped with scikit-survival. Recurrence-free "
            "survival in days (kept exact as pfs_days) converted to months (30.4375 days per "
            "month) as PFS.",
        ),
        lambda: (_gbsg2(), None),
    ),
}


def list_datasets() -> list[DatasetInfo]:
    """The bundled datasets, default first."""
    infos = [info for info, _ in _DATASETS.values()]
    return sorted(infos, key=lambda info: info.key != DEFAULT_DATASET)


def load_dataset(key: str) -> Cohort:
    """The bundled dataset ``key`` as a Cohort (dose columns derived); KeyError if unknown."""
    info, build = _DATASETS[key]
    patients, toxicities = build()
    return Cohort(
        name=info.title,
        patients=add_dose_columns(patients),
        toxicities=toxicities,
        provenance=info.provenance,
        synthetic=info.synthetic,
    )
