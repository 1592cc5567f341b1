"""Survival: Kaplan-Meier (or cumulative incidence with competing events) of an endpoint,
stratified by any column, with medians, landmark rates, RMST and log-rank under the plot."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

import polars as pl
import streamlit as st

from cohort.analysis import (
    MAX_STRATA,
    SMALL_GROUP,
    SurvivalRequest,
    SurvivalResult,
    cif_at,
    export_table,
    hidden_groups_text,
    landmark_table,
    left_out_text,
    method_text,
    pooled_label,
    rmst_title,
)
from cohort.cox import format_p_value
from cohort.elementwise import each_value
from cohort.figures.km import cif_figure, km_figure
from cohort.schema import PATIENT_ID, Endpoint, column_label, is_numeric, is_outcome_column
from cohort.suppression import km_caption_words
from cohort.survival import CONF_TYPES
from cohort.units import (
    DEFAULT_LANDMARKS,
    DEFAULT_UNIT,
    INPUT_STEPS,
    LANDMARK_CHOICES,
    TIME_UNITS,
    axis_title,
    column_unit,
    positive_time,
    unit_label,
)
from ui import collect
from ui.charts import show_figure
from ui.describe import cohort_words
from ui.hardening import run_through_entry_script
from ui.session import View, current_view
from ui.tables import show_table
from ui.text import literal_markdown
from ui.urlstate import url_number, url_number_multiselect, url_selectbox, url_toggle

run_through_entry_script()

OTHER = "Other time / event columns"
#: A text column with more values than this is free text or an identifier, not a grouping.
MAX_TEXT_VALUES = 50


def stratifiable(patients: pl.DataFrame, identifying: Collection[str]) -> list[str]:
    """Columns to stratify by: numbers (split at a cut) and text with 2 to 50 values (beyond
    8, cohort.analysis pools the least frequent); never the id or ``identifying`` columns."""
    chosen = []
    for column, dtype in patients.schema.items():
        if column in (PATIENT_ID, *identifying) or is_outcome_column(column, patients.columns):
            continue
        if isinstance(dtype, pl.List):
            continue
        distinct = patients[column].drop_nulls().n_unique()
        if (is_numeric(dtype) and distinct > 2) or 2 <= distinct <= MAX_TEXT_VALUES:
            chosen.append(column)
    return chosen


def choose_endpoint(patients: pl.DataFrame, endpoints: list[Endpoint]) -> Endpoint | None:
    """The endpoint picker: the cohort's endpoints, or any numeric time and event column."""
    keys = [e.key for e in endpoints]
    numeric = [c for c, t in patients.schema.items() if is_numeric(t)]
    options = keys + ([OTHER] if len(numeric) >= 2 else [])
    if not options:
        return None
    labels = {e.key: f"{e.key}: {e.label}" for e in endpoints} | {OTHER: OTHER}
    choice = url_selectbox("Endpoint", options, format_func=labels.get, key="surv.endpoint",
                           param="survival.endpoint")
    if choice != OTHER:
        return next(e for e in endpoints if e.key == choice)
    left, right = st.columns(2)
    with left:
        time = url_selectbox("Time column", numeric, key="surv.time", param="survival.time",
                             format_func=column_label)
    with right:
        events = [c for c in numeric if c != time]
        event = url_selectbox("Event column (1 = event, 0 = censored, 2 = competing)", events,
                              key="surv.event", param="survival.event", format_func=column_label)
    return Endpoint("custom", f"{column_label(time)} / {column_label(event)}", time, event)


def choose_unit(endpoint: Endpoint) -> str:
    """The time unit picker (link ``survival.unit``). Disabled for a time column whose name
    states no unit: its times are analysed and shown as they are."""
    known = column_unit(endpoint.time) is not None
    help_text = ("Times, landmarks, RMST horizon and axis in this unit; days, weeks and years "
                 "from the exact days where the cohort has them" if known else
                 f"{column_label(endpoint.time)} has no unit in its name: its times are shown "
                 "as they are, not converted")
    return url_selectbox("Time unit", list(TIME_UNITS), index=TIME_UNITS.index(DEFAULT_UNIT),
                         key="surv.unit", param="survival.unit", disabled=not known,
                         help=help_text)


