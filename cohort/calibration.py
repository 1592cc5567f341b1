"""Published figures of the source studies beside the values computed from a cohort's rows.

``calibration_table`` is the one place where the bundled demonstration cohort (``oligomet-demo``)
is compared with the papers it was reconstructed from: the calibration test and the
"Published vs. this cohort" screen both read it. Times are in months.

Kinds of comparison and their tolerances:

- ``exact count``: a number of patients (or lesions, courses, deaths); must be equal.
- ``value``: a median / mean / minimum / maximum of a baseline or dose variable; must agree to the
  precision the paper printed (half a unit of its last digit; dose medians: 1 % or that, whichever
  is larger, because a median dose is one real schedule, not a free number).
- ``median``: a Kaplan-Meier median; within 10 % or 1 month, whichever is larger.
- ``landmark``: a survival or cumulative-incidence rate at 12/18/24 months; within 0.05.
- ``follow-up``: a median follow-up; within 10 % or 1 month.
- ``not comparable``: printed for completeness, not checked (the paper contradicts itself; ``note``
  says how).

Survival figures go through ``_km_at``, ``_km_median`` and ``_cif_at``, which call the app's own
``cohort.survival`` and ``cohort.competing`` (the functions the Survival screen shows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from cohort.competing import cumulative_incidence
from cohort.dose import add_dose_columns
from cohort.survival import median_survival, survival_at
from cohort.units import DAYS_PER_MONTH

DEFAULT_TARGETS = Path(__file__).resolve().parent.parent / "data" / "calibration" / "published_targets.yaml"

#: Study value in the ``study`` column for each block of the targets file.
STUDY_NAMES: dict[str, str] = {
    "kao_sunitinib_igrt": "Kao sunitinib + IGRT phase 1",
    "pazopanib_srt_mrcc": "Pazopanib + SRT mRCC series",
    "lee_liver_sbrt_phase1": "Lee 2009 liver SBRT phase 1",
    "pei_liver_imrt": "Pei 2019 liver IMRT series",
    "lee_mrt_mcrc.mrt_group": "Lee 2021 mCRC MRT group",
    "lee_mrt_mcrc.systemic_only_group": "Lee 2021 mCRC systemic-only registry",
}

SCHEMA = {
    "study": pl.String,
    "citation": pl.String,
    "figure": pl.String,
    "kind": pl.String,
    "published": pl.Float64,
    "cohort": pl.Float64,
    "difference": pl.Float64,
    "tolerance": pl.Float64,
    "ok": pl.Boolean,
    "note": pl.String,
    "source": pl.String,
}


#: What a block of the targets says about its paper (read off the paper itself).
PAPER_KEYS = ("source", "citation", "title", "doi")


def load_targets(path: str | Path | None = None) -> dict:
    """The published targets (``studies`` mapping) read from ``data/calibration``."""
    with open(path or DEFAULT_TARGETS, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# --------------------------------------------------------------------------- survival helpers


def _as_cause_one(df: pl.DataFrame, time: str, event: str, code: int) -> pl.DataFrame:
    """Time and an event column where ``code`` is recoded 1 (the app's functions count 1)."""
    recoded = pl.when(pl.col(event) == code).then(1).when(pl.col(event) == 0).then(0).otherwise(2)
    return df.drop_nulls([time, event]).select(pl.col(time), recoded.alias("_event"))


def _km_at(df: pl.DataFrame, time: str, event: str, t: float, code: int = 1) -> float:
    """Kaplan-Meier survival at ``t`` months; ``event == code`` is the event, anything else censored."""
    landmark = survival_at(_as_cause_one(df, time, event, code), time, "_event", [t])
    value = landmark["survival"][0]
    return float("nan") if value is None else float(value)


def _km_median(df: pl.DataFrame, time: str, event: str, code: int = 1) -> float:
    """Kaplan-Meier median (as R's print(survfit)), months; inf if not reached."""
    median = median_survival(_as_cause_one(df, time, event, code), time, "_event")["median"][0]
    return float("inf") if median is None else float(median)


def _cif_at(df: pl.DataFrame, time: str, event: str, t: float, code: int = 1) -> float:
    """Aalen-Johansen cumulative incidence of ``code`` at ``t`` (other non-zero codes compete)."""
    cif = cumulative_incidence(df.drop_nulls([time, event]), time, event, cause=code)
    before = cif.filter(pl.col("time") <= t)
    return float(before["cif"][-1]) if before.height else 0.0


# --------------------------------------------------------------------------- row builders


def _precision(x: float) -> float:
    """Half a unit of the last printed digit of ``x`` (37 -> 0.5, 41.8 -> 0.05)."""
    text = repr(float(x)).rstrip("0").rstrip(".")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals


class _Rows:
    """Accumulates comparison rows for one study."""

    def __init__(self, study: str, source: str, citation: str) -> None:
        self.study, self.source, self.citation, self.rows = study, source, citation, []

    def add(
        self,
        figure: str,
        kind: str,
        published: float,
        cohort: float | None,
        tol: float | None,
        note: str = "",
    ) -> None:
        cohort_v = (
            None if cohort is None or (isinstance(cohort, float) and np.isnan(cohort)) else float(cohort)
        )
        diff = None if cohort_v is None else cohort_v - float(published)
        checked = kind != "not comparable"
        ok = (diff is not None and bool(abs(diff) <= tol + 1e-9)) if checked else None
        self.rows.append(
            {
                "study": self.study,
                "citation": self.citation,
                "figure": figure,
                "kind": kind,
                "published": float(published),
                "cohort": cohort_v,
                "difference": diff,
                "tolerance": tol,
                "ok": ok,
                "note": note,
                "source": self.source,
            }
        )

    def count(self, figure: str, published: float, cohort: float, note: str = "") -> None:
        self.add(figure, "exact count", published, cohort, 0.0, note)

    def value(self, figure: str, published: float, cohort: float, tol: float | None = None) -> None:
        self.add(figure, "value", published, cohort, _precision(published) if tol is None else tol)

    def median(self, figure: str, published: float, cohort: float, kind: str = "median") -> None:
        self.add(figure, kind, published, cohort, max(0.1 * published, 1.0))

    def landmark(self, figure: str, published: float, cohort: float) -> None:
        self.add(figure, "landmark", published, cohort, 0.05)

    def counts(
        self, label: str, published: dict, values: Iterable[Any], key: Callable[[Any], Any] = str
    ) -> None:
        """One exact-count row per category of ``published`` (keys compared as strings)."""
        vals = [key(v) for v in values]
        for cat, n in published.items():
            self.count(f"{label}: {cat}", n, sum(1 for v in vals if v == str(cat)))

    def summary(self, label: str, spec: dict, values: pl.Series, dose: bool = False) -> None:
        """Rows for the median/mean/min/max present in ``spec`` (also *_gy keys)."""
        v = values.drop_nulls()
        stats = {"median": v.median(), "mean": v.mean(), "min": v.min(), "max": v.max()}
        for key, stat in (
            ("median", "median"),
            ("median_gy", "median"),
            ("mean", "mean"),
            ("min", "min"),
            ("max", "max"),
            ("min_gy", "min"),
            ("max_gy", "max"),
        ):
            if key in spec:
                pub = spec[key]
                tol = max(_precision(pub), 0.01 * pub) if dose and stat == "median" else None
                self.value(f"{label} {stat}", pub, stats[stat], tol)


def _bucket(v: Any, top: int) -> str:
    """Category label of a count with an open top class (``top`` -> "top+")."""
    if v is None:
        return "unknown"
    return f"{top}+" if v >= top else str(int(v))


def _of(p: pl.DataFrame, study: str) -> pl.DataFrame:
    return p.filter(pl.col("study") == study)


def _site_counts(p: pl.DataFrame, col: str = "treated_sites") -> dict[str, int]:
    out: dict[str, int] = {}
    for sites in p[col].to_list():
        for s in sites or []:
            out[s] = out.get(s, 0) + 1
    return out


def _toxicity_rows(r: _Rows, tox: pl.DataFrame, ids: list[str], spec: list[dict], mode: str) -> None:
    """Exact counts of patients per term and worst grade (``mode``: grades / g3plus / allg34)."""
    t = tox.filter(pl.col("patient_id").is_in(ids))
    for item in spec:
        term_rows = t.filter(pl.col("term") == item["term"])
        if mode == "grades":
            for g in (1, 2, 3, 4):
                r.count(
                    f"{item['term']} grade {g} (patients)",
                    item[f"g{g}"],
                    term_rows.filter(pl.col("grade") == g).height,
                )
        elif mode == "g3plus":
            r.count(
                f"{item['term']} grade {item['grade']} (patients)",
                item["n"],
                term_rows.filter(pl.col("grade") == item["grade"]).height,
            )
        else:
            r.count(f"{item['term']} any grade (patients)", item["all"], term_rows["patient_id"].n_unique())
            r.count(
                f"{item['term']} grade 3-4 (patients)",
                item["g3_4"],
                term_rows.filter(pl.col("grade").is_in([3, 4]))["patient_id"].n_unique(),
            )


def _dose(p: pl.DataFrame) -> pl.DataFrame:
    return add_dose_columns(p)


def _followup(p: pl.DataFrame, survivors_only: bool = False) -> float:
    d = p.filter(pl.col("os_event") == 0) if survivors_only else p.drop_nulls("os_months")
    return float(d["os_months"].median())


# --------------------------------------------------------------------------- studies


def _kao(r: _Rows, s: dict, p: pl.DataFrame, tox: pl.DataFrame) -> None:
    r.count("patients", s["n_patients"], p.height)
    r.count("treated lesions", s["n_lesions"], int(p["n_lesions"].sum()))
    r.count("RT fractions = 10 (patients)", p.height, int((p["rt_fractions"] == 10).sum()))
    for lvl in s["dose_levels"]:
        g = p.filter(pl.col("dose_level") == lvl["level"])
        name = f"dose level {lvl['level']} ({lvl['sunitinib_mg']} mg / {lvl['rt_gy']} Gy)"
        r.count(f"{name}: patients", lvl["n"], g.height)
        r.count(f"{name}: patients with DLT", lvl["dlt"], int(g["dlt"].sum()))
        r.value(
            f"{name}: DLT rate", lvl["dlt"] / lvl["n"], float(g["dlt"].mean()) if g.height else None, 1e-9
        )
        r.count(
            f"{name}: patients at that sunitinib and RT dose",
            lvl["n"],
            g.filter(
                (pl.col("drug_dose_mg") == lvl["sunitinib_mg"]) & (pl.col("rt_total_dose_gy") == lvl["rt_gy"])
            ).height,
        )
    lesions = [x for lst in p["lesion_responses"].to_list() for x in lst]
    r.counts("lesion response", s["lesion_response"], lesions)
    sizes = pl.Series([x for lst in p["lesion_sizes_cm"].to_list() for x in lst])
    r.summary("tumour size (cm)", s["tumor_size_cm"], sizes)
    r.count(
        "patients with CR at all treated sites",
        s["patients_complete_response_all_sites"],
        int((p["best_response"] == "CR").sum()),
    )
    r.count(
        "alive without disease at last follow-up",
        s["alive_without_disease_at_last_follow_up"],
        int(p["alive_without_disease"].sum()),
    )
    prog = p.filter(pl.col("failure_pattern").is_in(["distant only", "local and distant", "unspecified"]))
    r.count("patients with progression", s["progressed"]["n"], prog.height)
    days = (prog["pfs_months"] * DAYS_PER_MONTH).round(0)
    r.value("days to progression median", s["progressed"]["median_days_to_progression"], days.median())
    r.value("days to progression min", s["progressed"]["range_days"][0], days.min())
    r.value("days to progression max", s["progressed"]["range_days"][1], days.max())
    fp = {k.replace("_", " "): v for k, v in s["failure_pattern"].items()}
    r.counts("failure pattern", fp, p["failure_pattern"].to_list())
    r.median("median follow-up of survivors", s["median_follow_up_months"], _followup(p, True), "follow-up")
    oy = s["one_year"]
    r.landmark("1-year local control (KM)", oy["local_control"], _km_at(p, "lc_months", "lc_event", 12))
    r.landmark("1-year PFS (KM)", oy["pfs"], _km_at(p, "pfs_months", "pfs_event", 12))
    r.landmark("1-year OS (KM)", oy["os"], _km_at(p, "os_months", "os_event", 12))
    r.count("maintenance sunitinib", s["maintenance_sunitinib"], int(p["maintenance_sunitinib"].sum()))
    _toxicity_rows(r, tox, p["patient_id"].to_list(), s["toxicity_grade3plus_patients"], "g3plus")


def _pazopanib(r: _Rows, s: dict, p: pl.DataFrame, tox: pl.DataFrame, courses: pl.DataFrame) -> None:
    r.count("patients", s["n_patients"], p.height)
    r.count(
        "regimen pazopanib 800 mg/day",
        p.height,
        p.filter((pl.col("regimen") == "pazopanib") & (pl.col("drug_dose_mg") == 800)).height,
    )
    r.summary("age (years)", s["age"], p["age_years"])
    r.counts("sex", s["sex"], p["sex"].to_list())
    r.counts("ECOG", s["ecog"], p["ecog"].to_list())
    r.counts("histology", s["histology"], p["histology"].to_list())
    r.count("nephrectomy", s["nephrectomy"], int(p["nephrectomy"].sum()))
    base = _site_counts(p, "baseline_sites")
    for site, n in s["baseline_sites_of_disease"].items():
        r.count(f"baseline site: {site}", n, base.get(site, 0))
    r.counts("best response to pazopanib", s["best_response_to_pazopanib"], p["best_response"].to_list())
    op = {k.replace("_", " "): v for k, v in s["oligoprogression"].items()}
    r.counts("oligoprogression", op, p["oligoprogression_type"].to_list())
    r.counts("irradiated sites per patient", s["sites_per_patient"], p["treated_sites"].list.len().to_list())
    c = courses.filter(pl.col("patient_id").is_in(p["patient_id"].to_list()))
    c = c.with_columns(
        bed10_gy=pl.col("total_dose_gy") * (1 + pl.col("total_dose_gy") / pl.col("fractions") / 10)
    )
    treated = _site_counts(p)
    for item in s["treated_sites"]:
        site = item["site"]
        r.count(f"treated site: {site} (patients)", item["n"], treated.get(site, 0))
        doses = c.filter(pl.col("site") == site)["total_dose_gy"]
        spec = {"median_gy": item["median_gy"]} if "median_gy" in item else {}
        if "range_gy" in item:
            spec.update(min_gy=item["range_gy"][0], max_gy=item["range_gy"][1])
        if site == "kidney":
            r.add(
                "kidney dose median (Gy)",
                "not comparable",
                item["median_gy"],
                doses.median(),
                None,
                "two courses of 37 and 50 Gy have a median of 43.5; the paper prints 50 (upper median)",
            )
            spec.pop("median_gy")
        r.summary(f"{site} dose (Gy)", spec, doses, dose=True)
    r.count(
        "RT courses (one per irradiated site)",
        sum(s["sites_per_patient"][k] * k for k in s["sites_per_patient"]),
        c.height,
    )
    ov = s["dose_overall"]
    note = "contradicts the per-site table (>= 41 of 51 courses are >= 35 Gy in 5-10 fractions)"
    r.add(
        "overall dose median (Gy)", "not comparable", ov["median_gy"], c["total_dose_gy"].median(), None, note
    )
    r.add(
        "overall fractions median",
        "not comparable",
        ov["median_fractions"],
        c["fractions"].median(),
        None,
        note,
    )
    r.value("overall dose min (Gy)", ov["range_gy"][0], c["total_dose_gy"].min())
    r.value("overall dose max (Gy)", ov["range_gy"][1], c["total_dose_gy"].max())
    r.value("overall fractions min", ov["range_fractions"][0], c["fractions"].min())
    r.value("overall fractions max", ov["range_fractions"][1], c["fractions"].max())
    tech = {"SBRT": "SBRT", "3D-CRT": "3D-CRT", "IMRT": "IMRT", "robotic SRT": "robotic SRT"}
    r.counts("technique", {tech[k]: v for k, v in s["technique"].items()}, p["rt_technique"].to_list())
    for col, key, label in (
        ("pfs1", "pfs1_months", "PFS-1"),
        ("pfs2", "pfs2_months", "PFS-2"),
        ("pfs", "pfs_total_months", "PFS-1 + PFS-2"),
    ):
        spec = s[key]
        r.median(f"{label} median (KM)", spec["median"], _km_median(p, f"{col}_months", f"{col}_event"))
        r.value(f"{label} min (months)", spec["min"], p[f"{col}_months"].min())
        r.value(f"{label} max (months)", spec["max"], p[f"{col}_months"].max())
    fp = {k.replace("_", " "): v for k, v in s["further_progression"].items()}
    r.counts("further progression", fp, p["further_progression"].to_list())
    _toxicity_rows(r, tox, p["patient_id"].to_list(), s["toxicity"], "allg34")


def _liver_sbrt(r: _Rows, s: dict, p: pl.DataFrame, tox: pl.DataFrame) -> None:
    r.count("patients", s["n_patients"], p.height)
    r.counts("primary", s["primary"], p["primary_site"].to_list())
    r.summary("age (years)", s["age"], p["age_years"])
    r.counts("sex", s["sex"], p["sex"].to_list())
    r.counts(
        "KPS",
        s["kps"],
        p["kps"].to_list(),
        key=lambda k: "unknown" if k is None else ("70-80" if k <= 80 else str(k)),
    )
    r.count("extrahepatic disease", s["extrahepatic_disease"], int(p["extrahepatic_disease"].sum()))
    r.counts(
        "prior chemotherapy lines",
        s["prior_chemo_lines"],
        p["prior_chemo_lines"].to_list(),
        key=lambda v: _bucket(v, 3),
    )
    r.count(
        f"treated site {s['treated_site']} only",
        p.height,
        int((p["treated_sites"].list.join(",") == s["treated_site"]).sum()),
    )
    r.summary("number of tumours", s["n_tumors"], p["n_lesions"])
    r.summary("GTV (mL)", s["gtv_ml"], p["gtv_ml"])
    d = _dose(p)
    r.count("6 fractions", p.height, int((p["rt_fractions"] == s["rt"]["fractions"]).sum()))
    r.summary("total dose (Gy)", s["rt"], d["rt_total_dose_gy"], dose=True)
    r.count("technique SBRT", p.height, int((p["rt_technique"] == s["rt"]["technique"]).sum()))
    r.counts("Veff stratum", s["veff_strata"], p["veff_stratum"].to_list())
    r.median("median follow-up (all patients)", s["follow_up_median_months"], _followup(p), "follow-up")
    r.count("deaths", s["deaths"], int((p["os_event"] == 1).sum()))
    r.median("OS median (KM)", s["os"]["median"], _km_median(p, "os_months", "os_event"))
    r.landmark("OS at 18 months (KM)", s["os"]["at_18_months"], _km_at(p, "os_months", "os_event", 18))
    for grp, val in s["os_one_year_by_primary"].items():
        g = p.filter(pl.col("primary_group") == grp)
        r.landmark(f"1-year OS, {grp} (KM)", val, _km_at(g, "os_months", "os_event", 12))
    r.median("PFS median (KM)", s["pfs"]["median"], _km_median(p, "pfs_months", "pfs_event"))
    r.landmark(
        "1-year local control (1 - CIF of local failure, death competing)",
        s["local_control_one_year"],
        1 - _cif_at(p, "lc_months", "lc_event", 12),
    )
    assessable = p.filter(pl.col("best_response") != "NE")
    r.count("patients assessable for local response", sum(s["local_response"].values()), assessable.height)
    r.counts("local response", s["local_response"], p["best_response"].to_list())
    ids = p["patient_id"].to_list()
    _toxicity_rows(r, tox.filter(pl.col("phase") == "acute"), ids, s["toxicity_worst_grade"], "grades")
    _toxicity_rows(r, tox.filter(pl.col("phase") == "late"), ids, s["late_toxicity"], "g3plus")


def _liver_imrt(r: _Rows, s: dict, p: pl.DataFrame, tox: pl.DataFrame) -> None:
    r.count("patients", s["n_patients"], p.height)
    r.count("treated lesions", s["n_lesions"], int(p["n_lesions"].sum()))
    r.counts("sex", s["sex"], p["sex"].to_list())
    r.summary("age (years)", s["age"], p["age_years"])
    r.counts("primary", s["primary"], p["primary_site"].to_list())
    r.counts("liver lesions", s["liver_lesions"], p["n_lesions"].to_list())
    r.counts("timing", s["timing"], p["timing"].to_list())
    r.count("previous chemotherapy", s["previous_chemo"], int((p["prior_chemo_lines"] > 0).sum()))
    buckets = {0: "0", 1: "1", 2: "2-3", 3: "2-3"}
    r.counts(
        "previous chemotherapy regimens",
        s["previous_chemo_regimens"],
        p["prior_chemo_lines"].to_list(),
        key=lambda v: buckets.get(v, "4+"),
    )
    r.count(
        "active extrahepatic disease", s["active_extrahepatic_disease"], int(p["extrahepatic_disease"].sum())
    )
    r.summary("maximum diameter (cm)", s["max_diameter_cm"], p["max_diameter_cm"])
    d = _dose(p)
    rt = s["rt"]
    r.count("technique IMRT", p.height, int((p["rt_technique"] == rt["technique"]).sum()))
    r.summary("total dose (Gy)", rt["total_gy"], d["rt_total_dose_gy"], dose=True)
    r.summary("dose per fraction (Gy)", rt["dose_per_fraction_gy"], d["dose_per_fraction_gy"], dose=True)
    r.summary("fractions", rt["fractions"], d["rt_fractions"].cast(pl.Float64))
    r.summary("BED10 (Gy)", rt["bed10_gy"], d["bed10_gy"], dose=True)
    r.counts("concurrent systemic therapy", s["concurrent_systemic"], p["regimen"].to_list())
    r.median("median follow-up (all patients)", s["follow_up_median_months"], _followup(p), "follow-up")
    r.count("deaths", s["deaths"], int((p["os_event"] == 1).sum()))
    r.median("OS median (KM)", s["os"]["median"], _km_median(p, "os_months", "os_event"))
    r.landmark("1-year OS (KM)", s["os"]["one_year"], _km_at(p, "os_months", "os_event", 12))
    r.landmark("2-year OS (KM)", s["os"]["two_year"], _km_at(p, "os_months", "os_event", 24))
    r.landmark(
        "1-year local control (KM, deaths censored)",
        s["local_control"]["one_year"],
        _km_at(p, "lc_months", "lc_event", 12),
    )
    fails = sorted(p.filter(pl.col("lc_event") == 1)["lc_months"].to_list())
    r.count("local failures", len(s["local_control"]["local_failure_months"]), len(fails))
    for i, m in enumerate(s["local_control"]["local_failure_months"]):
        r.value(f"local failure {i + 1} (months)", m, fails[i] if i < len(fails) else None)
    r.median("PFS median (KM)", s["pfs"]["median"], _km_median(p, "pfs_months", "pfs_event"))
    r.landmark("1-year PFS (KM)", s["pfs"]["one_year"], _km_at(p, "pfs_months", "pfs_event", 12))
    r.counts("response", s["response"], p["best_response"].to_list())
    _toxicity_rows(r, tox, p["patient_id"].to_list(), s["toxicity_worst_grade"], "grades")


def _ttnt_rows(r: _Rows, spec: dict, p: pl.DataFrame, label: str) -> None:
    r.median(f"TTNT median{label} (KM)", spec["median"], _km_median(p, "ttnt_months", "ttnt_event"))
    ci = spec.get("cumulative_incidence", spec)
    for key, t in (("one_year", 12), ("two_year", 24)):
        if key in ci:
            r.landmark(
                f"TTNT {t // 12}-year cumulative incidence{label} (1 - KM, deaths censored)",
                ci[key],
                1 - _km_at(p, "ttnt_months", "ttnt_event", t),
            )


def _mcrc_common(r: _Rows, s: dict, p: pl.DataFrame) -> None:
    r.count("patients", s["n_patients"], p.height)
    r.summary("age (years)", s["age"], p["age_years"])
    r.counts("sex", s["sex"], p["sex"].to_list())
    r.counts("primary", s["primary"], p["primary_site"].to_list())
    r.counts("tumour type", s["tumor_type"], p["tumor_type"].to_list())
    r.counts("regimen", s["regimen"], p["regimen"].to_list())
    r.counts("line of therapy", s["line"], p["line_of_therapy"].to_list(), key=lambda v: _bucket(v, 4))
    _ttnt_rows(r, s["ttnt"] | s["ttnt"]["cumulative_incidence"], p, "")
    for reg, spec in s["ttnt"]["by_regimen"].items():
        _ttnt_rows(r, spec, p.filter(pl.col("regimen") == reg), f", {reg}")


def _mrt(r: _Rows, s: dict, p: pl.DataFrame, tox: pl.DataFrame) -> None:
    _mcrc_common(r, s, p)
    r.counts("involved organs", s["involved_organs"], p["n_involved_organs"].to_list())
    r.counts(
        "metastatic lesions",
        s["metastatic_lesions"],
        p["n_metastases"].to_list(),
        key=lambda v: _bucket(v, 6),
    )
    r.counts("oligo state", s["oligo_state"], p["oligo_state"].to_list())
    r.counts("lesions treated", s["lesions_treated"], p["n_lesions"].to_list())
    combos = p["treated_sites"].list.join("+").to_list()
    r.counts("treated site", s["treated_site"], combos)
    tech = p["rt_technique"].replace({"SBRT": "SBRT/SRS", "SRS": "SBRT/SRS"}).to_list()
    r.counts("technique", s["technique"], tech)
    d = _dose(p)
    dose = s["dose"]
    r.summary(
        "BED10 (Gy)",
        {"median": dose["bed10_median"], "min": dose["bed10_range"][0], "max": dose["bed10_range"][1]},
        d["bed10_gy"],
        dose=True,
    )
    r.summary(
        "total dose (Gy)",
        {
            "median": dose["total_median_gy"],
            "min": dose["total_range_gy"][0],
            "max": dose["total_range_gy"][1],
        },
        d["rt_total_dose_gy"],
        dose=True,
    )
    r.summary(
        "dose per fraction (Gy)",
        {
            "median": dose["per_fraction_median_gy"],
            "min": dose["per_fraction_range_gy"][0],
            "max": dose["per_fraction_range_gy"][1],
        },
        d["dose_per_fraction_gy"],
        dose=True,
    )
    sched = list(zip(p["rt_total_dose_gy"].to_list(), p["rt_fractions"].to_list(), strict=True))
    for item in s["common_schedules"]:
        n = sum(1 for g, f in sched if g == item["gy"] and f == item["fx"])
        r.count(f"schedule {item['gy']} Gy / {item['fx']} fx (courses)", round(item["share"] * p.height), n)
    r.summary(
        "months from chemotherapy start to MRT", s["months_from_chemo_start_to_mrt"], p["months_chemo_to_rt"]
    )
    for state, spec in s["ttnt"]["by_oligo_state"].items():
        if isinstance(spec, dict):
            _ttnt_rows(r, spec, p.filter(pl.col("oligo_state") == state), f", {state}")
    r.landmark(
        "1-year in-field control (KM, deaths censored)",
        s["infield_control"]["one_year"],
        _km_at(p, "lc_months", "lc_event", 12),
    )
    r.landmark(
        "2-year in-field control (KM, deaths censored)",
        s["infield_control"]["two_year"],
        _km_at(p, "lc_months", "lc_event", 24),
    )
    r.landmark("1-year OS (KM)", s["os"]["one_year"], _km_at(p, "os_months", "os_event", 12))
    r.landmark("2-year OS (KM)", s["os"]["two_year"], _km_at(p, "os_months", "os_event", 24))
    r.count("alive at last follow-up", s["os"]["alive_at_last_follow_up"], int((p["os_event"] == 0).sum()))
    r.median("median follow-up (all patients)", s["follow_up_median_months"], _followup(p), "follow-up")
    r.count(
        "patients with grade >= 3 MRT toxicity",
        s["grade3plus_mrt_toxicity"],
        tox.filter(pl.col("patient_id").is_in(p["patient_id"].to_list()) & (pl.col("grade") >= 3)).height,
    )


def _registry(r: _Rows, s: dict, p: pl.DataFrame) -> None:
    _mcrc_common(r, s, p)
    r.count("no treated sites (empty list)", p.height, int((p["treated_sites"].list.len() == 0).sum()))
    r.count("patients with survival data", s["os"]["with_survival_data"], p["os_months"].is_not_null().sum())
    r.landmark("1-year OS (KM)", s["os"]["one_year"], _km_at(p, "os_months", "os_event", 12))
    r.landmark("2-year OS (KM)", s["os"]["two_year"], _km_at(p, "os_months", "os_event", 24))
    r.median(
        "median follow-up (patients with survival data)",
        s["follow_up_median_months"],
        _followup(p),
        "follow-up",
    )


def study_rows(
    key: str,
    study: dict,
    patients: pl.DataFrame,
    toxicities: pl.DataFrame,
    courses: pl.DataFrame | None = None,
) -> list[dict]:
    """Comparison rows (dicts, columns of ``calibration_table``) for one block of the targets."""
    name = STUDY_NAMES[key]
    r = _Rows(name, study.get("source", ""), study.get("citation", ""))
    p = _of(patients, name)
    if key == "kao_sunitinib_igrt":
        _kao(r, study, p, toxicities)
    elif key == "pazopanib_srt_mrcc":
        _pazopanib(r, study, p, toxicities, courses if courses is not None else pl.DataFrame())
    elif key == "lee_liver_sbrt_phase1":
        _liver_sbrt(r, study, p, toxicities)
    elif key == "pei_liver_imrt":
        _liver_imrt(r, study, p, toxicities)
    elif key.endswith("mrt_group"):
        _mrt(r, study, p, toxicities)
    else:
        _registry(r, study, p)
    return r.rows


def study_blocks(targets: dict) -> list[tuple[str, dict]]:
    """(key, block) for each of the six groups; the mCRC paper holds two, both keep its
    ``source``, ``citation``, ``title`` and ``doi``."""
    out = []
    for key, block in targets["studies"].items():
        if key == "lee_mrt_mcrc":
            paper = {k: block[k] for k in PAPER_KEYS if k in block}
            for sub in ("mrt_group", "systemic_only_group"):
                out.append((f"{key}.{sub}", block[sub] | paper))
        else:
            out.append((key, block))
    return out


def calibration_table(
    patients: pl.DataFrame,
    toxicities: pl.DataFrame,
    targets: dict | None = None,
    courses: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per published figure: study, citation (first author, journal, year, from the
    paper), figure, kind, published, cohort, difference, tolerance, ok (null when not
    comparable), note, source (the paper's file in the shared seeds folder)."""
    targets = targets or load_targets()
    rows = [
        row
        for key, block in study_blocks(targets)
        for row in study_rows(key, block, patients, toxicities, courses)
    ]
    return pl.DataFrame(rows, schema=SCHEMA)


def calibration_summary(table: pl.DataFrame) -> dict[str, int]:
    """Counts of a calibration table: figures, checked, within and outside tolerance, and not
    comparable (``ok`` null)."""
    checked = table.filter(pl.col("ok").is_not_null())
    within = int(checked["ok"].sum())
    return {"figures": table.height, "checked": checked.height, "within": within,
            "outside": checked.height - within, "not_comparable": table.height - checked.height}


def papers(targets: dict | None = None) -> pl.DataFrame:
    """One row per paper of the targets: study (as in ``calibration_table``), citation,
    title, doi and source file ('' where the paper does not print it)."""
    targets = targets or load_targets()
    rows = [{"study": STUDY_NAMES[key], **{k: str(block.get(k, "")) for k in PAPER_KEYS}}
            for key, block in study_blocks(targets)]
    return pl.DataFrame(rows, schema={"study": pl.String, **dict.fromkeys(PAPER_KEYS, pl.String)})
