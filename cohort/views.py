"""The filtered view of a cohort that every screen reads: in memory, or in the engine.

Screens ask a view for what they show (the patient count, attrition, the survival analysis,
rows for a model) and never look at where the patients are. :class:`MemoryView` answers from
a polars frame (uploads, bundled and configured in-memory datasets); :class:`EngineView` from
an :class:`~cohort.engine_cohort.EngineCohort`, where the filter and the aggregations run in
the database and only counts come back. What needs rows (a Cox model, dose plots) fetches the
filtered rows with only the columns it uses, and raises
:class:`~cohort.engine_source.RowLimitError` past the dataset's ``row_limit``.

A view computes on first use and keeps nothing between a session's runs
(:meth:`MemoryView.fresh`): a session never holds a copy of a shared dataset. An engine view
may be given its session's :class:`EngineMemo`, which keeps the session's last aggregates
(counts, attrition, Table 1: kilobytes, whatever the registry's size) so that a rerun with
the same filter and choices does not query the engine again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import ibis.expr.types as ir
import plotly.graph_objects as go
import polars as pl

from cohort import engine
from cohort.analysis import (
    AnalysedCounts,
    SurvivalRequest,
    SurvivalResult,
    analyse_survival,
    reference_options,
    reference_options_from_counts,
    suggested_cut,
    survival_from_counts,
)
from cohort.engine_analysis import analysed_counts_in_engine, suggested_cut_in_engine
from cohort.engine_cohort import EngineCohort
from cohort.engine_distributions import distribution_counts_in_engine
from cohort.engine_source import model_rows
from cohort.engine_tables import table_one_in_engine
from cohort.engine_toxicity import (
    ctcae_versions_in_engine,
    grade_counts_in_engine,
    studies_in_engine,
    toxicity_phases_in_engine,
    toxicity_rows_in_engine,
)
from cohort.figures.distributions import counts_figure, distribution_counts, shown_n
from cohort.filters import CohortFilter
from cohort.schema import PATIENT_ID, Cohort
from cohort.tables import table_one
from cohort.toxicity import (
    GradeCounts,
    assessed_studies,
    ctcae_versions,
    grade_counts,
    group_columns,
    phases_present,
)

T = TypeVar("T")

#: Above this many kept patients an engine dataset's Table 1 and distribution charts wait to
#: be asked for: Table 1's quartiles rank every row (5.5 s for two variables at 10M, about ten
#: times that at 100M), the charts count every value (4.4 s for three columns at 10M, 44 s at
#: 100M), and the Cohort screen is the first one a colleague opens.
ON_REQUEST_ABOVE = 1_000_000


class EngineMemo:
    """One session's most recent engine aggregates of one cohort version (a new version, e.g.
    the database changed and the dataset was opened again, starts afresh). Never shared
    between sessions: it holds aggregates of patient data."""

    def __init__(self, max_entries: int = 32):
        self.max_entries = max_entries
        self._cohort: object | None = None
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, cohort: object, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept for (``cohort``, ``key``), else ``compute()`` (kept, the least
        recently used dropped past ``max_entries``)."""
        with self._lock:
            if cohort is not self._cohort:
                self._cohort, self._entries = cohort, OrderedDict()
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]  # type: ignore[return-value]
            value = compute()
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return value