def choose_landmarks(unit: str | None) -> list[float]:
    """Landmark times in ``unit`` (None: the time column's own): offered or typed.

    This widget and the RMST and axis inputs are keyed per unit: a time typed in one unit is
    never read in another. Each unit starts from its own defaults (one and two years), and a
    unit left and chosen again starts from them anew."""
    shown, words = unit or DEFAULT_UNIT, unit_label(unit)
    return url_number_multiselect(
        f"Landmark times ({words})", LANDMARK_CHOICES[shown], default=DEFAULT_LANDMARKS[shown],
        key=f"surv.landmarks.{unit}", param="survival.landmarks", parse=positive_time,
        invalid=f"a landmark is a positive number of {words}",
        help=f"Pick, or type any time in {words} (e.g. 400) and press Enter")


def choose_options(unit: str | None) -> tuple[float, float, str, dict]:
    """The Options expander: RMST horizon and x-axis limit in ``unit`` (0: automatic), CI
    type, and the figure's toggles."""
    words, step = unit_label(unit), INPUT_STEPS[unit or DEFAULT_UNIT]
    with st.expander("Options"):
        option_cols = st.columns(4)
        with option_cols[0]:
            tau = url_number(f"RMST up to ({words}; 0 = automatic)", key=f"surv.tau.{unit}",
                             param="survival.tau", value=0.0, min_value=0.0, max_value=1e6,
                             step=step)
            x_max = url_number(f"x-axis up to ({words}; 0 = all)", key=f"surv.xmax.{unit}",
                               param="survival.xmax", value=0.0, min_value=0.0, max_value=1e6,
                               step=step)
        with option_cols[1]:
            conf_type = url_selectbox("Confidence interval", list(CONF_TYPES), key="surv.ci",
                                      param="survival.ci", help="log-log is the default here; "
                                      "'log' is R survfit's default")
        with option_cols[2]:
            toggles = {
                "show_ci": url_toggle("CI bands", key="surv.bands", param="survival.bands", value=True),
                "show_median": url_toggle("Median lines", key="surv.medians", param="survival.medians",
                                          value=True),
                "show_censor": url_toggle("Censor ticks", key="surv.ticks", param="survival.ticks",
                                          value=True),
            }
    return tau, x_max, conf_type, toggles


def choose_request(view: View, endpoint: Endpoint) -> tuple[SurvivalRequest, dict]:
    """Stratum, cut, time unit, landmarks, RMST tau, CI type and the figure's toggles; strata
    (never the cohort's identifying columns) and the suggested cut come from the patients
    with the endpoint recorded."""
    recorded = [endpoint.time, endpoint.event]
    choices = view.choices if view.in_engine else view.choices.drop_nulls(recorded)
    columns = st.columns([2, 1, 1, 2])
    with columns[0]:
        by = url_selectbox("Stratify by", [None, *stratifiable(choices, view.cohort.identifying)],
                           key="surv.by",
                           param="survival.by", format_func=lambda c: "No strata" if c is None
                           else column_label(c))
    cut = None
    if by and is_numeric(choices.schema[by]):
        with columns[1]:
            cut = url_number("Split at", key=f"surv.cut.{by}", param="survival.cut",
                             value=view.suggested_cut(by, recorded),
                             min_value=-1e9, max_value=1e9, step=1.0,
                             help="Groups: below the value, and at or above it")
    with columns[2]:
        unit = choose_unit(endpoint)
    shown = unit if column_unit(endpoint.time) else None
    with columns[3]:
        landmarks = choose_landmarks(shown)
    tau, x_max, conf_type, toggles = choose_options(shown)
    request = SurvivalRequest(
        time=endpoint.time, event=endpoint.event, endpoint=endpoint.label, by=by, cut=cut,
        landmarks=tuple(landmarks), tau=tau or None, conf_type=conf_type, unit=unit,
    )
    left, right = st.columns([2, 2], vertical_alignment="bottom")
    with left:
        request = replace(request, reference=choose_reference(view, request))
    with right:
        toggles["kmunicate"] = url_toggle(
            "KMunicate table", key="surv.kmunicate", param="survival.kmunicate",
            help="Under the plot, per group: at risk, cumulative events and censored at each "
                 "time tick (Morris et al., BMJ Open 2019)")
    return request, toggles | {"x_max": x_max or None}


