"""Plotly figure builders: data in, ``go.Figure`` out (no Streamlit).

pandas is imported here, completely, before any builder runs: plotly looks pandas up in
``sys.modules`` without the import lock, so while one server thread is still importing it
another can see a half-initialised module and fail (AttributeError on ``pd.Series``; seen with
20 concurrent first sessions). Importing it with this package makes every thread that builds a
figure wait for the import to finish.

The figures' templates are registered here too (:mod:`cohort.figures.templates`).
"""

import pandas  # noqa: F401

from cohort.figures import templates

templates.register()
