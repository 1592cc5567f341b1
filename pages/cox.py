"""Cox model: endpoint, covariates, reference levels, strata -> HR table, forest plot, tests.

Every view option is in the URL: ``cox.endpoint`` (``cox.time``, ``cox.event`` for "Other"),
``cox.covariates``, ``cox.ref.<covariate>``, ``cox.per.<covariate>`` (a numeric covariate's HR
per that many units) and ``cox.strata``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import polars as pl
import streamlit as st

from cohort.cox import (
    CoxResult,
    covariate_levels,
    covariate_options,
    dropped_table,
    fit_cox,
    format_p_value,
    hr_table_text,
    is_categorical,
    largest_level,
    per_text,
    suppressed_terms,
    univariable_multivariable_table,
    univariable_screen,
)
from cohort.elementwise import each_value
from cohort.figures.forest import forest_figure
from cohort.schema import POST_TREATMENT_COLUMNS, Endpoint, column_label
from cohort.suppression import in_total_words, patient_count, used_words
from ui import collect
from ui.cache import session_cache
from ui.charts import show_figure
from ui.describe import figure_caption, within_engine_limits
from ui.hardening import run_through_entry_script
from ui.session import View, current_view
from ui.tables import show_table
from ui.text import literal_markdown
from ui.urlstate import url_multiselect, url_selectbox

run_through_entry_script()

T = TypeVar("T")

OTHER = "Other"
#: Units a numeric covariate's hazard ratio can be per (1: per unit of the column).
PER_CHOICES = (1, 2, 5, 10, 20, 50, 100)
METHOD = ("Cox proportional hazards, Efron ties; Wald 95% CI and p per term; "
          "PH test: cox.zph, KM-transformed time")


def _event_columns(patients: pl.DataFrame) -> list[str]:
    """Integer or boolean columns whose values are all 0/1/2 (event codes)."""
    out = []
    for name, dtype in patients.schema.items():
        if dtype == pl.Boolean or dtype.is_integer():
            values = set(patients[name].drop_nulls().cast(pl.Int64).unique().to_list())
            if values and values <= {0, 1, 2} and 1 in values:
                out.append(name)
    return out


def _time_columns(patients: pl.DataFrame, events: list[str]) -> list[str]:
    return [c for c, t in patients.schema.items()
            if t.is_numeric() and t != pl.Boolean and c not in events]


def choose_endpoint(patients: pl.DataFrame, endpoints: list[Endpoint], key: str
                    ) -> tuple[str, str, str, Endpoint | None] | None:
    """Endpoint selectbox (+ time/event columns for "Other"): (label, time, event, endpoint)."""
    events = _event_columns(patients)
    times = _time_columns(patients, events)
    options = [e.key for e in endpoints] + ([OTHER] if events and times else [])
    if not options:
        return None
    labels = {e.key: f"{e.label} ({e.key})" for e in endpoints} | {
        OTHER: "Other: choose a time and an event column"}
    choice = url_selectbox("Endpoint", options, format_func=labels.get, key=f"{key}.endpoint",
                           param="cox.endpoint")
    if choice != OTHER:
        e = next(e for e in endpoints if e.key == choice)
        return e.label, e.time, e.event, e
    left, right = st.columns(2)
    with left:
        time = url_selectbox("Time column", times, format_func=column_label, key=f"{key}.time",
                             param="cox.time")
    with right:
        event = url_selectbox("Event column (1 = event, 0 = censored, 2 = competing)", events,
                              format_func=column_label, key=f"{key}.event", param="cox.event")
    return f"{column_label(event)} (time: {column_label(time)})", time, event, None


@session_cache(max_entries=16, spinner="Fitting the Cox models…")
def fit_models(rows: pl.DataFrame, time: str, event: str, covariates: tuple[str, ...],
               reference: dict[str, str], strata: tuple[str, ...], per: dict[str, float]
               ) -> tuple[CoxResult, pl.DataFrame]:
    """The multivariable model and each covariate alone, kept for this session (100,000 patients
    take seconds to fit; reruns for other widgets should not refit)."""
    result = fit_cox(rows, time, event, list(covariates), reference=reference,
                     strata=list(strata), per=per)
    return result, univariable_screen(rows, time, event, list(covariates), reference=reference,
                                      per=per)


def post_treatment_note(patients: pl.DataFrame) -> str:
    """Why outcomes observed after treatment are not offered as covariates ('' if none present)."""
    present = [column_label(c) for c in POST_TREATMENT_COLUMNS if c in patients.columns]
    if not present:
        return ""
    return (f" Not offered as covariates, because they are observed after treatment starts and "
            f"would bias hazard ratios (immortal time): {', '.join(present)}.")


def reference_widgets(patients: pl.DataFrame, covariates: list[str], key: str) -> dict[str, str]:
    """A reference-level selectbox per categorical covariate, offering the levels present in
    ``patients`` (the rows the model can use) in the model's order; default: the largest group
    (:func:`cohort.cox.largest_level`); in the URL as ``cox.ref.<covariate>`` when it is not
    the default."""
    categorical = [c for c in covariates if is_categorical(patients.schema[c])]

    def reference(cov: str) -> str:
        levels = covariate_levels(patients[cov])
        default = levels.index(largest_level(patients[cov])) if levels else 0
        return url_selectbox(column_label(cov), levels, index=default, key=f"{key}.ref.{cov}",
                             param=f"cox.ref.{cov}")

    return widget_grid(categorical, "**Reference levels** (hazard ratios are versus this "
                       "level; default: the largest group)", reference)


def per_widgets(patients: pl.DataFrame, covariates: list[str], key: str) -> dict[str, float]:
    """Per numeric covariate, the units its hazard ratio is per (default 1: per unit of the
    column; 10 for age: per 10 years, as R's ``coxph(~ I(age / 10))``); in the URL as
    ``cox.per.<covariate>`` when not 1."""
    numeric = [c for c in covariates if not is_categorical(patients.schema[c])]

    def per(cov: str) -> float:
        return url_selectbox(column_label(cov), PER_CHOICES, index=0,
                             format_func=lambda k: per_text(cov, k), key=f"{key}.per.{cov}",
                             param=f"cox.per.{cov}")

    chosen = widget_grid(numeric, "**Hazard ratio per** (numeric covariates: the HR compares "
                         "patients this far apart)", per)
    return {c: k for c, k in chosen.items() if k != 1}


def widget_grid(covariates: list[str], heading: str, widget: Callable[[str], T]) -> dict[str, T]:
    """Under ``heading``, one ``widget`` per covariate, four to a row: covariate -> its value
    ({} and nothing drawn without covariates)."""
    if not covariates:
        return {}
    st.markdown(heading)
    slots = st.columns(min(len(covariates), 4))
    values = {}
    for i, cov in enumerate(covariates):
        with slots[i % len(slots)]:
            values[cov] = widget(cov)
    return values


def competing(event: str, endpoint: Endpoint | None, patients: pl.DataFrame) -> bool:
    """Whether the endpoint has competing events (code 2, censored by the Cox model)."""
    has_competing = bool((patients[event].cast(pl.Int64) == 2).any())
    return has_competing or (endpoint is not None and bool(endpoint.competing_label))


def event_note(event: str, endpoint: Endpoint | None, patients: pl.DataFrame) -> str:
    """Event coding in words; competing events censored where code 2 exists."""
    text = f"Event: '{event}' = 1; 0 = censored."
    if competing(event, endpoint, patients):
        what = endpoint.competing_label if endpoint and endpoint.competing_label \
            else "competing event"
        text += (f" Competing events (code 2: {what}) are censored: the hazard ratios are "
                 "cause-specific hazard ratios.")
    return text


def show_counts(result: CoxResult, total: int) -> None:
    cols = st.columns(4)
    min_cell = current_view().min_cell
    cols[0].metric("Patients used", patient_count(result.n, min_cell),
                   help=in_total_words(result.n, total, min_cell, "in the filtered cohort"))
    cols[1].metric("Events", patient_count(result.events, min_cell))
    cols[2].metric("Rows left out", patient_count(total - result.n, min_cell))
    if result.concordance is not None:
        cols[3].metric("Concordance (C)", f"{result.concordance:.3f}",
                       help=f"Harrell's C, SE {result.concordance_se:.3f}")


def tests_table(result: CoxResult, numeric: bool = False) -> pl.DataFrame:
    """Likelihood-ratio, Wald and score tests; p as text, or as a number with ``numeric``."""
    rows = [(name, t.chisq, t.df, t.p if numeric else format_p_value(t.p)) for name, t in
            (("Likelihood ratio", result.lr_test), ("Wald", result.wald_test),
             ("Score", result.score_test)) if t is not None]
    return pl.DataFrame(rows, schema=["test", "chisq", "df", "p"], orient="row")


def show_ph_test(result: CoxResult, label: str) -> None:
    st.subheader("Proportional-hazards test")
    st.caption("cox.zph score test (survival ≥ 3.0), Kaplan-Meier-transformed time; one test "
               "per covariate (all its levels together) and a global test.")
    ph = result.ph_test.with_columns(
        each_value(result.ph_test, "covariate",
                   lambda c: c if c == "GLOBAL" else column_label(c)),
        each_value(result.ph_test, "p", format_p_value))
    show_table(ph, f"Proportional-hazards test (cox.zph): {label}", download=result.ph_test,
               key="cox.ph", column_config={
                   "covariate": "Covariate",
                   "chisq": st.column_config.NumberColumn("Chi-square", format="%.2f")})
    violated = result.ph_test.filter((pl.col("p") < 0.05) & (pl.col("covariate") != "GLOBAL"))
    names = [f"**{literal_markdown(column_label(c))}**" for c in violated["covariate"].to_list()]
    if names:
        st.info(f"Proportional-hazards test p < 0.05 for {', '.join(names)}: the hazard ratio "
                f"of {'this covariate' if len(names) == 1 else 'these covariates'} may change "
                "over follow-up, and the HR shown is an average over time. Consider "
                "stratifying on it (a categorical covariate) or looking at survival curves "
                "by it.")
    elif result.ph_test.filter(
            (pl.col("covariate") == "GLOBAL") & (pl.col("p") < 0.05)).height:
        st.info("The global test has p < 0.05: the proportional-hazards assumption may not hold "
                "for the model as a whole.")


def show_hr_table(table: pl.DataFrame, label: str) -> None:
    """HR (95% CI) and p as text on screen (:func:`cohort.cox.hr_table_text`: no empty cell);
    the downloads have the numbers."""
    show_table(hr_table_text(table), f"Hazard ratios, univariable and multivariable: {label}",
               download=table, key="cox.hr", column_config={
                   "covariate": text_column("Variable", 120),
                   "level": text_column("Level", 160),
                   "uni_hr_ci": text_column("Univariable HR (95% CI)", 158),
                   "uni_p_text": text_column("p", 58, help="p, univariable (Wald)"),
                   "multi_n": text_column("n", 48, "right", "patients in the multivariable model"),
                   "multi_events": text_column("events", 54, "right"),
                   "multi_hr_ci": text_column("Multivariable HR (95% CI)", 166),
                   "multi_p_text": text_column("p", 58, help="p, multivariable (Wald)")})


def text_column(label: str, width: int, alignment: str = "left", help: str | None = None):
    """A text column ``width`` px wide: the HR table's eight columns fit the page unscrolled,
    every header whole."""
    return st.column_config.TextColumn(label, width=width, alignment=alignment, help=help)


def show_dropped(result: CoxResult, label: str) -> None:
    """The covariates (or levels) the model left out, with the reason (also in the report)."""
    if not result.dropped:
        return
    st.markdown("**Left out of the model**")
    show_table(dropped_table(result), f"Covariates left out of the model: {label}",
               key="cox.dropped", column_config={
                   "covariate": "Covariate", "level": "Level", "reason": "Why"})


def forest_caption(view: View, label: str, result: CoxResult, strata: list[str],
                   cause_specific: bool) -> str:
    """Cohort, filters, n used, endpoint and method, for the forest plot's caption."""
    events = patient_count(result.events, view.min_cell)
    method = (f"Multivariable Cox proportional hazards ({events} events), Efron ties; "
              "95% Wald CI")
    if strata:
        method += f"; stratified by {', '.join(column_label(s) for s in strata)}"
    if cause_specific:
        method += "; competing events censored (cause-specific HRs)"
    if result.n < view.n_patients:
        method += f"; complete cases, {used_words(result.n, view.n_patients, view.min_cell)}"
    return figure_caption(view, lower_first(label), method, result.n)


def lower_first(text: str) -> str:
    """'Overall survival' -> 'overall survival'; 'PFS' or 'BED10 ...' stay as they are."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def main() -> None:
    """The screen. Returns early (rather than ``st.stop()``) so the entry script still writes
    the URL and shows link notices."""
    view = current_view()
    choices = view.choices
    st.title("Cox model")
    st.caption(literal_markdown(f"{view.label}. Filters: {view.filter.describe()}"))
    key = f"cox.{view.dataset}"
    picked = choose_endpoint(choices, view.cohort.endpoints(), key)
    if picked is None:
        st.info("This dataset has no time-to-event columns (a time column and a 0/1 event "
                "column). Load a dataset with an endpoint on the Data page.")
        return
    if view.n_patients == 0:
        st.warning("No patient matches the filters. Widen them in the sidebar.")
        return
    with within_engine_limits():
        fit_screen(view, picked, key)


def fit_screen(view: View, picked: tuple[str, str, str, Endpoint | None], key: str) -> None:
    """Covariates, references, strata, the fit and its tables and figure. The rows come from
    the view with only the columns the model uses (an engine dataset's within its row
    limit)."""
    label, time, event, endpoint = picked
    choices = view.choices
    options = [c for c in covariate_options(choices, view.cohort.identifying)
               if c not in (time, event)]
    covariates = url_multiselect("Covariates", options, format_func=column_label,
                                 key=f"{key}.covariates", param="cox.covariates",
                                 placeholder="choose one or more covariates")
    patients = view.rows(list(dict.fromkeys([time, event, *covariates])))
    usable = patients.drop_nulls([time, event, *covariates])
    reference = reference_widgets(usable, covariates, key)
    per = per_widgets(usable, covariates, key)
    strata_options = [c for c in options if c not in covariates
                      and is_categorical(choices.schema[c])]
    strata = url_multiselect("Strata (optional: a separate baseline hazard per stratum)",
                             strata_options, format_func=column_label, key=f"{key}.strata",
                             param="cox.strata")
    methods = f"{METHOD}. {event_note(event, endpoint, patients)}"
    st.caption(literal_markdown(methods + post_treatment_note(choices)))
    collect.add_note(methods)
    if not covariates:
        st.info("Choose one or more covariates to fit the model.")
        return
    used = list(dict.fromkeys([time, event, *covariates, *strata]))
    if strata:
        patients = view.rows(used)
    result, univariable = fit_models(patients.select(used), time, event, tuple(covariates),
                                     reference, tuple(strata), per)
    for message in result.messages:
        st.warning(literal_markdown(message))
    show_dropped(result, label)
    if result.terms.is_empty():
        return
    show_counts(result, view.n_patients)
    terms = suppressed_terms(result.terms, view.min_cell)
    table = univariable_multivariable_table(suppressed_terms(univariable, view.min_cell), terms)
    st.subheader(literal_markdown(f"Hazard ratios: {label}"))
    stratified = f", stratified by {', '.join(column_label(s) for s in strata)}" if strata else ""
    st.caption(literal_markdown(
        "Univariable: each covariate alone, on its own complete cases, unstratified. "
        f"Multivariable: all covariates together{stratified}. n / events of the multivariable "
        "model per level. A numeric covariate's HR is per the units its label says (per one "
        "unit unless chosen above, e.g. age per 10 years)."))
    show_hr_table(table, label)
    caption = forest_caption(view, label, result, strata, competing(event, endpoint, patients))
    show_figure(forest_figure(terms, title=f"Multivariable Cox model: {label}",
                              caption=caption, dropped=[d.text() for d in result.dropped]),
                f"Forest plot: Cox model of {lower_first(label)}", key="cox.forest", n=result.n)
    st.subheader("Model tests")
    show_table(tests_table(result), f"Cox model tests (likelihood ratio, Wald, score): {label}",
               download=tests_table(result, numeric=True), key="cox.tests", column_config={
                   "test": "Test",
                   "chisq": st.column_config.NumberColumn("Chi-square", format="%.2f")})
    show_ph_test(result, label)

main()
