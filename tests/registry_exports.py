"""Registry exports as a clinic makes them by hand: the bundled GBSG2 and Veterans' trials
re-expressed with dates (fixed random start dates; end = start + the trial's days; status as
text), written as .xlsx with dd.mm.yyyy text, CSV with ISO dates, and .xlsx with real date
cells or Excel serial numbers (1900 or 1904 date system). Shared by tests and the browser suite.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import polars as pl
import xlsxwriter

from cohort.datasets import _sksurv_frame

#: Excel's day 0 of serial dates, by date system (1900: valid from serial 61, 1900-03-01).
EXCEL_EPOCHS = {1900: dt.date(1899, 12, 30), 1904: dt.date(1904, 1, 1)}
FORMATS = ("xlsx-text", "csv-iso", "xlsx-cells", "xlsx-cells-1904", "xlsx-serial",
           "xlsx-serial-1904")


def _trial(loader_name: str) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """A bundled scikit-survival trial: covariates, event (bool) and time (whole days)."""
    import sksurv.datasets

    frame, event, days = _sksurv_frame(getattr(sksurv.datasets, loader_name))
    return frame, event.to_numpy().astype(bool), days.to_numpy().astype(int)


def _start_dates(n: int, seed: int) -> list[dt.date]:
    """Fixed random treatment start dates in 2004-2012."""
    offsets = np.random.default_rng(seed).integers(0, 9 * 365, n)
    return [dt.date(2004, 1, 1) + dt.timedelta(days=int(o)) for o in offsets]


def gbsg2_dates() -> tuple[pl.DataFrame, pl.DataFrame]:
    """GBSG2 as a registry export (Date columns: RT start, recurrence, last contact) and the
    trial's own days and recurrence-free event, for comparison."""
    frame, event, days = _trial("load_gbsg2")
    start = _start_dates(frame.height, seed=2)
    end = [s + dt.timedelta(days=int(d)) for s, d in zip(start, days, strict=True)]
    export = pl.DataFrame({
        "MRN": [f"G{i:05d}" for i in range(1, frame.height + 1)],
        "Age at diagnosis": frame["age"],
        "Arm": frame["horTh"].replace({"yes": "tamoxifen", "no": "none"}),
        "Menopausal status": frame["menostat"],
        "Tumour size (mm)": frame["tsize"],
        "Grade": frame["tgrade"],
        "Positive nodes": frame["pnodes"].cast(pl.Int64),
        "RT start": start,
        "Date of recurrence": [e if hit else None for e, hit in zip(end, event, strict=True)],
        "Date of last contact": end,
    })
    truth = pl.DataFrame({"days": days, "event": event.astype(int)})
    return export, truth


def veterans_dates() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The Veterans' trial as a registry export (treatment start, death or last contact,
    vital status dead/alive) and the trial's own days and death event."""
    frame, event, days = _trial("load_veterans_lung_cancer")
    start = _start_dates(frame.height, seed=7)
    export = pl.DataFrame({
        "Patient ID": [f"V{i:04d}" for i in range(1, frame.height + 1)],
        "Age": frame["Age_in_years"],
        "Cell type": frame["Celltype"],
        "Arm": frame["Treatment"],
        "Karnofsky": frame["Karnofsky_score"].cast(pl.Int64),
        "Prior therapy": frame["Prior_therapy"],
        "Treatment start": start,
        "Date of death or last contact": [s + dt.timedelta(days=int(d))
                                          for s, d in zip(start, days, strict=True)],
        "Vital status": ["dead" if e else "alive" for e in event],
    })
    truth = pl.DataFrame({"days": days, "event": event.astype(int)})
    return export, truth


def _date_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if t == pl.Date]


def _serial(day: dt.date, system: int) -> int:
    return (day - EXCEL_EPOCHS[system]).days


def _write_xlsx(frame: pl.DataFrame, dates: str, system: int = 1900) -> bytes:
    """``dates``: "text" (dd.mm.yyyy text cells), "cells" (date cells) or "serial" (numbers)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"date_1904": system == 1904})
    sheet = book.add_worksheet("Registry")
    date_format = book.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_row(0, 0, frame.columns)
    for c, column in enumerate(frame.columns):
        is_date = frame.schema[column] == pl.Date
        for r, value in enumerate(frame[column].to_list(), start=1):
            if value is None:
                continue
            if not is_date:
                sheet.write(r, c, value)
            elif dates == "text":
                sheet.write_string(r, c, value.strftime("%d.%m.%Y"))
            elif dates == "cells":
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            else:
                sheet.write_number(r, c, _serial(value, system))
    book.close()
    return buffer.getvalue()


def export_bytes(frame: pl.DataFrame, file_format: str) -> tuple[bytes, str]:
    """The export as file bytes and a file name, in one of ``FORMATS``."""
    if file_format == "csv-iso":
        return frame.write_csv().encode(), "registry.csv"
    dates, system = {"xlsx-text": ("text", 1900), "xlsx-cells": ("cells", 1900),
                     "xlsx-cells-1904": ("cells", 1904),
                     "xlsx-serial": ("serial", 1900),
                     "xlsx-serial-1904": ("serial", 1904)}[file_format]
    return _write_xlsx(frame, dates, system), "registry.xlsx"


def clinic_export() -> pl.DataFrame:
    """A small clinic registry export as the issue describes it: MRN, arm, sex, age at
    diagnosis, positive nodes with "unknown", dd.mm.yyyy text dates of treatment start,
    recurrence and death-or-last-contact, vital status dead/alive (every value as text)."""
    rng = np.random.default_rng(11)
    n = 60
    start = _start_dates(n, seed=3)
    follow = rng.integers(60, 2000, n)
    dead = rng.random(n) < 0.55
    recurred = rng.random(n) < 0.5
    recurrence = [s + dt.timedelta(days=int(f * rng.uniform(0.2, 0.9))) if hit else None
                  for s, f, hit in zip(start, follow, recurred, strict=True)]
    nodes = [str(int(v)) for v in rng.integers(0, 12, n)]
    for i in (4, 17, 33):
        nodes[i] = "unknown"
    text = lambda day: day.strftime("%d.%m.%Y") if day else None  # noqa: E731
    return pl.DataFrame({
        "MRN": [f"{100200 + 17 * i}" for i in range(n)],
        "Arm": ["SBRT + systemic" if i % 2 else "systemic alone" for i in range(n)],
        "Sex": ["F" if v else "M" for v in rng.random(n) < 0.45],
        "Age at diagnosis": [str(int(v)) for v in rng.integers(38, 84, n)],
        "Positive nodes": nodes,
        "Treatment start": [text(s) for s in start],
        "Recurrence date": [text(r) for r in recurrence],
        "Date of death or last contact": [text(s + dt.timedelta(days=int(f)))
                                          for s, f in zip(start, follow, strict=True)],
        "Vital status": ["dead" if d else "alive" for d in dead],
    })