def choose_reference(view: View, request: SurvivalRequest) -> str | None:
    """The group the hazard ratios are against (link ``survival.reference``; default the
    largest group; under ``min_cell`` never a group of fewer patients); None without
    strata."""
    groups, largest = view.reference_options(request)
    if len(groups) < 2:
        return None
    index = groups.index(largest) if largest in groups else 0
    return url_selectbox("Hazard ratios against", groups, index=index,
                         key=f"surv.reference.{request.by}", param="survival.reference",
                         help="Cox proportional hazards (Efron ties) of each group against "
                              "this one; default: the largest group")


def show_tables(result: SurvivalResult) -> None:
    """Medians, hazard ratios, landmark rates, RMST, median follow-up and log-rank: the numbers
    under the figure, every time in the result's unit (on screen, in the report and in the
    CSV/Excel files). Full width, one under another: side by side at 1280 px the long group
    names left the estimates cut off at the tables' right edge."""
    words = unit_label(result.unit)
    st.markdown("**Median survival (95% CI)**")
    show_table(result.medians.select("group", "n", "events", "median_text"),
               "Median survival (95% CI)", download=export_table(result, "medians"),
               column_config={"median_text": f"median, {words} (95% CI)"})
    if result.hazard_ratios is not None and result.hazard_ratios.height:
        show_hazard_ratios(result)
    if result.request.landmarks:
        st.markdown("**Landmark rates**")
        show_table(landmark_table(result), "Landmark rates",
                   download=export_table(result, "landmarks"), column_config={
                       "time": st.column_config.NumberColumn(words, format="%g"),
                       "estimate": "survival (95% CI)", "n_risk": "at risk"})
    if result.rmst is not None:
        title = rmst_title(result)
        st.markdown(f"**{title}**")
        show_table(result.rmst, title, download=export_table(result, "rmst"), column_config={
            "tau": st.column_config.NumberColumn(f"up to, {words}", format="%g"),
            "rmst": st.column_config.NumberColumn(f"RMST, {words}", format="%.2f"),
            "se": st.column_config.NumberColumn(f"SE, {words}", format="%.2f")})
    st.markdown("**Median follow-up** (reverse Kaplan-Meier)")
    show_table(result.follow_up.select("group", "n", "under_follow_up", "text"),
               "Median follow-up (reverse Kaplan-Meier)",
               download=export_table(result, "follow_up"),
               column_config={"under_follow_up": "still followed (censored)",
                              "text": f"median, {words} (IQR)"})
    if result.logrank is not None:
        show_logrank(result)


def show_hazard_ratios(result: SurvivalResult) -> None:
    """The figure's hazard ratios as a table, with n, events and the Wald p."""
    title = f"Hazard ratios vs {result.reference} (Cox, Efron ties)"
    st.markdown(f"**{literal_markdown(title)}**")
    ratios = result.hazard_ratios
    shown = ratios.select("group", "n", "events", "text").with_columns(
        each_value(ratios, "p", format_p_value).fill_null(""))  # the reference has no p
    show_table(shown, title, download=ratios.drop("text"), column_config={"text": "HR (95% CI)"})


def show_logrank(result: SurvivalResult) -> None:
    test = result.logrank
    st.markdown(f"**Log-rank test**: χ² = {test.chisq:.2f}, {test.df} df, p = {test.p:.4g}")
    show_table(test.table, "Log-rank test: observed and expected events", column_config={
        "observed": st.column_config.NumberColumn(format="%g"),
        "expected": st.column_config.NumberColumn(format="%.1f"),
        "(O-E)^2/E": st.column_config.NumberColumn(format="%.2f"),
        "(O-E)^2/V": st.column_config.NumberColumn(format="%.2f")})
    if test.trend is not None:
        st.caption(f"Test for trend over the ordered groups: χ² = {test.trend.chisq:.2f}, "
                   f"p = {test.trend.p:.4g}")
    if test.pairwise.height > 1:
        st.markdown("**Pairwise log-rank, Holm-adjusted**")
        show_table(test.pairwise, "Pairwise log-rank tests, Holm-adjusted", column_config={
            "chisq": st.column_config.NumberColumn("χ²", format="%.2f"),
            "p": st.column_config.NumberColumn(format="%.4g"),
            "p_holm": st.column_config.NumberColumn("p (Holm)", format="%.4g")})