@dataclass(frozen=True, eq=False)
class MemoryView:
    """A cohort held in memory and the filter applied to it."""

    dataset: str
    cohort: Cohort
    filter: CohortFilter
    #: Counts of 1 to min_cell - 1 are not shown (cohort.suppression); None: no threshold.
    min_cell: int | None = None
    in_engine = False

    def fresh(self) -> MemoryView:
        """The same view without anything computed (kept between runs)."""
        return type(self)(self.dataset, self.cohort, self.filter, self.min_cell)

    @property
    def label(self) -> str:
        """The cohort in words, with 'synthetic' where it is."""
        name = self.cohort.name
        flagged = self.cohort.synthetic and "synthetic" not in name.lower()
        return f"{name} (synthetic demonstration data)" if flagged else name

    @cached_property
    def patients(self) -> pl.DataFrame:
        """The patients the filter keeps: the cohort's own frame (no copy) when nothing is
        filtered."""
        return self.filter.apply(self.cohort.patients)

    @cached_property
    def toxicities(self) -> pl.DataFrame | None:
        """The toxicity rows of the kept patients: the cohort's own frame when nothing is
        filtered; None when the cohort has none."""
        toxicities = self.cohort.toxicities
        if toxicities is None or not self.filter.conditions:
            return toxicities
        return toxicities.filter(pl.col(PATIENT_ID).is_in(self.patients[PATIENT_ID].implode()))

    @property
    def n_patients(self) -> int:
        """Patients the filter keeps."""
        return self.patients.height

    @property
    def choices(self) -> pl.DataFrame:
        """The frame pickers read their choices from (columns, types, values): the kept
        patients."""
        return self.patients

    def rows(self, columns: list[str]) -> pl.DataFrame:
        """The kept patients with only ``columns``."""
        return self.patients.select(columns)

    def attrition(self) -> pl.DataFrame:
        """:meth:`CohortFilter.attrition` of the whole cohort."""
        return self.filter.attrition(self.cohort.patients)

    def survival(self, request: SurvivalRequest) -> SurvivalResult:
        """:func:`cohort.analysis.analyse_survival` of the kept patients."""
        return analyse_survival(self.patients, request, self.min_cell)

    def reference_options(self, request: SurvivalRequest) -> tuple[list[str], str | None]:
        """:func:`cohort.analysis.reference_options` of the kept patients."""
        return reference_options(self.patients, request, self.min_cell)

    def suggested_cut(self, by: str, recorded: list[str]) -> float:
        """:func:`cohort.analysis.suggested_cut` of numeric ``by`` among the kept patients
        with every ``recorded`` column present."""
        return suggested_cut(self.patients.drop_nulls(recorded), by)

    @property
    def on_request(self) -> bool:
        """Whether Table 1 and the distribution charts are computed only when asked for
        (never in memory)."""
        return False

    def table_one(self, by: str | None, variables: list[str]) -> pl.DataFrame:
        """:func:`cohort.tables.table_one` of the kept patients."""
        return table_one(self.patients, by=by, variables=variables, min_cell=self.min_cell)

    def distribution(self, column: str) -> tuple[go.Figure, int | str]:
        """The distribution chart of ``column`` over the kept patients and the n it states."""
        counts = distribution_counts(self.patients[column], column)
        return counts_figure(counts, self.min_cell), shown_n(counts, self.min_cell)

    @property
    def has_toxicities(self) -> bool:
        """Whether the cohort has a toxicity table."""
        return self.cohort.toxicities is not None

    @property
    def n_toxicity_rows(self) -> int:
        """Toxicity rows of the kept patients (0 without a toxicity table)."""
        return 0 if self.toxicities is None else self.toxicities.height

    def toxicity_phases(self) -> list[str]:
        """The phases of the kept patients' toxicity rows (acute, late)."""
        return phases_present(self.toxicities)

    def toxicity_group_options(self) -> list[str]:
        """:func:`cohort.toxicity.group_columns` of the kept patients."""
        return group_columns(self.patients, self.cohort.identifying)

    def toxicity_counts(self, by: str | None, phase: str | None) -> GradeCounts:
        """:func:`cohort.toxicity.grade_counts` of the kept patients."""
        return grade_counts(self.toxicities, self.patients, by, phase)

    def ctcae_versions(self, phase: str | None) -> list[str]:
        """The CTCAE versions of the kept patients' toxicity rows of ``phase``."""
        return ctcae_versions(self.toxicities, phase)

    def toxicity_studies(self) -> tuple[set, set]:
        """The studies of the kept patients assessed for toxicity, and of all kept patients."""
        return assessed_studies(self.patients, self.toxicities)


