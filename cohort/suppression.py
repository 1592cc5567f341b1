"""Small-cell suppression: the one place that decides which counts a dataset may show.

A dataset configured with ``min_cell = m`` (e.g. 11, as in the CMS and SEER data-use rules)
never shows a count from 1 to m - 1; 0 is shown. Bundled datasets and uploads have no
threshold (``min_cell`` None) and every function here returns its input unchanged for them.

Rules, in order:

1. **Primary**: a count of 1 to m - 1 is shown as "<m" (:func:`suppressed_count`), without a
   percentage.
2. **Secondary (complementary) suppression**: wherever shown counts add up to a shown total
   (the levels and the missing count of a Table 1 variable add up to its column's n; a row's
   groups add up to its Overall cell; worst grades 1-5 add up to "any grade"; patients with and
   without a toxicity add up to the denominator), a total with exactly one hidden part would
   give that part away. Then the smallest other non-zero part is hidden too, shown as
   "withheld", and the check repeats until no total has exactly one hidden part
   (:func:`protect`). A part that is not displayed but follows from the total (patients
   without a toxicity) counts as a part.
3. **Percentages**: a hidden count shows no percentage, and a Table 1 variable whose missing
   count is hidden shows no percentages in that column (their denominator would give the
   missing count away).
4. **Differences**: the attrition table and the sidebar's "of N" never show two patient counts
   whose difference is 1 to m - 1. Attrition rows are checked from the last (the filtered
   cohort, whose size every screen shows) back to "All patients": a row whose n is within
   1 to m - 1 of the next row shown is not shown ("–"), and the next row's "excluded" then
   counts from the row shown before it (:func:`attrition_text`).
5. **Kaplan-Meier and cumulative incidence** (OpenSAFELY's kaplan-meier-function, ``round_km``
   with its default "constant" method): per group the cumulative events and cumulative
   censorings are rounded to midpoints of multiples of m, ``roundmid(x) = ceil(x / m) * m -
   floor(m / 2)`` for x > 0 (0 stays 0; m = 11: 1-11 -> 6, 12-22 -> 17), the events and
   censorings at each time are the steps of those rounded sums, the number at risk is the
   group's size rounded the same way minus the rounded exits before, and the survival
   estimate and its Greenwood CI are computed again from those counts
   (:func:`round_event_counts`). For cumulative incidence the competing events are a third
   rounded sum and Aalen-Johansen is computed from the three. Every count a curve, its risk
   table or KMunicate table shows is one of these rounded counts or a difference of them (the
   number at risk; so it can be under m, e.g. 17 - 6 - 6 = 5, without telling any true count
   to better than m), never a count of the data; like every count, one under m is shown as
   "<m" (the rounded 6 too), so no number from 1 to m - 1 appears. A group with fewer than m patients is not
   drawn and shows no estimate. Log-rank, Gray's test and Cox are computed on the real data
   (a p value or hazard ratio reveals no count); their counts are suppressed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from cohort.elementwise import each_value

WITHHELD = "withheld"
#: Shown for a row of the attrition table hidden by rule 4.
NOT_SHOWN = "–"


def is_small(n: int | None, min_cell: int | None) -> bool:
    """True when ``n`` is a count that ``min_cell`` hides (1 to min_cell - 1)."""
    return bool(min_cell) and n is not None and 0 < n < min_cell


def suppressed_count(n: int, min_cell: int | None) -> str:
    """``n`` as shown: "<11" for 1 to 10 when ``min_cell`` is 11, the number otherwise (0 stays
    "0"; no threshold: always the number)."""
    return f"<{min_cell}" if is_small(n, min_cell) else str(n)


def patient_count(n: int, min_cell: int | None) -> str:
    """A count of patients for a caption: '4,299', or '<11' under the threshold."""
    return suppressed_count(n, min_cell) if is_small(n, min_cell) else f"{n:,}"


def count_text(n: int, min_cell: int | None, hidden: bool = False) -> str:
    """A count as shown: :func:`suppressed_count`, or "withheld" for a count hidden by
    secondary suppression (``hidden`` and not small itself)."""
    if is_small(n, min_cell):
        return suppressed_count(n, min_cell)
    return WITHHELD if hidden else str(n)


def caption_words(min_cell: int | None) -> str:
    """The suppression rule in words for a caption ('' without a threshold)."""
    if not min_cell:
        return ""
    return (f"Counts of 1–{min_cell - 1} shown as <{min_cell}; 'withheld': hidden so that "
            f"a total does not give a small count away")


def km_caption_words(min_cell: int | None) -> str:
    """The Kaplan-Meier rounding in words for the curve's caption ('' without a threshold)."""
    if not min_cell:
        return ""
    examples = ", ".join(str(roundmid_to(k * min_cell + 1, min_cell)) for k in range(3))
    return (f"counts rounded to midpoints of multiples of {min_cell} ({examples}, …) before "
            f"estimation, numbers at risk their differences (OpenSAFELY kaplan-meier-function "
            f"method), those under {min_cell} shown as <{min_cell}; groups under {min_cell} "
            f"patients not drawn")


