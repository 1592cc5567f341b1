"""Build ``oligomet-demo``: a synthetic cohort reconstructed from five published studies.

Run ``python -m data.build_demo [OUT_DIR]`` (default: this folder). Writes
``oligomet_demo_patients.parquet``, ``oligomet_demo_toxicities.parquet`` and
``oligomet_demo_courses.parquet``; the same code and seed give byte-identical files.

Method (see data/README.md): every published count is laid out exactly (shuffled over patients
with a fixed-seed numpy Generator); continuous variables are drawn between their published minimum
and maximum through their published median; event times are drawn by stratified inverse-CDF
sampling from piecewise-linear curves through the published medians and landmark rates, then
censored by an administrative follow-up; subgroup labels are placed by a swap search; and each
group is rebuilt with the next seed until ``cohort.calibration`` passes every figure.
The rows are synthetic, not patient records.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cohort.calibration import STUDY_NAMES, load_targets, study_blocks, study_rows  # noqa: E402

SEED = 20240611
DATA_DIR = Path(__file__).resolve().parent
TARGETS = DATA_DIR / "calibration" / "published_targets.yaml"
FILES = {
    "patients": "oligomet_demo_patients.parquet",
    "toxicities": "oligomet_demo_toxicities.parquet",
    "courses": "oligomet_demo_courses.parquet",
}
MAX_ATTEMPTS = 400

PATIENT_SCHEMA: dict[str, pl.DataType] = {
    "patient_id": pl.String(),
    "study": pl.String(),
    "age_years": pl.Float64(),
    "sex": pl.String(),
    "histology": pl.String(),
    "primary_site": pl.String(),
    "primary_group": pl.String(),
    "treated_sites": pl.List(pl.String()),
    "baseline_sites": pl.List(pl.String()),
    "n_metastases": pl.Int64(),
    "n_lesions": pl.Int64(),
    "n_involved_organs": pl.Int64(),
    "oligo_state": pl.String(),
    "oligoprogression_type": pl.String(),
    "tumor_type": pl.String(),
    "timing": pl.String(),
    "ecog": pl.Int64(),
    "kps": pl.Int64(),
    "extrahepatic_disease": pl.Boolean(),
    "nephrectomy": pl.Boolean(),
    "prior_chemo_lines": pl.Int64(),
    "rt_technique": pl.String(),
    "rt_total_dose_gy": pl.Float64(),
    "rt_fractions": pl.Int64(),
    "veff_stratum": pl.String(),
    "gtv_ml": pl.Float64(),
    "max_diameter_cm": pl.Float64(),
    "lesion_sizes_cm": pl.List(pl.Float64()),
    "regimen": pl.String(),
    "drug_dose_mg": pl.Float64(),
    "dose_level": pl.Int64(),
    "dlt": pl.Boolean(),
    "maintenance_sunitinib": pl.Boolean(),
    "line_of_therapy": pl.Int64(),
    "months_chemo_to_rt": pl.Float64(),
    "best_response": pl.String(),
    "lesion_responses": pl.List(pl.String()),
    "failure_pattern": pl.String(),
    "further_progression": pl.String(),
    "alive_without_disease": pl.Boolean(),
    "toxicity_assessed": pl.Boolean(),
    "os_months": pl.Float64(),
    "os_event": pl.Int64(),
    "pfs_months": pl.Float64(),
    "pfs_event": pl.Int64(),
    "lc_months": pl.Float64(),
    "lc_event": pl.Int64(),
    "ttnt_months": pl.Float64(),
    "ttnt_event": pl.Int64(),
    "pfs1_months": pl.Float64(),
    "pfs1_event": pl.Int64(),
    "pfs2_months": pl.Float64(),
    "pfs2_event": pl.Int64(),
}
TOX_SCHEMA = {
    "patient_id": pl.String(),
    "term": pl.String(),
    "grade": pl.Int64(),
    "phase": pl.String(),
    "ctcae_version": pl.String(),
    "onset_months": pl.Float64(),
}
COURSE_SCHEMA = {
    "patient_id": pl.String(),
    "site": pl.String(),
    "total_dose_gy": pl.Float64(),
    "fractions": pl.Int64(),
}

Rng = np.random.Generator


# --------------------------------------------------------------------------- small helpers


def labels(rng: Rng, counts: dict, n: int | None = None) -> list:
    """Shuffled list holding each key of ``counts`` exactly ``counts[key]`` times."""
    out = [k for k, c in counts.items() for _ in range(int(c))]
    if n is not None and len(out) != n:
        raise ValueError(f"counts sum to {len(out)}, expected {n}")
    return [out[i] for i in rng.permutation(len(out))]


def spread(
    rng: Rng, n: int, median: float, lo: float, hi: float, decimals: int = 0, shape: float = 1.6
) -> np.ndarray:
    """``n`` values (shuffled) with exactly this minimum, maximum and median, denser near the median."""
    u = np.sort(rng.uniform(size=n))
    u[0], u[-1] = 0.0, 1.0
    half = n // 2
    u[:half] = np.minimum(u[:half], 0.5)
    u[n - half :] = np.maximum(u[n - half :], 0.5)
    u = np.sort(u)
    if n % 2:
        u[half] = 0.5
    else:
        u[half - 1] = u[half] = 0.5
    z = 2 * u - 1
    v = np.where(
        z < 0, median - (median - lo) * np.abs(z) ** shape, median + (hi - median) * np.abs(z) ** shape
    )
    v = np.round(v, decimals)
    v[0], v[-1] = lo, hi
    if n % 2:
        v[half] = median
    else:
        v[half - 1] = v[half] = median
    return v[rng.permutation(n)]


def fix_sum(v: np.ndarray, target: float, rng: Rng, lo: float, hi: float, step: float = 1.0) -> np.ndarray:
    """``v`` nudged by ``step`` on interior values until it sums to ``target`` (keeps min and max)."""
    v = v.copy()
    keep = {int(np.argmin(v)), int(np.argmax(v))}
    for _ in range(100000):
        gap = target - v.sum()
        if abs(gap) < step / 2:
            break
        i = int(rng.integers(len(v)))
        new = v[i] + np.sign(gap) * step
        if i not in keep and lo < new < hi:
            v[i] = new
    return v


def curve_times(rng: Rng, n: int, knots: list[tuple[float, float]]) -> np.ndarray:
    """Latent event times (months) by stratified inverse-CDF sampling of a piecewise-linear
    cumulative distribution through ``knots`` = [(time, F)]; inf beyond the last knot (never)."""
    u = (rng.permutation(n) + rng.uniform(size=n)) / n
    ts = np.array([0.0] + [k[0] for k in knots])
    fs = np.array([0.0] + [k[1] for k in knots])
    t = np.interp(u, fs, ts)
    t[u > fs[-1]] = np.inf
    return np.maximum(t, 0.05)


def km(t: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier (event times, survival just after them); ``e`` is 1 for an event."""
    order = np.lexsort((1 - e, t))
    t, e = t[order], e[order]
    times = np.unique(t[e == 1])
    at_risk = len(t) - np.searchsorted(t, times, side="left")
    deaths = np.array([np.sum((t == x) & (e == 1)) for x in times])
    return times, np.cumprod(1 - deaths / at_risk)


