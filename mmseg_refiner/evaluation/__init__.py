"""Metrics. Importing registers them."""
from . import metrics  # noqa: F401