# ---------------------------------------------------------------------------------------------
# secondary suppression
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """Counts ``parts`` that add up to ``total`` (all keys of the values given to
    :func:`protect`)."""

    parts: tuple[Hashable, ...]
    total: Hashable


def protect(values: Mapping[Hashable, int], lines: Iterable[Line], min_cell: int | None
            ) -> set[Hashable]:
    """The keys of ``values`` to hide: the small counts (rule 1) and, while some line has
    exactly one hidden part and its total shown (or a hidden total and no hidden part), the
    smallest other non-zero count of that line (rule 2)."""
    if not min_cell:
        return set()
    hidden = {k for k, v in values.items() if is_small(v, min_cell)}
    lines = list(lines)
    changed = True
    while changed:
        changed = False
        for line in lines:
            hidden_parts = [p for p in line.parts if p in hidden]
            total_hidden = line.total in hidden
            if len(hidden_parts) == 1 and not total_hidden or not hidden_parts and total_hidden:
                candidates = [k for k in (*line.parts, line.total)
                              if k not in hidden and values[k] > 0]
                if candidates:
                    hidden.add(min(candidates, key=lambda k: values[k]))
                    changed = True
    return hidden


def shown_counts(frame: pl.DataFrame, columns: Sequence[str], min_cell: int | None
                 ) -> pl.DataFrame:
    """``frame`` with each count column of ``columns`` as text under rule 1 ("<11", numbers);
    unchanged without a threshold. For counts that add up to no total shown with them."""
    if not min_cell:
        return frame
    return frame.with_columns(
        each_value(frame, c, lambda n: suppressed_count(int(n), min_cell))
        for c in columns if c in frame.columns)


# ---------------------------------------------------------------------------------------------
# differences: attrition and "of N"
# ---------------------------------------------------------------------------------------------


def shown_steps(counts: Sequence[int], min_cell: int | None) -> list[bool]:
    """Which of the attrition counts ``counts`` (non-increasing, last = the filtered cohort)
    may be shown: walking back from the last, a count within 1 to min_cell - 1 of the last
    one shown is not (rule 4)."""
    shown = [True] * len(counts)
    if not min_cell or not counts:
        return shown
    anchor = counts[-1]
    for i in range(len(counts) - 2, -1, -1):
        if is_small(counts[i] - anchor, min_cell):
            shown[i] = False
        else:
            anchor = counts[i]
    return shown


def attrition_text(attrition: pl.DataFrame, min_cell: int | None) -> pl.DataFrame:
    """:meth:`cohort.filters.CohortFilter.attrition` as shown: ``n`` and ``excluded`` as text,
    rows hidden by rule 4 shown as "–", excluded counted from the row shown before; unchanged
    without a threshold."""
    if not min_cell:
        return attrition
    counts = attrition["n"].to_list()
    shown = shown_steps(counts, min_cell)
    n_text, excluded_text, last = [], [], None
    for count, visible in zip(counts, shown, strict=True):
        if not visible:
            n_text.append(NOT_SHOWN)
            excluded_text.append(NOT_SHOWN)
            continue
        n_text.append(suppressed_count(count, min_cell))
        excluded_text.append("0" if last is None else suppressed_count(last - count, min_cell))
        last = count
    return attrition.with_columns(n=pl.Series(n_text, dtype=pl.String),
                                  excluded=pl.Series(excluded_text, dtype=pl.String))


def in_total_words(kept: int, total: int, min_cell: int | None,
                   where: str = "in the dataset") -> str:
    """'of 500 in the dataset' (``where``); under ``min_cell``, 'total not shown' when the
    difference from ``kept`` would be a hidden count (rule 4)."""
    if is_small(total - kept, min_cell):
        return f"total not shown: it differs by fewer than {min_cell}"
    return f"of {patient_count(total, min_cell)} {where}"


def used_words(kept: int, total: int, min_cell: int | None) -> str:
    """'495 of 500 patients', or '495 patients' when the difference would be hidden."""
    if is_small(total - kept, min_cell):
        return f"{patient_count(kept, min_cell)} patients"
    return f"{patient_count(kept, min_cell)} of {patient_count(total, min_cell)} patients"


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier and cumulative incidence (OpenSAFELY round_km, "constant" method)
# ---------------------------------------------------------------------------------------------