def km_at(t: np.ndarray, e: np.ndarray, x: float) -> float:
    times, s = km(t, e)
    idx = np.searchsorted(times, x, side="right") - 1
    return 1.0 if idx < 0 else float(s[idx])


def km_median(t: np.ndarray, e: np.ndarray) -> float:
    times, s = km(t, e)
    hit = np.nonzero(s <= 0.5)[0]
    return float(times[hit[0]]) if len(hit) else np.inf


def swap_search(rng: Rng, labels_: list, loss, iters: int = 3000) -> list:
    """Hill-climb over swaps of two different labels minimising ``loss(labels)``."""
    cur = list(labels_)
    best = loss(cur)
    n = len(cur)
    for _ in range(iters):
        if best == 0:
            break
        i, j = rng.integers(n, size=2)
        if cur[i] == cur[j]:
            continue
        cur[i], cur[j] = cur[j], cur[i]
        val = loss(cur)
        if val <= best:
            best = val
        else:
            cur[i], cur[j] = cur[j], cur[i]
    return cur


def group_loss(t: np.ndarray, e: np.ndarray, groups: list, spec: dict, cif: bool = False) -> float:
    """Sum of tolerance-normalised excesses of group medians / landmarks over their tolerances."""
    g = np.array(groups)
    total = 0.0
    for name, s in spec.items():
        m = g == name
        for key, x in (("one_year", 12), ("two_year", 24)):
            if key in s:
                val = km_at(t[m], e[m], x)
                val = 1 - val if cif else val
                total += max(0.0, abs(val - s[key]) - 0.035) / 0.05
        if "median" in s:
            med = km_median(t[m], e[m])
            tol = max(0.1 * s["median"], 1.0)
            total += max(0.0, abs(med - s["median"]) - 0.7 * tol) / tol if np.isfinite(med) else 10
    return total