@dataclass(frozen=True, eq=False)
class EngineView(MemoryView):
    """A cohort kept in its engine and the filter applied there."""

    cohort: EngineCohort
    min_cell: int | None = None
    memo: EngineMemo | None = None
    in_engine = True

    def fresh(self) -> EngineView:
        """The same view without anything computed; the session's memo kept."""
        return EngineView(self.dataset, self.cohort, self.filter, self.min_cell, self.memo)

    def _memoised(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()`` for this filter, or the session memo's value of it."""
        if self.memo is None:
            return compute()
        return self.memo.get(self.cohort, (self.dataset, self.filter, self.min_cell, *key),
                             compute)

    @cached_property
    def table(self) -> ir.Table:
        """The kept patients as a lazy engine table (one connection for this run)."""
        return engine.filtered(self.cohort.table(), self.filter)

    @property
    def patients(self) -> pl.DataFrame:  # type: ignore[override]
        raise TypeError("an engine view holds no patient rows: use rows() or an aggregate")

    @property
    def toxicities(self) -> None:  # type: ignore[override]
        return None

    @cached_property
    def n_patients(self) -> int:  # type: ignore[override]
        """Patients the filter keeps, counted in the engine."""
        return self._memoised(("n",), lambda: int(self.table.count().to_pyarrow().as_py()))

    @property
    def choices(self) -> pl.DataFrame:
        """The cohort's column profile (``cohort.engine_cohort``): the choices of the whole
        dataset, not of the kept patients."""
        return self.cohort.profile

    def rows(self, columns: list[str]) -> pl.DataFrame:
        """The kept patients with only ``columns``, fetched from the engine; raises
        :class:`~cohort.engine_source.RowLimitError` past the dataset's row limit."""
        return model_rows(self.cohort.table(), self.filter, columns, self.cohort.row_limit)

    def attrition(self) -> pl.DataFrame:
        return self._memoised(("attrition",),
                              lambda: engine.attrition(self.cohort.table(), self.filter))

    @cached_property
    def _counts(self) -> dict[tuple, AnalysedCounts]:
        return {}

    def analysed_counts(self, request: SurvivalRequest) -> AnalysedCounts:
        """:func:`cohort.engine_analysis.analysed_counts_in_engine` of the kept patients, once
        per run for each (endpoint, stratum, cut, unit)."""
        key = (request.time, request.event, request.by, request.cut, request.unit)
        if key not in self._counts:
            self._counts[key] = self._memoised(
                ("counts", *key), lambda: analysed_counts_in_engine(self.table, request,
                                                                self.cohort.decoders))
        return self._counts[key]

    def survival(self, request: SurvivalRequest) -> SurvivalResult:
        """The analysis from counts aggregated in the engine: no patient row is fetched."""
        return survival_from_counts(self.analysed_counts(request), request, self.min_cell)

    def reference_options(self, request: SurvivalRequest) -> tuple[list[str], str | None]:
        if not request.by:
            return [], None
        return reference_options_from_counts(self.analysed_counts(request), self.min_cell)

    def suggested_cut(self, by: str, recorded: list[str]) -> float:
        return self._memoised(("cut", by, tuple(recorded)),
                              lambda: suggested_cut_in_engine(self.table, by, recorded))

    @property
    def on_request(self) -> bool:  # type: ignore[override]
        """Whether Table 1 and the distribution charts wait to be asked for: above
        :data:`ON_REQUEST_ABOVE` kept patients."""
        return self.n_patients > ON_REQUEST_ABOVE

    def table_one(self, by: str | None, variables: list[str]) -> pl.DataFrame:
        """:func:`cohort.engine_tables.table_one_in_engine` of the kept patients: aggregates
        only, whatever their number."""
        return self._memoised(("table one", by, tuple(variables)), lambda: table_one_in_engine(
            self.table, by, variables, self.min_cell))

    def distribution(self, column: str) -> tuple[go.Figure, int | str]:
        """The chart from counts of the kept patients' values, binned in the engine."""
        counts = self._memoised(("distribution", column),
                                lambda: distribution_counts_in_engine(self.table, column))
        return counts_figure(counts, self.min_cell), shown_n(counts, self.min_cell)

    @property
    def has_toxicities(self) -> bool:  # type: ignore[override]
        return self.cohort.dataset.toxicities is not None

    @cached_property
    def _toxicity_tables(self) -> tuple[ir.Table, ir.Table]:
        """The toxicities and the kept patients, on one connection (a query joins them)."""
        patients, toxicities = self.cohort.tables()
        return toxicities, engine.filtered(patients, self.filter)

    def _toxicity_answer(self, key: tuple, compute: Callable[[ir.Table, ir.Table], T]) -> T:
        """``compute(toxicities, kept patients)``, or the session memo's value of it."""
        return self._memoised(("toxicity", *key), lambda: compute(*self._toxicity_tables))

    @property
    def n_toxicity_rows(self) -> int:  # type: ignore[override]
        """Toxicity rows of the kept patients, counted in the engine."""
        return self._toxicity_answer(("rows",), toxicity_rows_in_engine)

    def toxicity_phases(self) -> list[str]:
        return self._toxicity_answer(("phases",), toxicity_phases_in_engine)

    def toxicity_group_options(self) -> list[str]:
        """:func:`cohort.toxicity.group_columns` of the dataset's column profile (the values
        of the whole dataset, not of the kept patients)."""
        return group_columns(self.cohort.profile, self.cohort.identifying)

    def toxicity_counts(self, by: str | None, phase: str | None) -> GradeCounts:
        """:func:`cohort.engine_toxicity.grade_counts_in_engine`: counts only."""
        return self._toxicity_answer(("counts", by, phase), lambda tox, kept: (
            grade_counts_in_engine(tox, kept, by, phase)))

    def ctcae_versions(self, phase: str | None) -> list[str]:
        return self._toxicity_answer(("versions", phase), lambda tox, kept: (
            ctcae_versions_in_engine(tox, kept, phase)))

    def toxicity_studies(self) -> tuple[set, set]:
        return self._toxicity_answer(("studies",), studies_in_engine)


View = MemoryView | EngineView


def choices_of(cohort: Cohort | EngineCohort) -> pl.DataFrame:
    """The frame the sidebar's filters read their choices from: an in-memory cohort's
    patients, an engine cohort's column profile."""
    return cohort.profile if isinstance(cohort, EngineCohort) else cohort.patients


def view_of(dataset: str, cohort: Cohort | EngineCohort, cohort_filter: CohortFilter,
            min_cell: int | None = None, memo: EngineMemo | None = None) -> View:
    """The view of ``cohort`` with ``cohort_filter``: in the engine for an engine cohort
    (answering from the session's ``memo`` where it can)."""
    if isinstance(cohort, EngineCohort):
        return EngineView(dataset, cohort, cohort_filter, min_cell, memo)
    return MemoryView(dataset, cohort, cohort_filter, min_cell)
