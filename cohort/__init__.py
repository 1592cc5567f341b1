"""Oligomet Cohort Explorer: the domain layer (pure Python, no Streamlit)."""

__version__ = "0.1.0"