def censor(latent: np.ndarray, follow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(observed time, event 0/1) of latent times under administrative censoring."""
    event = (latent <= follow).astype(int)
    return np.round(np.minimum(latent, follow), 2), event


def competing(first: np.ndarray, death: np.ndarray, follow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(time, event) with 1 = ``first`` occurs first, 2 = death first, 0 = censored at ``follow``."""
    t = np.minimum(np.minimum(first, death), follow)
    ev = np.where(first <= np.minimum(death, follow), 1, np.where(death <= follow, 2, 0))
    return np.round(t, 2), ev


def follow_for_deaths(latent_death: np.ndarray, follow: np.ndarray, deaths: int) -> np.ndarray:
    """``follow`` rescaled so that exactly ``deaths`` latent deaths are observed."""
    ratio = np.sort(latent_death / follow)
    lo, hi = ratio[deaths - 1], ratio[deaths] if deaths < len(ratio) else ratio[deaths - 1] * 2
    scale = (lo + hi) / 2 if np.isfinite(hi) else lo * 1.5
    return follow * scale


def empty_rows(n: int) -> list[dict]:
    return [dict.fromkeys(PATIENT_SCHEMA) for _ in range(n)]


def ids(prefix: str, n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"{prefix}-{i + 1:0{width}d}" for i in range(n)]


def tox_row(pid: str, term: str, grade: int, phase: str, version: str, onset: float | None = None) -> dict:
    return {
        "patient_id": pid,
        "term": term,
        "grade": grade,
        "phase": phase,
        "ctcae_version": version,
        "onset_months": onset,
    }


# --------------------------------------------------------------------------- Kao sunitinib + IGRT

KAO_HISTOLOGY = {  # assumption: the paper names nine histologies but not how many of each
    "colorectal adenocarcinoma": 3,
    "head and neck squamous cell carcinoma": 3,
    "non-small cell lung cancer": 3,
    "hepatocellular carcinoma": 3,
    "renal cell carcinoma": 2,
    "melanoma": 2,
    "pancreatic adenocarcinoma": 2,
    "prostate adenocarcinoma": 2,
    "leiomyosarcoma": 1,
}
KAO_LESIONS = {1: 11, 2: 6, 3: 3, 4: 1}  # assumption: 36 lesions over 21 patients, 1-5 sites each
#: Days to progression of the 13 progressing patients (median 58, range 2-386, as published).
KAO_PROGRESSION_DAYS = [2, 21, 30, 36, 44, 51, 58, 64, 79, 118, 204, 371, 386]


def _kao(rng: Rng, s: dict, prefix: str) -> tuple[list[dict], list[dict], list[dict]]:
    n = s["n_patients"]
    rows = empty_rows(n)
    pid = ids(prefix, n)
    levels = [lv for lv in s["dose_levels"] for _ in range(lv["n"])]
    hist = labels(rng, KAO_HISTOLOGY, n)
    nles = labels(rng, KAO_LESIONS, n)
    age = spread(rng, n, 61, 38, 82)  # assumption: age not published
    sex = labels(rng, {"male": 11, "female": 10}, n)  # assumption: sex not published
    ecog = labels(rng, {0: 9, 1: 10, 2: 2}, n)  # assumption: eligibility allowed ECOG 0-2
    # DLT patients: one at level 3, two at level 4; all had liver RT and prior chemotherapy.
    lvl_idx = {lv: [i for i, x in enumerate(levels) if x["level"] == lv] for lv in (1, 2, 3, 4)}
    dlt3 = int(rng.choice(lvl_idx[3]))
    dlt4a, dlt4b = (int(x) for x in rng.choice(lvl_idx[4], size=2, replace=False))
    dlt_pts = [dlt3, dlt4a, dlt4b]
    others = [i for i in range(n) if i not in dlt_pts]
    trach = int(
        rng.choice([i for i in others if hist[i] == "head and neck squamous cell carcinoma"] or others)
    )
    hist[trach] = "head and neck squamous cell carcinoma"
    # lesion sites
    site_p = {"bone": 0.3, "liver": 0.3, "lung": 0.25, "lymph node": 0.1, "soft tissue": 0.05}
    sizes = list(
        spread(
            rng,
            s["n_lesions"],
            s["tumor_size_cm"]["median"],
            s["tumor_size_cm"]["min"],
            s["tumor_size_cm"]["max"],
            1,
        )
    )
    lesion_sites: list[list[str]] = []
    for i in range(n):
        sites = list(rng.choice(list(site_p), size=nles[i], p=list(site_p.values())))
        if i in dlt_pts or hist[i] == "hepatocellular carcinoma":
            sites[0] = "liver"
        if i == trach:
            sites[0] = "bone"  # L4 vertebral body
        lesion_sites.append([str(x) for x in sites])
    # responses: 3 local failures carry the 5 PD lesions; 9 patients CR at every site
    order = sorted(others, key=lambda i: (-nles[i], rng.uniform()))
    lf = [i for i in order if i != trach][:3]
    rest = [i for i in rng.permutation(n) if i not in lf]
    singles = [i for i in rest if nles[i] == 1]
    doubles = [i for i in rest if nles[i] == 2]
    cr_all = singles[:7] + doubles[:2]
    resp: list[list[str]] = [[] for _ in range(n)]
    pd_left = s["lesion_response"]["PD"]
    for k, i in enumerate(lf):
        n_pd = min(nles[i], pd_left - (len(lf) - k - 1))
        resp[i] = ["PD"] * n_pd + ["SD"] * (nles[i] - n_pd)
        pd_left -= n_pd
    for i in cr_all:
        resp[i] = ["CR"] * nles[i]
    pool_counts = dict(s["lesion_response"])
    for i in lf + cr_all:
        for x in resp[i]:
            pool_counts[x] -= 1
    mixed = [i for i in range(n) if i not in lf and i not in cr_all]
    non_cr = labels(rng, {k: v for k, v in pool_counts.items() if k != "CR"})
    pool = non_cr[len(mixed) :] + ["CR"] * pool_counts["CR"]
    pool = [pool[j] for j in rng.permutation(len(pool))]
    for k, i in enumerate(mixed):
        resp[i] = [non_cr[k]] + [pool.pop() for _ in range(nles[i] - 1)]
    # outcomes: progression and failure pattern
    prog_candidates = [i for i in range(n) if i not in lf and i != trach]
    prog_candidates = [prog_candidates[j] for j in rng.permutation(len(prog_candidates))]
    distant = prog_candidates[:9]
    unspecified = prog_candidates[9]
    progressors = lf + distant + [unspecified]
    days = list(KAO_PROGRESSION_DAYS)
    lf_days = days[7:10]  # local + distant failures at 64-118 days
    other_days = [d for k, d in enumerate(days) if k not in (7, 8, 9)]
    other_days = [other_days[j] for j in rng.permutation(len(other_days))]
    pfs_days = dict(zip(lf, lf_days, strict=True)) | dict(
        zip(distant + [unspecified], other_days, strict=True)
    )
    # deaths: 5 progressors before 1 year, 1 after, plus the comorbid (tracheal necrosis) death
    prog_sorted = sorted(progressors, key=lambda i: pfs_days[i])
    dead_early = [prog_sorted[j] for j in (0, 1, 3, 5, 8)]
    dead_late = [prog_sorted[10]]
    death_t = {i: min(11.5, pfs_days[i] / 30.4375 + rng.uniform(2.0, 8.0)) for i in dead_early}
    death_t |= {i: 14.8 for i in dead_late} | {trach: 13.4}
    survivors = [i for i in range(n) if i not in death_t]
    fu = spread(rng, len(survivors), s["median_follow_up_months"], 2.4, 17.8, 1)
    fu_map = dict(zip(survivors, fu, strict=True))
    for i in progressors:  # a survivor is followed beyond its progression
        if i in fu_map and fu_map[i] * 30.4375 <= pfs_days[i]:
            fu_map[i] = round(pfs_days[i] / 30.4375 + 0.6, 1)
    salvaged = int(rng.choice([i for i in distant if i in fu_map]))
    maint = set(
        rng.choice(
            [i for i in range(n) if i not in dlt_pts], size=s["maintenance_sunitinib"], replace=False
        ).tolist()
    )
    tox: list[dict] = []
    v = "v3.0"
    tox += [tox_row(pid[dlt3], t, 4, "acute", v) for t in ("Anemia", "Lymphopenia", "Thrombocytopenia")]
    tox += [tox_row(pid[dlt4a], t, 4, "acute", v) for t in ("Thrombocytopenia", "Lymphopenia")]
    tox += [tox_row(pid[dlt4b], "Nausea", 3, "acute", v)]
    tox += [tox_row(pid[trach], "Tracheal necrosis", 5, "late", v, 13.4)]
    for item in s["toxicity_grade3plus_patients"]:
        if item["grade"] != 3 or item["term"] == "Nausea":
            continue
        taken = {r["patient_id"] for r in tox if r["term"] == item["term"]}
        cand = [i for i in range(n) if pid[i] not in taken]
        for i in rng.choice(cand, size=item["n"], replace=False):
            tox.append(tox_row(pid[int(i)], item["term"], 3, "acute", v))
    lvl_of = {i: levels[i] for i in range(n)}
    for i, r in enumerate(rows):
        lv = lvl_of[i]
        sites_u = list(dict.fromkeys(lesion_sites[i]))
        os_t = death_t.get(i, fu_map.get(i))
        prog_t = pfs_days[i] / 30.4375 if i in pfs_days else None
        r.update(
            patient_id=pid[i],
            age_years=float(age[i]),
            sex=sex[i],
            histology=hist[i],
            treated_sites=sites_u,
            n_metastases=nles[i],
            n_lesions=nles[i],
            oligo_state="oligometastatic",
            ecog=ecog[i],
            rt_technique="IGRT",
            rt_total_dose_gy=float(lv["rt_gy"]),
            rt_fractions=10,
            regimen="sunitinib",
            drug_dose_mg=float(lv["sunitinib_mg"]),
            dose_level=lv["level"],
            dlt=i in dlt_pts,
            maintenance_sunitinib=i in maint,
            prior_chemo_lines=None,
            lesion_sizes_cm=[float(sizes.pop()) for _ in range(nles[i])],
            lesion_responses=resp[i],
            best_response=_worst(resp[i]),
            failure_pattern=(
                "local and distant"
                if i in lf
                else "distant only"
                if i in distant
                else "unspecified"
                if i == unspecified
                else "death without progression"
                if i == trach
                else "none"
            ),
            alive_without_disease=(i not in death_t) and (i not in progressors or i == salvaged),
            os_months=round(float(os_t), 2),
            os_event=int(i in death_t),
        )
        if prog_t is not None:
            r.update(pfs_months=round(prog_t, 2), pfs_event=1)
        elif i == trach:
            r.update(pfs_months=round(os_t, 2), pfs_event=1)
        else:
            r.update(pfs_months=round(os_t, 2), pfs_event=0)
        if i in lf:
            r.update(lc_months=round(prog_t, 2), lc_event=1)
        else:
            r.update(lc_months=round(os_t, 2), lc_event=2 if i in death_t else 0)
    for i in dlt_pts:
        rows[i]["prior_chemo_lines"] = 1  # "received prior chemotherapy" (number of lines not given)
    return rows, tox, []


def _worst(resp: list[str]) -> str:
    """Patient-level response: CR only when every treated lesion is CR, else the least favourable."""
    rank = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NE": 4}
    return max(resp, key=rank.__getitem__)


# --------------------------------------------------------------------------- pazopanib + SRT mRCC

#: Per-site courses (total Gy, fractions): counts chosen to give the published per-site medians and
#: ranges with the published schedules; local recurrence doses (not published) carry the overall
#: 8-54 Gy and 1-30 fraction extremes.
PAZ_COURSES: dict[str, list[tuple[float, int, int]]] = {
    "bone": [(35.0, 5, 5), (37.5, 5, 12), (40.0, 5, 2), (45.0, 5, 2)],
    "lymph node": [(27.0, 3, 1), (37.5, 5, 2), (50.0, 10, 5)],
    "lung": [(40.0, 5, 3), (45.0, 5, 2), (50.0, 5, 7)],
    "brain": [(21.0, 1, 1), (27.0, 3, 2)],
    "kidney": [(37.0, 10, 1), (50.0, 10, 1)],
    "local recurrence": [(8.0, 1, 1), (30.0, 10, 1), (54.0, 30, 1)],
    "pleura": [(50.0, 10, 1)],
    "liver": [(40.0, 10, 1)],
}
PAZ_TECHNIQUE = {"SBRT": "SBRT", "3D-CRT": "3D-CRT", "IMRT": "IMRT", "robotic SRT": "robotic SRT"}


def _paz_sites(rng: Rng, s: dict, n: int) -> list[list[str]]:
    """Treated-site lists with the published per-site patient counts and sites per patient."""
    want = {x["site"]: x["n"] for x in s["treated_sites"]}
    per = labels(rng, {int(k): v for k, v in s["sites_per_patient"].items()}, n)
    for _ in range(10000):
        left = dict(want)
        out: list[list[str]] = []
        ok = True
        for k in sorted(range(n), key=lambda i: -per[i]):
            avail = [x for x in left if left[x] > 0]
            if len(avail) < per[k]:
                ok = False
                break
            w = np.array([left[x] for x in avail], float)
            pick = list(rng.choice(avail, size=per[k], replace=False, p=w / w.sum()))
            for x in pick:
                left[x] -= 1
            out.append((k, [str(x) for x in pick]))
        if ok and not any(left.values()):
            res = [None] * n
            for k, lst in out:
                res[k] = lst
            return res
    raise RuntimeError("could not place treated sites")


def _paz_times(rng: Rng, s: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """PFS-1 and PFS-2 (all events) with the published medians and ranges, and of their sum."""
    p1s, p2s, tot = s["pfs1_months"], s["pfs2_months"], s["pfs_total_months"]
    for _ in range(20000):
        a = np.sort(spread(rng, n, p1s["median"], p1s["min"], p1s["max"], 2))
        b = np.sort(spread(rng, n, p2s["median"], p2s["min"], p2s["max"], 2))
        perm = np.concatenate([[0], 1 + rng.permutation(n - 2), [n - 1]])
        b = b[perm]
        tsum = a + b
        order = np.argsort(tsum, kind="stable")
        i, j = order[n // 2 - 1], order[n // 2]
        new_i, new_j = tot["median"] - a[i], tot["median"] - a[j]
        fixed = {0, n - 1, n // 2 - 1, n // 2}
        if {int(perm[i]), int(perm[j])} & fixed:
            continue
        if not all(p2s["min"] < x < p2s["max"] for x in (new_i, new_j)):
            continue
        if (new_i - p2s["median"]) * (b[i] - p2s["median"]) <= 0 or (new_j - p2s["median"]) * (
            b[j] - p2s["median"]
        ) <= 0:
            continue
        b2 = b.copy()
        b2[i], b2[j] = round(new_i, 2), round(new_j, 2)
        s2 = np.sort(a + b2)
        if abs(s2[n // 2 - 1] - tot["median"]) < 1e-9 and abs(s2[n // 2] - tot["median"]) < 1e-9:
            return a, b2
    raise RuntimeError("could not build PFS-1/PFS-2")


def _pazopanib(rng: Rng, s: dict, prefix: str) -> tuple[list[dict], list[dict], list[dict]]:
    n = s["n_patients"]
    rows = empty_rows(n)
    pid = ids(prefix, n)
    age = spread(rng, n, s["age"]["median"], s["age"]["min"], s["age"]["max"])
    sex = labels(rng, s["sex"], n)
    ecog = labels(rng, s["ecog"], n)
    hist = labels(rng, s["histology"], n)
    neph = labels(rng, {True: s["nephrectomy"], False: n - s["nephrectomy"]}, n)
    tech = labels(rng, {PAZ_TECHNIQUE[k]: v for k, v in s["technique"].items()}, n)
    oligo = labels(rng, {k.replace("_", " "): v for k, v in s["oligoprogression"].items()}, n)
    further = labels(rng, {k.replace("_", " "): v for k, v in s["further_progression"].items()}, n)
    sites = _paz_sites(rng, s, n)
    base = [[] for _ in range(n)]
    for site, c in s["baseline_sites_of_disease"].items():
        w = np.array([3.0 if site in sites[i] else 1.0 for i in range(n)])
        for i in rng.choice(n, size=c, replace=False, p=w / w.sum()):
            base[int(i)].append(site)
    for i in range(n):
        if not base[i]:
            base[i] = [sites[i][0]]  # every patient had measurable disease at baseline
    pfs1, pfs2 = _paz_times(rng, s, n)
    # poorer best response to pazopanib goes with a shorter PFS-1
    order = np.argsort(pfs1 + rng.uniform(0, 6, n))
    resp = np.empty(n, dtype=object)
    rk = [k for k, v in s["best_response_to_pazopanib"].items() for _ in range(v)][::-1]
    for k, i in enumerate(order):
        resp[i] = rk[k] if k < len(rk) else "SD"
    courses: list[dict] = []
    bag = {site: [(d, f) for d, f, c in lst for _ in range(c)] for site, lst in PAZ_COURSES.items()}
    for site in bag:
        bag[site] = [bag[site][j] for j in rng.permutation(len(bag[site]))]
    tox: list[dict] = []
    for item in s["toxicity"]:
        chosen = rng.choice(n, size=item["all"], replace=False)
        for k, i in enumerate(chosen):
            grade = 3 if k < item["g3_4"] else int(rng.choice([1, 2], p=[0.6, 0.4]))
            tox.append(tox_row(pid[int(i)], item["term"], grade, "acute", "v4.0"))
    for i, r in enumerate(rows):
        my = [(site, *bag[site].pop()) for site in sites[i]]
        courses += [{"patient_id": pid[i], "site": st, "total_dose_gy": d, "fractions": f} for st, d, f in my]
        main = max(my, key=lambda c: c[1] * (1 + c[1] / c[2] / 10))
        local = further[i] in ("irradiated sites", "both")
        r.update(
            patient_id=pid[i],
            age_years=float(age[i]),
            sex=sex[i],
            histology=hist[i],
            primary_site="kidney",
            treated_sites=sites[i],
            baseline_sites=base[i],
            n_lesions=len(sites[i]),
            oligo_state="oligoprogressive",
            oligoprogression_type=oligo[i],
            ecog=ecog[i],
            nephrectomy=neph[i],
            prior_chemo_lines=0,
            rt_technique=tech[i],
            rt_total_dose_gy=main[1],
            rt_fractions=main[2],
            regimen="pazopanib",
            drug_dose_mg=800.0,
            line_of_therapy=1,
            best_response=resp[i],
            further_progression=further[i],
            pfs1_months=float(pfs1[i]),
            pfs1_event=1,
            pfs2_months=float(pfs2[i]),
            pfs2_event=1,
            pfs_months=round(float(pfs1[i] + pfs2[i]), 2),
            pfs_event=1,
            lc_months=float(pfs2[i]),
            lc_event=int(local),
        )
    return rows, tox, courses


# --------------------------------------------------------------------------- Lee 2009 liver SBRT

SBRT_HISTOLOGY = {
    "colorectal": "colorectal adenocarcinoma",
    "breast": "breast carcinoma",
    "gallbladder": "gallbladder carcinoma",
    "lung": "lung carcinoma",
    "anal canal": "anal canal carcinoma",
    "melanoma": "melanoma",
    "other": "other carcinoma",
}
SBRT_GROUP = {"colorectal": "colorectal", "breast": "breast"}
#: Per primary group: (n, age sum for the published group mean, age min, age max, male, female,
#: single-tumour patients, max tumours). Group means 66.6 / 56.6 / 59.6 round to the published 67 / 57 / 60
#: and give the published overall mean of 63.
SBRT_GROUPS = {
    "colorectal": (40, 2664, 39, 90, 23, 17, 19, 8),
    "breast": (12, 679, 38, 76, 0, 12, 9, 7),
    "other": (16, 954, 30, 81, 9, 7, 7, 5),
}
SBRT_OS = [(6, 0.17), (12, 0.4), (17.6, 0.5), (24, 0.6), (36, 0.72), (60, 0.82)]
SBRT_PFS = [(2, 0.2), (3.9, 0.47), (6, 0.6), (12, 0.78), (24, 0.88)]
SBRT_LOCAL = [(3, 0.05), (6, 0.18), (12, 0.36), (24, 0.5), (48, 0.55)]


def _group_values(rng: Rng, spec: tuple, n: int) -> tuple[np.ndarray, list[str], list[int]]:
    _, age_sum, lo, hi, male, female, singles, top = spec
    age = fix_sum(spread(rng, n, round(age_sum / n), lo, hi), age_sum, rng, lo, hi)
    sex = labels(rng, {"male": male, "female": female}, n)
    rest = n - singles
    multi = [2, 2, top] + list(rng.integers(2, top + 1, size=max(rest - 3, 0)))
    ntum = labels(rng, {1: singles}) + multi[:rest]
    return age, sex, [int(ntum[j]) for j in rng.permutation(n)]


def _liver_sbrt(rng: Rng, s: dict, prefix: str) -> tuple[list[dict], list[dict], list[dict]]:
    n = s["n_patients"]
    rows = empty_rows(n)
    pid = ids(prefix, n)
    follow = rng.uniform(1.0, 40.0, n) ** 1.0
    death = curve_times(rng, n, SBRT_OS)
    death = death * follow_scale(death, follow, s["deaths"])
    os_t, os_e = censor(death, follow)
    groups = labels(rng, {"colorectal": 40, "breast": 12, "other": 16}, n)
    spec = {g: {"one_year": v} for g, v in s["os_one_year_by_primary"].items()}
    groups = swap_search(rng, groups, lambda g: group_loss(os_t, os_e, g, spec))
    prim = list(groups)
    others = labels(rng, {k: v for k, v in s["primary"].items() if k not in ("colorectal", "breast")})
    for i in range(n):
        if prim[i] == "other":
            prim[i] = others.pop()
    age, sex, ntum = np.zeros(n), [""] * n, [0] * n
    for g, gspec in SBRT_GROUPS.items():
        idx = [i for i in range(n) if groups[i] == g]
        a, sx, nt = _group_values(rng, gspec, len(idx))
        for k, i in enumerate(idx):
            age[i], sex[i], ntum[i] = a[k], sx[k], nt[k]
    prog = curve_times(rng, n, SBRT_PFS)
    pfs_t, pfs_first = competing(prog, death, follow)
    pfs_e = (pfs_first > 0).astype(int)
    local = curve_times(rng, n, SBRT_LOCAL)
    lc_t, lc_e = competing(local, death, follow)
    worse = lc_e == 1
    pfs_e = np.where(worse & (pfs_t > lc_t), 1, pfs_e)
    pfs_t = np.where(worse & (pfs_t > lc_t), lc_t, pfs_t)
    strata = labels(rng, s["veff_strata"], n)
    rt = s["rt"]
    dose = np.sort(spread(rng, n, rt["median_gy"], rt["min_gy"], rt["max_gy"], 1))[::-1]
    by_stratum = sorted(range(n), key=lambda i: ({"low": 0, "mid": 1, "high": 2}[strata[i]], rng.uniform()))
    dose_of = dict(zip(by_stratum, dose, strict=True))
    kps = labels(rng, {70: 3, 80: 6, 90: 31, 100: 23, None: 5}, n)  # 70 vs 80 split: assumption
    ext = labels(rng, {True: s["extrahepatic_disease"], False: n - s["extrahepatic_disease"]}, n)
    lines = labels(rng, {0: 9, 1: 15, 2: 29, 3: 10, 4: 5}, n)  # "3+" split 10/5: assumption
    gtv = spread(rng, n, s["gtv_ml"]["median"], s["gtv_ml"]["min"], s["gtv_ml"]["max"], 1, shape=3.0)
    order = sorted(range(n), key=lambda i: (lc_e[i] != 1, rng.uniform()))
    lr = s["local_response"]
    resp = ["PD"] * lr["PD"] + labels(
        rng, {k: v for k, v in lr.items() if k != "PD"} | {"NE": n - sum(lr.values())}
    )
    resp = [resp[order.index(i)] for i in range(n)]
    tox = _sbrt_tox(rng, s, pid, os_t, os_e)
    for i, r in enumerate(rows):
        r.update(
            patient_id=pid[i],
            age_years=float(age[i]),
            sex=sex[i],
            histology=SBRT_HISTOLOGY[prim[i]],
            primary_site=prim[i],
            primary_group=groups[i],
            treated_sites=["liver"],
            n_lesions=ntum[i],
            n_metastases=ntum[i],
            oligo_state="unknown",
            kps=kps[i],
            extrahepatic_disease=ext[i],
            prior_chemo_lines=lines[i],
            rt_technique="SBRT",
            rt_total_dose_gy=float(dose_of[i]),
            rt_fractions=rt["fractions"],
            veff_stratum=strata[i],
            gtv_ml=float(gtv[i]),
            regimen="none",
            best_response=resp[i],
            os_months=float(os_t[i]),
            os_event=int(os_e[i]),
            pfs_months=float(pfs_t[i]),
            pfs_event=int(pfs_e[i]),
            lc_months=float(lc_t[i]),
            lc_event=int(lc_e[i]),
        )
    return rows, tox, []


def _sbrt_tox(rng: Rng, s: dict, pid: list[str], os_t: np.ndarray, os_e: np.ndarray) -> list[dict]:
    n, v = len(pid), "v3.0"
    tox = []
    for item in s["toxicity_worst_grade"]:
        grades = labels(rng, {g: item[f"g{g}"] for g in (1, 2, 3, 4)})
        for g, i in zip(grades, rng.choice(n, size=len(grades), replace=False), strict=True):
            tox.append(
                tox_row(pid[int(i)], item["term"], int(g), "acute", v, round(float(rng.uniform(0.2, 3)), 1))
            )
    dead = [i for i in range(n) if os_e[i] == 1 and 4 <= os_t[i] <= 12]
    sbo5 = int(rng.choice(dead))
    tox += [
        tox_row(pid[sbo5], "Duodenal bleed", 4, "late", v, float(os_t[sbo5])),
        tox_row(pid[sbo5], "Small bowel obstruction", 5, "late", v, float(os_t[sbo5])),
    ]
    long = [i for i in range(n) if os_t[i] >= 23 and i != sbo5]
    mid = [i for i in range(n) if os_t[i] >= 6 and i != sbo5]
    rib23 = int(rng.choice(long))
    rib6, dysp, sbo4 = (int(x) for x in rng.choice([i for i in mid if i != rib23], size=3, replace=False))
    tox += [
        tox_row(pid[rib23], "Rib fracture", 2, "late", v, 23.0),
        tox_row(pid[rib6], "Rib fracture", 2, "late", v, 6.0),
        tox_row(pid[dysp], "Dyspepsia", 2, "late", v, 6.0),
        tox_row(pid[sbo4], "Small bowel obstruction", 4, "late", v, None),
    ]
    return tox


def follow_scale(latent: np.ndarray, follow: np.ndarray, deaths: int) -> float:
    """Factor on latent death times that leaves exactly ``deaths`` of them within follow-up."""
    ratio = np.sort(follow / latent)[::-1]  # a death is seen when scale <= follow / latent
    hi, lo = ratio[deaths - 1], ratio[deaths] if deaths < len(ratio) else 0.0
    return float((hi + lo) / 2) if np.isfinite(hi) else float(lo * 1.5)


# --------------------------------------------------------------------------- Pei 2019 liver IMRT

IMRT_HISTOLOGY = {
    "nasopharynx": "nasopharyngeal carcinoma",
    "colorectal": "colorectal adenocarcinoma",
    "lung": "lung carcinoma",
    "esophagus": "esophageal carcinoma",
    "kidney": "renal cell carcinoma",
    "liver": "hepatocellular carcinoma",
    "breast": "breast carcinoma",
    "endometrium": "endometrial carcinoma",
}
#: 25 IMRT schedules (total Gy, fractions, patients) giving the published medians and ranges of total
#: dose (50; 30-60), dose per fraction (3; 2-5.2), fractions (18; 7-30) and BED10 (67.2; 39-79.04).
IMRT_SCHEDULES = [
    (30, 10, 1),
    (35, 7, 1),
    (39, 13, 2),
    (40, 20, 1),
    (45, 18, 2),
    (46, 23, 1),
    (48, 12, 1),
    (50, 10, 1),
    (50, 16, 3),
    (51, 17, 1),
    (52, 10, 1),
    (52, 13, 1),
    (54, 18, 2),
    (56, 28, 2),
    (57, 19, 3),
    (60, 20, 1),
    (60, 30, 1),
]
#: Exact construction for 25 patients: follow-up of the 9 survivors (median 15.6, 2.1-26.7 months as
#: published), the 16 death times, and PFS event times; survivors without progression are listed in
#: IMRT_PFS_CENSORED. KM of these gives the published medians and landmarks.
IMRT_CENSOR = [2.1, 8.0, 12.5, 14.0, 15.6, 20.0, 24.2, 24.5, 26.7]
IMRT_DEATHS = [1.6, 2.6, 3.4, 4.1, 4.9, 5.6, 6.3, 7.0, 7.7, 8.4, 8.9, 9.2, 11.2, 13.3, 16.8, 23.0]
IMRT_PFS_EVENTS = [
    1.0,
    1.5,
    1.9,
    2.1,
    2.5,
    2.8,
    3.2,
    3.6,
    4.0,
    4.5,
    5.0,
    5.7,
    5.7,
    6.5,
    7.5,
    8.4,
    9.0,
    10.5,
    12.8,
    15.0,
    19.0,
]
IMRT_PFS_CENSORED = [14.0, 20.0, 24.5, 26.7]


def _imrt_times(rng: Rng, n: int) -> tuple[np.ndarray, ...]:
    """(os, os_event, pfs, pfs_event) with PFS <= OS by monotone pairing of the constructed times."""
    os_t = np.array(IMRT_CENSOR + IMRT_DEATHS, float)
    os_e = np.array([0] * len(IMRT_CENSOR) + [1] * len(IMRT_DEATHS))
    pfs_t, pfs_e = os_t.copy(), np.zeros(n, int)
    prog = [i for i in np.argsort(os_t, kind="stable") if not (os_e[i] == 0 and os_t[i] in IMRT_PFS_CENSORED)]
    for i, t in zip(prog, sorted(IMRT_PFS_EVENTS), strict=True):
        pfs_t[i], pfs_e[i] = t, 1
    perm = rng.permutation(n)
    return os_t[perm], os_e[perm], pfs_t[perm], pfs_e[perm]


def _liver_imrt(rng: Rng, s: dict, prefix: str) -> tuple[list[dict], list[dict], list[dict]]:
    n = s["n_patients"]
    rows = empty_rows(n)
    pid = ids(prefix, n)
    os_t, os_e, pfs_t, pfs_e = _imrt_times(rng, n)
    lc_t, lc_e = os_t.copy(), np.where(os_e == 1, 2, 0)
    for m in s["local_control"]["local_failure_months"]:
        cand = [i for i in range(n) if lc_e[i] != 1 and os_t[i] > m + 1 and pfs_t[i] <= m + 2]
        i = int(rng.choice(cand))
        lc_t[i], lc_e[i] = float(m), 1
        if pfs_t[i] > m:
            pfs_t[i], pfs_e[i] = float(m), 1
    sched = [(float(d), f) for d, f, c in IMRT_SCHEDULES for _ in range(c)]
    sched = [sched[j] for j in rng.permutation(n)]
    age = spread(rng, n, s["age"]["median"], s["age"]["min"], s["age"]["max"])
    sex = labels(rng, s["sex"], n)
    prim = labels(rng, s["primary"], n)
    nles = labels(rng, s["liver_lesions"], n)
    timing = labels(rng, s["timing"], n)
    lines = labels(rng, {0: 6, 1: 4, 2: 2, 3: 2, 4: 6, 5: 3, 6: 2}, n)  # split of "2-3" and "4+": assumption
    ext = labels(
        rng, {True: s["active_extrahepatic_disease"], False: n - s["active_extrahepatic_disease"]}, n
    )
    md = s["max_diameter_cm"]
    diam = spread(rng, n, md["median"], md["min"], md["max"], 1, shape=2.5)
    reg = labels(rng, s["concurrent_systemic"], n)
    order = sorted(range(n), key=lambda i: (lc_e[i] != 1, rng.uniform()))
    resp_bag = ["SD"] * s["response"]["SD"] + ["PR"] * s["response"]["PR"]
    resp = {i: resp_bag[k] for k, i in enumerate(order)}
    tox = []
    for item in s["toxicity_worst_grade"]:
        grades = labels(rng, {g: item[f"g{g}"] for g in (1, 2, 3, 4)})
        for g, i in zip(grades, rng.choice(n, size=len(grades), replace=False), strict=True):
            tox.append(
                tox_row(
                    pid[int(i)], item["term"], int(g), "acute", "v4.0", round(float(rng.uniform(0.2, 3)), 1)
                )
            )
    for i, r in enumerate(rows):
        r.update(
            patient_id=pid[i],
            age_years=float(age[i]),
            sex=sex[i],
            histology=IMRT_HISTOLOGY[prim[i]],
            primary_site=prim[i],
            treated_sites=["liver"],
            n_lesions=nles[i],
            n_metastases=nles[i],
            oligo_state="oligometastatic",
            timing=timing[i],
            extrahepatic_disease=ext[i],
            prior_chemo_lines=lines[i],
            max_diameter_cm=float(diam[i]),
            rt_technique="IMRT",
            rt_total_dose_gy=sched[i][0],
            rt_fractions=sched[i][1],
            regimen=reg[i],
            best_response=resp[i],
            os_months=float(os_t[i]),
            os_event=int(os_e[i]),
            pfs_months=float(pfs_t[i]),
            pfs_event=int(pfs_e[i]),
            lc_months=float(lc_t[i]),
            lc_event=int(lc_e[i]),
        )
    return rows, tox, []


# --------------------------------------------------------------------------- Lee 2021 mCRC

#: 91 MRT courses (total Gy, fractions, patients): the nine published common schedules with their
#: published shares, the published extremes, and other common schedules chosen so that the medians
#: of total dose (50), dose per fraction (7.5) and BED10 (76.2; 63 Gy/30 gives 76.23) come out.
MRT_SCHEDULES = [
    (45, 3, 9),
    (50, 25, 7),
    (60, 25, 6),
    (20, 1, 4),
    (25, 1, 2),
    (30, 1, 5),
    (60, 4, 4),
    (48, 4, 4),
    (40, 4, 3),
    (32, 16, 1),
    (75, 5, 1),
    (76, 38, 1),
    (50.4, 28, 1),
    (63, 30, 1),
    (30, 4, 1),
    (30, 5, 1),
    (30, 10, 3),
    (35, 5, 2),
    (36, 12, 1),
    (37.5, 5, 1),
    (39, 3, 2),
    (40, 10, 2),
    (40, 20, 2),
    (45, 6, 1),
    (45, 15, 1),
    (50, 5, 2),
    (50, 10, 2),
    (50, 20, 2),
    (52.5, 7, 2),
    (54, 3, 2),
    (54, 27, 3),
    (55, 5, 2),
    (60, 5, 1),
    (60, 8, 2),
    (60, 10, 1),
    (60, 30, 5),
    (66, 30, 1),
]
MRT_TTNT = {
    "FOLFOX": [(3, 0.12), (7.2, 0.5), (12, 0.733), (24, 0.889), (48, 0.95)],
    "FOLFIRI": [(4, 0.1), (9.5, 0.5), (12, 0.759), (24, 0.908), (48, 0.96)],
    "capecitabine": [(6, 0.15), (12, 0.374), (13.5, 0.53), (24, 0.55), (60, 0.62)],
}
MRT_DEATH = [(12, 0.013), (24, 0.049), (48, 0.15), (90, 0.3)]
MRT_LOCAL = [(6, 0.12), (12, 0.3), (24, 0.49), (48, 0.62)]
REG_TTNT = {
    "FOLFOX": [(2, 0.15), (5, 0.5), (12, 0.916), (24, 0.975), (60, 0.995)],
    "FOLFIRI": [(2, 0.15), (5, 0.5), (12, 0.884), (24, 0.967), (60, 0.99)],
    "capecitabine": [(1, 0.2), (2, 0.5), (12, 0.942), (24, 0.987), (60, 0.998)],
}
REG_DEATH = [(6, 0.09), (12, 0.196), (24, 0.359), (60, 0.7), (128, 0.9)]
MRT_SITES = {
    "lung": ["lung"],
    "liver": ["liver"],
    "lymph node": ["lymph node"],
    "soft tissue": ["soft tissue"],
    "lung+lymph node": ["lung", "lymph node"],
    "liver+lymph node": ["liver", "lymph node"],
    "soft tissue+lymph node": ["soft tissue", "lymph node"],
}


def _lines(rng: Rng, spec: dict, n: int) -> list[int]:
    """Line of therapy; "4+" is 4 (three in four) or 5: assumption."""
    out = labels(rng, spec, n)
    return [int(x) if str(x) != "4+" else int(rng.choice([4, 4, 4, 5])) for x in out]


def _ttnt_by_regimen(rng: Rng, regimen: list[str], curves: dict) -> np.ndarray:
    t = np.zeros(len(regimen))
    for reg, knots in curves.items():
        idx = np.array([i for i, r in enumerate(regimen) if r == reg])
        t[idx] = curve_times(rng, len(idx), knots)
    return t


def _mrt(rng: Rng, s: dict, prefix: str) -> tuple[list[dict], list[dict], list[dict]]:
    n = s["n_patients"]
    rows = empty_rows(n)
    pid = ids(prefix, n)
    regimen = labels(rng, s["regimen"], n)
    follow = spread(rng, n, s["follow_up_median_months"], 5.8, 90.5, 1, shape=1.8)
    death = curve_times(rng, n, MRT_DEATH)
    deaths = n - s["os"]["alive_at_last_follow_up"]
    death = death * follow_scale(death, follow, deaths)
    os_t, os_e = censor(death, follow)
    ttnt = _ttnt_by_regimen(rng, regimen, MRT_TTNT)
    tt_t, tt_e = competing(ttnt, death, follow)
    ev = (tt_e == 1).astype(int)
    regimen = swap_search(rng, regimen, lambda g: group_loss(tt_t, ev, g, s["ttnt"]["by_regimen"], cif=True))
    spec = {k: v for k, v in s["ttnt"]["by_oligo_state"].items() if isinstance(v, dict)}
    oligo = swap_search(
        rng,
        labels(rng, s["oligo_state"], n),
        lambda g: group_loss(tt_t, (tt_e == 1).astype(int), g, spec, cif=True),
    )
    c2rt = _chemo_to_rt(rng, s, tt_t)
    local = curve_times(rng, n, MRT_LOCAL)
    lc_t, lc_e = competing(local, np.maximum(death - c2rt, 0.1), np.maximum(follow - c2rt, 0.1))
    sched = [(float(d), f) for d, f, c in MRT_SCHEDULES for _ in range(c)]
    sched = [sched[j] for j in rng.permutation(n)]
    dpf = np.array([d / f for d, f in sched])
    sbrt = set(np.argsort(-dpf, kind="stable")[: s["technique"]["SBRT/SRS"]].tolist())
    nmet = np.sort(labels(rng, {k: v for k, v in s["metastatic_lesions"].items()}, n), kind="stable")
    nmet = [
        int(x) if str(x) != "6+" else int(rng.integers(6, 11))
        for x in [k for k, v in s["metastatic_lesions"].items() for _ in range(v)]
    ]
    ntreat = [int(k) for k, v in s["lesions_treated"].items() for _ in range(v)]
    pair = rng.permutation(n)  # monotone pairing keeps treated lesions <= metastatic lesions
    nmet_of, ntreat_of = {}, {}
    for k, i in enumerate(pair):
        nmet_of[int(i)], ntreat_of[int(i)] = nmet[k], ntreat[k]
    combos = labels(rng, s["treated_site"], n)
    organs = sorted(int(x) for x in labels(rng, s["involved_organs"], n))
    by_sites = sorted(range(n), key=lambda i: (len(MRT_SITES[combos[i]]), rng.uniform()))
    organs_of = dict(zip(by_sites, organs, strict=True))
    age = spread(rng, n, s["age"]["median"], s["age"]["min"], s["age"]["max"])
    sex = labels(rng, s["sex"], n)
    primary = labels(rng, s["primary"], n)
    ttype = labels(rng, s["tumor_type"], n)
    lines = _lines(rng, s["line"], n)
    for i, r in enumerate(rows):
        r.update(
            patient_id=pid[i],
            age_years=float(age[i]),
            sex=sex[i],
            histology="colorectal adenocarcinoma",
            primary_site=primary[i],
            tumor_type=ttype[i],
            treated_sites=MRT_SITES[combos[i]],
            n_metastases=nmet_of[i],
            n_lesions=ntreat_of[i],
            n_involved_organs=max(organs_of[i], 1),
            oligo_state=oligo[i],
            rt_technique="SBRT" if i in sbrt else "IMRT",
            rt_total_dose_gy=sched[i][0],
            rt_fractions=sched[i][1],
            regimen=regimen[i],
            line_of_therapy=lines[i],
            months_chemo_to_rt=float(c2rt[i]),
            os_months=float(os_t[i]),
            os_event=int(os_e[i]),
            ttnt_months=float(tt_t[i]),
            ttnt_event=int(tt_e[i]),
            lc_months=float(lc_t[i]),
            lc_event=int(lc_e[i]),
        )
    return rows, [], []


def _chemo_to_rt(rng: Rng, s: dict, tt_t: np.ndarray) -> np.ndarray:
    """Months from chemotherapy start to MRT, each before that patient's TTNT time."""
    spec = s["months_from_chemo_start_to_mrt"]
    vals = np.sort(spread(rng, len(tt_t), spec["median"], spec["min"], spec["max"], 1, shape=2.5))[::-1]
    out = np.full(len(tt_t), np.nan)
    for v in vals:
        free = [i for i in range(len(tt_t)) if np.isnan(out[i])]
        ok = [i for i in free if tt_t[i] > v + 0.3]
        i = int(rng.choice(ok)) if ok else max(free, key=lambda k: tt_t[k])
        out[i] = v
    return out


def _registry(rng: Rng, s: dict, prefix: str) -> tuple[list[dict], list[dict], list[dict]]:
    n = s["n_patients"]
    rows = empty_rows(n)
    pid = ids(prefix, n)
    regimen = labels(rng, s["regimen"], n)
    follow = spread(rng, n, 24.0, 0.1, 127.3, 1, shape=1.6)
    death = curve_times(rng, n, REG_DEATH)
    os_t, os_e = censor(death, follow)
    ttnt = _ttnt_by_regimen(rng, regimen, REG_TTNT)
    tt_t, tt_e = competing(ttnt, death, follow)
    missing = set(rng.choice(n, size=n - s["os"]["with_survival_data"], replace=False).tolist())
    age = spread(rng, n, s["age"]["median"], s["age"]["min"], s["age"]["max"], shape=1.3)
    sex = labels(rng, s["sex"], n)
    primary = labels(rng, s["primary"], n)
    ttype = labels(rng, s["tumor_type"], n)
    lines = _lines(rng, s["line"], n)
    for i, r in enumerate(rows):
        r.update(
            patient_id=pid[i],
            age_years=float(age[i]),
            sex=sex[i],
            histology="colorectal adenocarcinoma",
            primary_site=primary[i],
            tumor_type=ttype[i],
            treated_sites=[],
            oligo_state="unknown",
            regimen=regimen[i],
            line_of_therapy=lines[i],
            ttnt_months=float(tt_t[i]),
            ttnt_event=int(tt_e[i]),
            os_months=None if i in missing else float(os_t[i]),
            os_event=None if i in missing else int(os_e[i]),
        )
    return rows, [], []


# --------------------------------------------------------------------------- driver

BUILDERS = {
    "kao_sunitinib_igrt": ("KAO", _kao),
    "pazopanib_srt_mrcc": ("PAZ", _pazopanib),
    "lee_liver_sbrt_phase1": ("LSB", _liver_sbrt),
    "pei_liver_imrt": ("PEI", _liver_imrt),
    "lee_mrt_mcrc.mrt_group": ("MRT", _mrt),
    "lee_mrt_mcrc.systemic_only_group": ("REG", _registry),
}


def reports_toxicity(block: dict) -> bool:
    """Whether the study's paper reports toxicity for its patients (a target naming toxicity):
    its patients were assessed for toxicity, with or without a recorded event."""
    return any("toxicity" in name for name in block)


def _frames(rows: list[dict], tox: list[dict], courses: list[dict]) -> tuple[pl.DataFrame, ...]:
    return (
        pl.DataFrame(rows, schema=PATIENT_SCHEMA, orient="row"),
        pl.DataFrame(tox, schema=TOX_SCHEMA, orient="row"),
        pl.DataFrame(courses, schema=COURSE_SCHEMA, orient="row"),
    )


def build_study(index: int, key: str, block: dict, verbose: bool = False) -> tuple[pl.DataFrame, ...]:
    """One group's (patients, toxicities, courses): the first seed whose rows pass every figure."""
    prefix, builder = BUILDERS[key]
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng([SEED, index, attempt])
        rows, tox, courses = builder(rng, block, prefix)
        for r in rows:
            r["study"] = STUDY_NAMES[key]
            r["toxicity_assessed"] = reports_toxicity(block)
        p, t, c = _frames(rows, tox, courses)
        res = study_rows(key, block, p, t, c)
        bad = [r for r in res if r["ok"] is False]
        if not bad:
            if verbose:
                print(f"{key}: {len(res)} figures ok (attempt {attempt})")
            return p, t, c
        if verbose and attempt % 25 == 0:
            print(key, attempt, [(b["figure"], round(b["cohort"] or -1, 3), b["published"]) for b in bad][:6])
    raise RuntimeError(f"{key}: no seed passes the calibration in {MAX_ATTEMPTS} attempts")


def build(targets: dict | None = None, verbose: bool = False) -> dict[str, pl.DataFrame]:
    """The cohort as {"patients", "toxicities", "courses"} frames (deterministic)."""
    targets = targets or load_targets(TARGETS)
    parts = [build_study(i, key, block, verbose) for i, (key, block) in enumerate(study_blocks(targets))]
    frames = [pl.concat([p[k] for p in parts], how="vertical") for k in range(3)]
    return dict(zip(("patients", "toxicities", "courses"), frames, strict=True))


def write(out_dir: Path = DATA_DIR, verbose: bool = False) -> dict[str, Path]:
    """Build and write the three Parquet files into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = build(verbose=verbose)
    paths = {}
    for name, df in frames.items():
        path = out_dir / FILES[name]
        df.write_parquet(path, compression="zstd", statistics=False, use_pyarrow=False)
        paths[name] = path
    return paths


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR
    for name, path in write(out, verbose=True).items():
        print(f"wrote {path} ({name})")
