"""Datasets and transforms. Importing registers them."""
from . import transforms  # noqa: F401