def roundmid_to(x: int, step: int) -> int:
    """``x`` rounded to the midpoint below the next multiple of ``step``, as OpenSAFELY's
    ``roundmid_any``: ceil(x / step) * step - floor(step / 2) for x > 0; 0 stays 0."""
    return -(-x // step) * step - step // 2 if x else 0


def rounded_values_below(cap: int, step: int) -> int:
    """The largest value :func:`roundmid_to` gives (0 included) that is at most ``cap``."""
    below = (cap + step // 2) // step * step - step // 2
    return below if below > 0 else 0


def group_sizes(counts: pl.DataFrame) -> dict[str, int]:
    """Patients per group of an :func:`cohort.survival.event_counts` table, in its order."""
    sizes = counts.group_by("group", maintain_order=True).agg(n=pl.col("n_exit").sum())
    return dict(sizes.iter_rows())


def small_groups(counts: pl.DataFrame, min_cell: int | None) -> list[str]:
    """The groups of an event-counts table with fewer than ``min_cell`` patients (not drawn)."""
    if not min_cell:
        return []
    return [g for g, n in group_sizes(counts).items() if n < min_cell]


def rounded_size(n: int, min_cell: int | None) -> int:
    """A group's size as its rounded curve starts (at risk at time 0): ``n`` without a
    threshold, :func:`roundmid_to` under one."""
    return roundmid_to(n, min_cell) if min_cell else n


def _rounded_sums(steps: Sequence[Sequence[int]], size: int, min_cell: int) -> list[list[int]]:
    """The cumulative sums of each kind of exit in ``steps`` (in priority order: events first,
    censorings last) rounded by :func:`roundmid_to`, each capped so that all kinds together
    never pass the rounded ``size``: a kind's cap is what the rounded totals of the kinds
    before it leave, lowered to a rounded value. The last kind (censorings) takes up, at the
    last time, what is left of ``size``, so that every patient of the rounded size exits."""
    room, sums = size, []
    for kind in steps:
        cap = rounded_values_below(room, min_cell)
        total, rounded = 0, []
        for n in kind:
            total += n
            rounded.append(min(roundmid_to(total, min_cell), cap))
        sums.append(rounded)
        room -= rounded[-1] if rounded else 0
    if sums and sums[-1]:
        sums[-1][-1] += room
    return sums


def round_event_counts(counts: pl.DataFrame, min_cell: int | None, competing: bool = False
                       ) -> pl.DataFrame:
    """An :func:`cohort.survival.event_counts` table rounded as OpenSAFELY's ``round_km``
    (module docstring, rule 5): per group, cumulative events and cumulative censorings
    rounded by :func:`roundmid_to`, then the counts at each time their steps; with
    ``competing`` the competing events are a third rounded sum (for Aalen-Johansen), without
    it they count as censorings (Kaplan-Meier). Each group's exits add up to its rounded size
    (:func:`rounded_size`), so the number at risk ``n_risk`` derived from them (rounded size
    minus rounded exits before) is OpenSAFELY's ``n.risk``; rounded sums that would pass the
    rounded size are capped at the largest rounded value that fits (the number at risk never
    goes below 0), and the censorings at the group's last time take up what the rounded
    sums leave of it. Times where no rounded sum steps are dropped; groups under
    ``min_cell`` patients are dropped. Unchanged without a threshold."""
    if not min_cell:
        return counts
    small = small_groups(counts, min_cell)
    parts = []
    for part in counts.filter(~pl.col("group").is_in(small)).partition_by(
            "group", maintain_order=True):
        size = rounded_size(int(part["n_exit"].sum()), min_cell)
        kinds = (["n_event", "n_competing", "n_censor"] if competing
                 else ["n_event", "_other"])
        steps = part.with_columns(_other=pl.col("n_exit") - pl.col("n_event")).select(kinds)
        sums = _rounded_sums([steps[k].to_list() for k in kinds], size, min_cell)
        cumulative = pl.DataFrame(dict(zip(kinds, sums, strict=True)),
                                  schema=dict.fromkeys(kinds, pl.Int64))
        parts.append(part.select("group", "time").hstack(
            cumulative.select(pl.col(k).diff().fill_null(pl.col(k)) for k in kinds)))
    rounded = pl.concat(parts) if parts else pl.DataFrame(
        schema={"group": pl.String, "time": pl.Float64, "n_event": pl.Int64,
                "n_competing": pl.Int64, "n_censor": pl.Int64})
    if not competing and parts:
        rounded = rounded.rename({"_other": "n_censor"}).with_columns(
            n_competing=pl.lit(0, pl.Int64))
    exits = pl.col("n_event") + pl.col("n_competing") + pl.col("n_censor")
    return (rounded.filter(exits > 0)
            .select("group", "time", "n_event", "n_competing", "n_censor", n_exit=exits))
