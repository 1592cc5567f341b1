"""Text from a file or a link is shown as text: never a link, an image, markup or a crash.

Values are escaped for Streamlit's markdown (ui.text.literal_markdown), for plotly's tags
(cohort.figures.safe_text.safe_figure), for HTML in the report and kept plain in .xlsx exports;
link values outside a widget's range or options are ignored with a notice, never clamped.
"""

from __future__ import annotations

import io
import re
import zipfile

import plotly.graph_objects as go
import polars as pl
import pytest

from cohort.analysis import SurvivalRequest, analyse_survival
from cohort.export import safe_xlsx
from cohort.figures.km import km_figure
from cohort.figures.safe_text import safe_figure, safe_text
from cohort.report import ReportContent, build_report
from tests.apptest import as_read, metric, open_app
from ui.text import literal_markdown

EVIL_LINK = '<a href="https://evil.example/x">click</a>'
EVIL_MARKDOWN = "[Session expired - sign in again](https://evil.example/login)"
EVIL_IMAGE = "![x](http://127.0.0.3/a.png)"
BARE_URL = "https://evil.example/fixed-template"
DIRECTIVE = ":red[urgent] :material/warning:"
PUNCTUATION = r"[!-/:-@\[-`{-~]"
HOSTILE = (EVIL_LINK, EVIL_MARKDOWN, EVIL_IMAGE, BARE_URL, DIRECTIVE, "user@evil.example")