def show_competing(result: SurvivalResult, endpoint: Endpoint, caption: str, options: dict
                   ) -> None:
    """Cumulative incidence, and why 1 - KM would overstate it, with the numbers."""
    event_name = endpoint.label.replace("Local control", "local failure").replace(
        "Time to next-line therapy", "next-line therapy")
    figure = cif_figure(result.cif, gray=result.gray, show_ci=options["show_ci"],
                        show_censor=options["show_censor"], x_max=options["x_max"],
                        title=f"Cumulative incidence of {event_name}", caption=caption,
                        event_label="Cumulative incidence", time_label=axis_title(result.unit),
                        min_cell=result.min_cell)
    show_figure(figure, f"Cumulative incidence of {event_name}", n=result.figure_n)
    competing = endpoint.competing_label or "a competing event (code 2)"
    compare = cif_at(result)
    st.info(literal_markdown(
        f"Patients can have {competing}, after which {event_name} can no longer happen. "
        "Kaplan-Meier treats them as censored, as if they could still fail later, so 1 − KM "
        "overstates the incidence; the Aalen-Johansen estimate counts them as a competing "
        "outcome. Here, side by side:"), icon=":material/info:")
    show_table(compare, "Cumulative incidence (Aalen-Johansen) and 1 − Kaplan-Meier",
               download=export_table(result, "competing"), column_config={
        "time": st.column_config.NumberColumn(unit_label(result.unit), format="%g"),
        "cif": st.column_config.NumberColumn("cumulative incidence (AJ)", format="percent"),
        "one_minus_km": st.column_config.NumberColumn("1 − KM (overstated)", format="percent"),
    })


def show_result(view, endpoint: Endpoint, request: SurvivalRequest, result: SurvivalResult,
                options: dict) -> None:
    """The figure(s), tables and methods of one analysis."""
    caption = f"{cohort_words(view, result.figure_n)}. Endpoint: {endpoint.label}"
    if result.min_cell:
        words = km_caption_words(result.min_cell)
        caption += f". {words[0].upper()}{words[1:]}"
    if result.left_out:
        st.caption(literal_markdown(left_out_text(result, view.n_patients)))
    if result.hidden_groups:
        st.info(literal_markdown(hidden_groups_text(result)), icon=":material/visibility_off:")
    if result.pooled:
        st.caption(literal_markdown(
            f"{result.stratum_label}: only the {MAX_STRATA - 1} most frequent values are drawn "
            f"separately. {pooled_label(len(result.pooled))}: {', '.join(result.pooled)}."))
    for group in result.small_groups:
        st.warning(literal_markdown(f"Group '{group}' has fewer than {SMALL_GROUP} patients: its "
                                    "estimates are shown but are very uncertain."),
                   icon=":material/warning:")
    if result.competing:
        show_competing(result, endpoint, caption, options)
        st.subheader("Kaplan-Meier, competing events censored")
    title = endpoint.label + (f" by {result.stratum_label}" if result.stratum_label else "")
    figure = km_figure(result.km, median_table=result.medians, logrank=result.logrank,
                       hazard_ratios=result.hazard_ratios, title=title, caption=caption,
                       conf_type=request.conf_type, min_cell=result.min_cell,
                       time_label=axis_title(result.unit), **options)
    show_figure(figure, f"Kaplan-Meier: {title}", n=result.figure_n)
    show_tables(result)
    st.caption(literal_markdown(f"Methods: {method_text(result)}."))
    collect.add_note(method_text(result))


def main() -> None:
    """The screen. Returns early (not ``st.stop()``) so the entry script still runs to its end:
    it rewrites the link and shows notices after the screen."""
    view = current_view()
    st.title("Survival")
    endpoint = choose_endpoint(view.choices, view.cohort.endpoints())
    if endpoint is None:
        st.warning("This dataset has no time-to-event columns. Map a time and an event column "
                   "on the Data page.")
        return
    request, options = choose_request(view, endpoint)
    result = view.survival(request)
    if result.n == 0:
        st.warning(f"No patient in this cohort has {endpoint.label.lower()} data. Choose "
                   "another endpoint or widen the filters.")
        return
    if result.km.is_empty():
        st.info(literal_markdown(hidden_groups_text(result)), icon=":material/visibility_off:")
        return
    show_result(view, endpoint, request, result, options)


main()
