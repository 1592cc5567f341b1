"""The Published screen names its papers by citation (read off the papers), not by file name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cohort.calibration import papers
from tests.apptest import open_app

SEEDS = Path("/work/shared/seeds")
#: "Lee J, et al. Clin Colorectal Cancer 2021": first author, journal, year.
CITATION = re.compile(r"[A-Z][a-z]+ [A-Z]{1,2}, et al\. [A-Z][A-Za-z ]+ (19|20)\d\d\b.*")
EXPECTED = {
    "Lee 2009 liver SBRT phase 1": "Lee MT, et al. J Clin Oncol 2009;27:1585-91",
    "Pei 2019 liver IMRT series": "Pei S, et al. J Int Med Res 2019;48(4)",
    "Lee 2021 mCRC MRT group": "Lee J, et al. Clin Colorectal Cancer 2021",
    "Lee 2021 mCRC systemic-only registry": "Lee J, et al. Clin Colorectal Cancer 2021",
}


def test_every_paper_has_a_citation_and_those_printed_name_author_journal_year():
    table = papers()
    cited = dict(table.select("study", "citation").iter_rows())
    assert all(cited.values())
    for study, citation in EXPECTED.items():
        assert cited[study] == citation and CITATION.fullmatch(citation)
    for study in set(cited) - set(EXPECTED):  # the two stored papers print no authors
        assert "not in the stored paper" in cited[study]


def words(text: str) -> str:
    """Lower-case letters and digits only, hyphens closed up (the stored texts lost some
    punctuation and hyphens at line ends)."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("-", "")).strip()


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the shared seeds folder is not here")
def test_titles_and_dois_are_the_papers_own():
    for row in papers().iter_rows(named=True):
        text = words((SEEDS / row["source"]).read_text(encoding="utf-8"))
        for field in ("title", "doi"):
            assert words(row[field]) in text, (row["study"], field)
        cited = re.fullmatch(r"([A-Z][a-z]+) [A-Z]+, et al\. ([A-Za-z ]+) ((?:19|20)\d\d).*",
                             row["citation"])
        if cited:
            author, journal, year = cited.groups()
            assert f"{words(author)} et al" in text or words(author) in text[:2000]
            assert year in text and _journal_in(journal, text), row["citation"]


def _journal_in(abbreviation: str, text: str) -> bool:
    """The journal, as abbreviated or written out ('Clin Colorectal Cancer': 'clinical
    colorectal cancer')."""
    return words(abbreviation) in text or all(
        re.search(rf"\b{word}", text) for word in words(abbreviation).split())


def test_the_published_screen_shows_citations_not_file_names():
    at = open_app("pages/published.py")
    figures = next(d.value for d in at.dataframe if "figure" in d.value.columns)
    assert "source" not in figures.columns
    assert set(figures["citation"]) == set(papers()["citation"])
    shown = " ".join(str(v) for d in at.dataframe for v in d.value.to_numpy().ravel())
    assert ".txt" not in shown
    listed = next(d.value for d in at.dataframe if "title" in d.value.columns)
    assert "Lee J, et al. Clin Colorectal Cancer 2021" in set(listed["citation"])
