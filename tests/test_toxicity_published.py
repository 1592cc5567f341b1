"""The published toxicity tables come out exactly from the app's own grade matrix.

For each demonstration study with a toxicity table in ``data/calibration/published_targets.yaml``
the study's patients of the bundled demo (``oligomet-demo``) go through
:func:`cohort.toxicity.grade_matrix`, the function the Toxicity screen shows, and every published
count must equal the matrix's count exactly, over a denominator of the study's patients: every
one was assessed for toxicity (``toxicity_assessed``), with or without a recorded event.
"""

from __future__ import annotations

import polars as pl
import pytest

from cohort.calibration import STUDY_NAMES, load_targets, study_blocks
from cohort.datasets import load_dataset
from cohort.toxicity import GradeMatrix, grade_matrix

STUDIES = load_targets()["studies"]


@pytest.fixture(scope="module")
def demo():
    return load_dataset("oligomet-demo")


def matrix(demo, block: str, phase: str | None) -> GradeMatrix:
    """The Toxicity screen's matrix with the sidebar filtered to the study ``block``."""
    patients = demo.patients.filter(pl.col("study") == STUDY_NAMES[block])
    result = grade_matrix(demo.toxicities, patients, phase=phase)
    assert result.denominator == STUDIES[block]["n_patients"] == patients.height
    return result


def count(result: GradeMatrix, term: str, column: str) -> int:
    """Patients with ``term`` in ``column`` (``grade_3``, ``any_grade``, ...); 0 if the term is
    not in the matrix at all (no patient has it)."""
    row = result.by_grade.filter(pl.col("term") == term)
    assert row.height <= 1
    return int(row[column][0]) if row.height else 0


def mismatches(result: GradeMatrix, expected: dict[tuple[str, str], int]) -> list[str]:
    return [f"{term} {column}: published {n}, matrix {count(result, term, column)}"
            for (term, column), n in expected.items() if count(result, term, column) != n]


def published_terms_present(result: GradeMatrix, expected: dict[tuple[str, str], int]) -> None:
    """Every term the paper counts patients for is spelt as in the data (a naming mismatch
    would otherwise pass as a 0 that matches a published 0)."""
    wanted = {term for (term, _), n in expected.items() if n > 0}
    missing = wanted - set(result.terms)
    assert not missing, f"published terms not in the matrix: {sorted(missing)}"


def check(result: GradeMatrix, expected: dict[tuple[str, str], int]) -> None:
    published_terms_present(result, expected)
    assert not mismatches(result, expected), mismatches(result, expected)


def test_denominators_are_the_assessed_patients(demo):
    """All patients of the five studies reporting toxicity are assessed, the registry is not;
    without the column only patients with a record would be (Kao: 16 of 21, too few)."""
    every = grade_matrix(demo.toxicities, demo.patients)
    assessed = sum(block["n_patients"] for key, block in study_blocks(load_targets())
                   if key != "lee_mrt_mcrc.systemic_only_group")
    assert (every.denominator, every.cohort_n) == (assessed, demo.patients.height) == (233, 4299)
    kao = demo.patients.filter(pl.col("study") == STUDY_NAMES["kao_sunitinib_igrt"])
    assert grade_matrix(demo.toxicities, kao.drop("toxicity_assessed")).denominator == 16


def test_kao_grade_3plus_patients_per_term_and_grade(demo):
    """Kao 2014 (sunitinib + IGRT): patients with a grade 3, 4 or 5 event per term, all
    phases (the grade-5 tracheal necrosis was late)."""
    spec = STUDIES["kao_sunitinib_igrt"]["toxicity_grade3plus_patients"]
    expected = {(t["term"], f"grade_{t['grade']}"): t["n"] for t in spec}
    check(matrix(demo, "kao_sunitinib_igrt", None), expected)


def test_pazopanib_all_grades_and_grade_3_4_per_term(demo):
    spec = STUDIES["pazopanib_srt_mrcc"]["toxicity"]
    result = matrix(demo, "pazopanib_srt_mrcc", None)
    expected = {(t["term"], "any_grade"): t["all"] for t in spec}
    check(result, expected)
    grade_3_4 = {t["term"]: count(result, t["term"], "grade_3") + count(result, t["term"], "grade_4")
                 for t in spec}
    assert grade_3_4 == {t["term"]: t["g3_4"] for t in spec}


def worst_grades(spec: list[dict]) -> dict[tuple[str, str], int]:
    return {(t["term"], f"grade_{g}"): t[f"g{g}"] for t in spec for g in (1, 2, 3, 4)}


def test_lee_liver_sbrt_acute_worst_grade_per_term(demo):
    """Lee 2009: worst grade within 3 months of SBRT (the acute phase)."""
    spec = STUDIES["lee_liver_sbrt_phase1"]["toxicity_worst_grade"]
    check(matrix(demo, "lee_liver_sbrt_phase1", "acute"), worst_grades(spec))


def test_lee_liver_sbrt_late_toxicities(demo):
    spec = STUDIES["lee_liver_sbrt_phase1"]["late_toxicity"]
    check(matrix(demo, "lee_liver_sbrt_phase1", "late"),
          {(t["term"], f"grade_{t['grade']}"): t["n"] for t in spec})


def test_pei_liver_imrt_worst_grade_per_term(demo):
    spec = STUDIES["pei_liver_imrt"]["toxicity_worst_grade"]
    check(matrix(demo, "pei_liver_imrt", None), worst_grades(spec))


def test_every_published_toxicity_table_is_checked():
    """A new toxicity table in the targets needs a test here."""
    checked = {("kao_sunitinib_igrt", "toxicity_grade3plus_patients"),
               ("pazopanib_srt_mrcc", "toxicity"),
               ("lee_liver_sbrt_phase1", "toxicity_worst_grade"),
               ("lee_liver_sbrt_phase1", "late_toxicity"),
               ("pei_liver_imrt", "toxicity_worst_grade")}
    tables = {(block, key) for block, spec in STUDIES.items() if isinstance(spec, dict)
              for key, value in spec.items()
              if "toxicity" in key and isinstance(value, list)}
    assert tables == checked
