"""The dose boxes computed on the server (cohort.figures.dose.box_statistics) are the boxes
plotly.js itself computes from the points, in Chromium, with the plotly.js the app sends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly
import polars as pl
import pytest
from playwright.sync_api import Browser

from cohort.figures.dose import box_statistics

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_BOX = """values => {
    const div = document.getElementById('plot');
    return Plotly.newPlot(div, [{type: 'box', x: values, orientation: 'h'}]).then(() => {
        const box = div.calcdata[0][0];
        return [box.q1, box.med, box.q3, box.lf, box.uf];
    });
}"""


def samples() -> dict[str, list[float]]:
    rng = np.random.default_rng(17)
    return {"normal 1001": rng.normal(60, 10, 1001).tolist(),
            "exponential 10": rng.exponential(20, 10).tolist(), "one value": [42.0],
            "two values": [30.0, 50.0], "ties and outliers": [5.0, *[54.0] * 9, 60.0, 130.0],
            "doses 6": [30.0, 45.0, 45.0, 50.0, 54.0, 60.0]}


@pytest.fixture(scope="module")
def plotly_page(browser: Browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<div id='plot' style='width:600px;height:300px'></div>")
    page.add_script_tag(path=str(PLOTLY_JS))
    yield page
    context.close()


@pytest.mark.parametrize("name", list(samples()))
def test_box_statistics_equal_plotly_js(plotly_page, name):
    values = samples()[name]
    ours = box_statistics(pl.DataFrame({"group": ["g"] * len(values), "value": values}))
    row = ours.row(0, named=True)
    drawn = plotly_page.evaluate(PLOTLY_BOX, values)
    assert [row["q1"], row["median"], row["q3"], row["lowerfence"], row["upperfence"]] == drawn
