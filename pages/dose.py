"""Dose: dose / BED / EQD2 distributions, local control by BED10, phase 1 dose levels and DLTs.

Every view option is in the URL: ``dose.ab`` (α/β for EQD2), ``dose.by``, ``dose.plot`` and
``dose.cut`` (the BED10 cut).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from cohort.cox import format_hr_ci, format_p_value
from cohort.dose import (
    DEFAULT_ALPHA_BETA_GY,
    DLT_COLUMNS,
    add_dose_columns,
    dlt_table,
    fit_bed_cox,
    local_failure_by_bed_band,
    patients_assessed,
    suppressed_dlt_table,
)
from cohort.figures.dose import (
    BOX_METHOD,
    DOSE_QUANTITIES,
    dlt_grid_figure,
    dose_distribution_figure,
    patients_with_value,
)
from cohort.figures.km import cif_figure
from cohort.schema import column_label
from cohort.suppression import is_small, km_caption_words, patient_count
from ui.charts import show_figure
from ui.describe import cohort_words, figure_caption, within_engine_limits
from ui.hardening import run_through_entry_script
from ui.session import View, current_view
from ui.tables import show_table
from ui.text import literal_markdown
from ui.urlstate import url_number, url_selectbox

run_through_entry_script()

RT_COLUMNS = ("rt_total_dose_gy", "rt_fractions")
GROUPINGS = ("treated_sites", "rt_technique")
LC = ("lc_months", "lc_event")
PLOT_KINDS = {"box": "Box + points", "strip": "Points only"}
DEFAULT_BED_CUT_GY = 100.0
HALF_WIDTH_CAPTION = 60  # characters per caption line of a figure in half the page's width


def has_values(patients: pl.DataFrame, columns: tuple[str, ...]) -> bool:
    """All ``columns`` present, each with at least one value."""
    return all(c in patients.columns and patients[c].drop_nulls().len() > 0 for c in columns)


def distribution_caption(view: View, data: pl.DataFrame, column: str, by: str, kind: str,
                         alpha_beta: float) -> str:
    """Cohort, filters, n with a value, and the method of one dose distribution figure."""
    per = (f" per {column_label(by).lower()}" if isinstance(data.schema[by], pl.List) else "")
    point = f"a marker per distinct value{per}, its area proportional to the patients with it"
    method = (f"Box: {BOX_METHOD}; {point}" if kind == "box" else point[:1].upper() + point[1:])
    if column == "bed10_gy":
        method += "; linear-quadratic BED, α/β = 10 Gy"
    elif column == "eqd2_gy":
        method += f"; linear-quadratic EQD2, α/β = {alpha_beta:g} Gy"
    return f"{cohort_words(view, patients_with_value(data, column))}. {method}."


def dose_rows(view: View, needed: tuple[str, ...], optional: tuple[str, ...] = ()
              ) -> pl.DataFrame:
    """The kept patients with the ``needed`` columns and those of the ``optional`` ones the
    dataset has (an engine dataset's rows fetched within its row limit); no rows, and no
    query, when the dataset lacks a needed column."""
    present = view.choices.columns
    if not all(c in present for c in needed):
        return pl.DataFrame()
    return view.rows([*needed, *(c for c in optional if c in present)])


def distributions(view: View, key: str) -> None:
    patients = dose_rows(view, RT_COLUMNS, (*GROUPINGS, "dose_per_fraction_gy", "bed10_gy",
                                            "eqd2_gy"))
    st.subheader("Dose distributions")
    if not has_values(patients, RT_COLUMNS):
        st.info("This dataset has no radiotherapy dose columns (total dose and fractions), so "
                "there are no dose distributions to show.")
        return
    groupings = [c for c in GROUPINGS if c in patients.columns] or None
    cols = st.columns(3)
    with cols[0]:
        alpha_beta = url_number(
            "α/β for EQD2 (Gy)", min_value=0.5, max_value=50.0, value=DEFAULT_ALPHA_BETA_GY,
            step=0.5, key=f"{key}.alpha_beta", param="dose.ab",
            help="10 Gy for tumour effect; 2-3 Gy for late-responding normal tissue. BED10 "
                 "always uses 10 Gy.")
    if groupings is None:
        st.info("No treated-site or technique column to group the doses by.")
        return
    with cols[1]:
        by = url_selectbox("By", groupings, format_func=column_label, key=f"{key}.by",
                           param="dose.by")
    with cols[2]:
        kind = url_selectbox("Plot", list(PLOT_KINDS), format_func=PLOT_KINDS.get,
                             key=f"{key}.kind", param="dose.plot")
    data = add_dose_columns(patients, alpha_beta)
    st.caption("Linear-quadratic model: BED = n·d·(1 + d/(α/β)), EQD2 = BED / (1 + 2/(α/β)); "
               f"EQD2 with α/β = {alpha_beta:g} Gy. Boxes: {BOX_METHOD}.")
    shown = [c for c in DOSE_QUANTITIES if c in data.columns]
    for start in range(0, len(shown), 2):
        for slot, column in zip(st.columns(2), shown[start:start + 2], strict=False):
            with slot:
                fig = dose_distribution_figure(
                    data, column, by, kind, alpha_beta,
                    caption=distribution_caption(view, data, column, by, kind, alpha_beta),
                    caption_width=HALF_WIDTH_CAPTION, min_cell=view.min_cell)
                show_figure(fig, f"{column_label(column)} by {column_label(by).lower()}"
                            + (f", α/β = {alpha_beta:g} Gy" if column == "eqd2_gy" else ""),
                            key=f"dose.{column}", n=patients_with_value(data, column))


def local_control(view: View, key: str) -> None:
    patients = dose_rows(view, (*LC, "bed10_gy"))
    st.subheader("Local control by BED10")
    if not has_values(patients, (*LC, "bed10_gy")):
        st.info("Local control by dose needs local-control follow-up (lc_months, lc_event) and "
                "BED10 (from total dose and fractions); this dataset lacks them.")
        return
    cut = url_number("BED10 cut (Gy)", min_value=1.0, max_value=500.0,
                     value=DEFAULT_BED_CUT_GY, step=5.0, key=f"{key}.cut", param="dose.cut")
    result = local_failure_by_bed_band(patients, cut, min_cell=view.min_cell)
    if result.hidden_bands:
        st.info(f"Not drawn: {', '.join(result.hidden_bands)} (fewer than {view.min_cell} "
                "patients; small-cell suppression). Gray's test includes them.",
                icon=":material/visibility_off:")
    if result.cif.is_empty():
        if not result.hidden_bands:
            st.info("No patient with BED10 and local-control follow-up in the filtered cohort.")
        return
    caption = (f"{cohort_words(view, result.figure_n)}. Endpoint: local failure by BED10 band "
               f"(cut at {cut:g} Gy); death before local failure is a competing event")
    if result.gray is None:
        caption += f"; all patients are in one band ({result.cif['group'][0]})"
    if view.min_cell:
        words = km_caption_words(view.min_cell)
        caption += f". {words[0].upper()}{words[1:]}"
    show_figure(cif_figure(result.cif, gray=result.gray, caption=caption,
                           title="Local failure by BED10", event_label="Local failure",
                           min_cell=view.min_cell),
                f"Cumulative incidence of local failure by BED10 (cut at {cut:g} Gy)",
                key="dose.cif", n=result.figure_n)
    st.caption(used_words_lc(result.n_used, result.n_left_out, view.min_cell))
    bed_cox(patients, view.min_cell)


def used_words_lc(n_used: int, n_left_out: int, min_cell: int | None) -> str:
    """'116 patients with BED10 and local-control follow-up; 4 left out (...)'; under
    ``min_cell`` a small number left out reads '<11' and the patients used are not counted
    (with the cohort's n beside it, their number would give the small one away)."""
    why = "(no BED10 or no local-control follow-up)"
    if is_small(n_left_out, min_cell):
        return f"{patient_count(n_left_out, min_cell)} patients of the cohort left out {why}."
    used = f"{patient_count(n_used, min_cell)} patients with BED10 and local-control follow-up"
    return used + (f"; {patient_count(n_left_out, min_cell)} left out {why}." if n_left_out
                   else ".")


def bed_cox(patients: pl.DataFrame, min_cell: int | None = None) -> None:
    st.markdown("#### Cox model of local failure on BED10 (continuous)")
    result = fit_bed_cox(patients)
    for message in [*(f"Left out of the model: {d.text()}." for d in result.dropped),
                    *result.messages]:
        st.warning(literal_markdown(message))
    if result.terms.is_empty():
        return
    term = result.terms.row(0, named=True)
    cols = st.columns(3)
    cols[0].metric("HR per 10 Gy BED10 (95% CI)",
                   format_hr_ci(term["hr"], term["lower"], term["upper"]))
    cols[1].metric("p (Wald)", format_p_value(term["p"]) or "–")
    cols[2].metric("Patients / local failures", f"{patient_count(result.n, min_cell)} / "
                   f"{patient_count(result.events, min_cell)}")
    st.caption("Cox proportional hazards, Efron ties. BED10 scaled per 10 Gy (covariate = "
               "BED10 / 10), so the HR compares patients 10 Gy BED10 apart. Deaths before local "
               "failure (code 2) are censored: a cause-specific hazard ratio.")


def phase_one(view: View) -> None:
    patients = dose_rows(view, DLT_COLUMNS, ("drug_dose_mg", "rt_total_dose_gy"))
    st.subheader("Phase 1 dose escalation")
    if not set(DLT_COLUMNS) <= set(patients.columns):
        st.caption("No dose-level / DLT columns in this dataset.")
        return
    table = suppressed_dlt_table(dlt_table(patients), view.min_cell)
    if table.is_empty():
        st.info("No patient with a dose level and a DLT assessment in the filtered cohort.")
        return
    st.caption("Patients with a dose-limiting toxicity (DLT) per dose level, among patients "
               "with a dose level and a DLT assessment; exact (Clopper-Pearson) binomial 95% "
               "CI. Grey cells: combination not given.")
    if not view.min_cell:  # one square per patient: every count would show
        assessed = patients_assessed(table)
        caption = figure_caption(
            view, "dose-limiting toxicity (DLT)", "Patients with a DLT per dose level, of "
            "patients with a dose level and a DLT assessment; exact (Clopper-Pearson) 95% CI",
            assessed)
        show_figure(dlt_grid_figure(table, caption=caption),
                    "Dose-limiting toxicities by dose level", key="dose.dlt", n=assessed)
    else:
        st.caption(f"Dose levels of fewer than {view.min_cell} patients are left out and the "
                   "grid of patients is not drawn (small-cell suppression).")
    pct = st.column_config.NumberColumn
    show_table(table.with_columns(pl.col("rate", "lower", "upper") * 100),
               "Dose-limiting toxicities by dose level (exact 95% CI)", download=table,
               key="dose.dlt", column_config={
                   "dose_level": "Dose level", "drug_dose_mg": "Drug dose (mg)",
                   "rt_total_dose_gy": "RT dose (Gy)", "n": "Patients", "dlt": "DLTs",
                   "rate": pct("DLT rate (%)", format="%.1f"),
                   "lower": pct("95% CI lower (%)", format="%.1f"),
                   "upper": pct("95% CI upper (%)", format="%.1f")})


def main() -> None:
    """The screen. Returns early (rather than ``st.stop()``) so the entry script still writes
    the URL and shows link notices."""
    view = current_view()
    st.title("Dose")
    st.caption(literal_markdown(f"{view.label}. Filters: {view.filter.describe()}"))
    if view.n_patients == 0:
        st.warning("No patient matches the filters. Widen them in the sidebar.")
        return
    key = f"dose.{view.dataset}"
    for section in (lambda: distributions(view, key), lambda: local_control(view, key),
                    lambda: phase_one(view)):
        with within_engine_limits():
            section()


main()