def markdown_shown(at) -> list[str]:
    """Every markdown source on screen: titles, headers, text, captions and notices."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "warning", "info", "error",
             "success")
    return [str(element.value) for kind in kinds for element in at.get(kind)]


def assert_no_live_markup(texts: list[str]) -> None:
    for text in texts:
        for hostile in HOSTILE:
            assert hostile not in text, text


@pytest.mark.parametrize("hostile", HOSTILE)
def test_literal_markdown_escapes_links_images_autolinks_and_directives(hostile: str):
    escaped = literal_markdown(f"before {hostile}\n\n# after")
    assert hostile not in escaped and "\n" not in escaped
    assert as_read(escaped) == f"before {hostile} # after"
    unescaped = re.sub(rf"\\{PUNCTUATION}", "", escaped)
    assert not re.search(PUNCTUATION, unescaped)  # every punctuation character escaped


def test_safe_figure_escapes_tags_from_data_and_keeps_the_builders_formatting():
    assert safe_text(f"<b>n</b><br>{EVIL_LINK}<sup>1</sup>") == (
        '<b>n</b><br>&lt;a href="https://evil.example/x">click&lt;/a><sup>1</sup>')
    assert safe_text(safe_text(EVIL_LINK)) == safe_text(EVIL_LINK)  # idempotent
    patients = pl.DataFrame({
        "os_months": [float(m) for m in range(1, 41)], "os_event": [1, 0] * 20,
        "histology": [EVIL_LINK, '<span style="background:url(http://127.0.0.3/t)">x</span>'] * 20,
    })
    result = analyse_survival(patients, SurvivalRequest("os_months", "os_event", by="histology"))
    figure = km_figure(result.km, median_table=result.medians, logrank=result.logrank,
                       title="by histology")
    shown = safe_figure(figure).to_json().replace("\\u003c", "<")
    assert "<a " not in shown and "<span style=\\\"background" not in shown
    assert "&lt;a href" in shown and '<span style=\\"color:' in shown  # tick labels keep colour


def test_the_report_carries_no_markup_from_the_data():
    figure = go.Figure(go.Bar(x=[EVIL_LINK, "B"], y=[1, 2], name=EVIL_IMAGE))
    content = ReportContent(
        title=f"Survival: {EVIL_LINK}", cohort=EVIL_MARKDOWN, filters=EVIL_LINK,
        provenance=f"Uploaded file {EVIL_LINK}.csv", figures=[(EVIL_LINK, figure)],
        tables=[(EVIL_LINK, pl.DataFrame({EVIL_LINK: [EVIL_LINK], "n": [1]}))],
        methods=[EVIL_LINK], link="http://127.0.0.1:8501/?ds=veterans")
    report = build_report(content)
    assert "evil.example" in report  # the values are there, as text
    assert '<a href="https://evil' not in report and "<a href=\\\"https://evil" not in report
    outside_scripts = re.sub(r"<script.*?</script>", "", report, flags=re.DOTALL)
    assert outside_scripts.count("<a ") == 1  # the link back to the view, which the app wrote


def test_xlsx_cells_are_never_live_hyperlinks():
    values = ["http://evil.example", "mailto:x@evil.example", "external:c:\\x.xlsx", "=1+1"]
    workbook = zipfile.ZipFile(io.BytesIO(safe_xlsx(pl.DataFrame({"term": values}))))
    parts = "".join(workbook.read(name).decode() for name in workbook.namelist())
    assert "hyperlink" not in parts and "TargetMode=\"External\"" not in parts
    read = pl.read_excel(io.BytesIO(safe_xlsx(pl.DataFrame({"term": values}))))
    assert read["term"].to_list() == [*values[:3], "'=1+1"]


def test_crafted_link_names_and_values_are_shown_as_text():
    at = open_app(**{EVIL_MARKDOWN: "1", "ds": EVIL_IMAGE, "f.histology": BARE_URL})
    shown = markdown_shown(at)
    assert_no_live_markup(shown)
    notices = as_read(" ".join(shown))
    assert EVIL_MARKDOWN in notices and EVIL_IMAGE in notices  # said, as text


def test_a_crafted_file_name_in_a_link_is_shown_as_text():
    at = open_app(**{"ds": "uploaded", "file": BARE_URL})
    assert_no_live_markup(markdown_shown(at))
    assert any(BARE_URL in as_read(i.value) for i in at.info)


def hostile_upload() -> bytes:
    rows = [f"p{i},{1 + i},{i % 2},{HOSTILE[i % 3]},{['x', EVIL_MARKDOWN][i % 2]}" for i in range(30)]
    header = f"patient_id,os_months,os_event,histology,\"{EVIL_IMAGE}\""
    return "\n".join([header, *(r.replace(",<a", ',"<a').replace("</a>", '</a>"')
                                if "<a" in r else r for r in rows)]).encode()


def test_values_and_column_names_from_an_upload_are_shown_as_text():
    from tests.apptest import load_on_data_page

    at = load_on_data_page(open_app(), f"{EVIL_LINK}.csv", hostile_upload())
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.switch_page("pages/survival.py").run()
    at.selectbox(key="surv.by").set_value("histology").run()
    assert not at.exception
    assert_no_live_markup(markdown_shown(at))
    labels = [w.label for w in [*at.selectbox, *at.multiselect, *at.slider]]
    assert_no_live_markup(labels)


@pytest.mark.parametrize("params, notice", [
    ({"present": "1", "slide": "²"}, "slide"),
    ({"present": "1", "slide": "99"}, "slide"),
    ({"f.rt_total_dose_gy": "-50~-10"}, "Total dose"),
    ({"f.rt_total_dose_gy": "60~20"}, "Total dose"),
    ({"f.rt_fractions": "1.5~3"}, "Fractions"),
    ({"ds": ["veterans", "gbsg2"]}, "Dataset"),
    ({"format": ["png", "svg"]}, "Figure camera"),
])
def test_link_values_outside_the_widget_are_ignored_with_a_notice(params: dict, notice: str):
    at = open_app(**params)
    assert not at.exception
    notices = as_read(" ".join(str(w.value) for w in at.warning))
    assert notice in notices and "Ignored" in notices
    assert metric(at, "Patients in cohort") == "4,299"  # the default view, nothing clamped


WEIRD = ["²", "-1e309~1e309", "nan~nan", "inf", "\x00", "~", "0~0~0", "", "x" * 5000, "١٢"]
PARAMS = ["ds", "file", "present", "slide", "format", "f.rt_total_dose_gy", "f.histology",
          "m.histology", "more", "survival.by", "survival.cut", "survival.landmarks",
          "survival.tau", "survival.ci", "cox.covariates", "cox.ref.histology", "dose.ab",
          "toxicity.top", "cohort.by"]


@pytest.mark.parametrize("screen", ["pages/survival.py", "pages/cox.py", "pages/dose.py",
                                    "pages/toxicity.py", "pages/cohort.py"])
def test_nothing_in_a_link_raises(screen: str):
    at = open_app(screen, **{name: list(WEIRD) for name in PARAMS})
    assert not at.exception
    at = open_app(screen, **{name: WEIRD[i % len(WEIRD)] for i, name in enumerate(PARAMS)})
    assert not at.exception
