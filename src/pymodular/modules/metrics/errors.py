"""Errors of the ``metrics`` module."""

from __future__ import annotations

from pymodular.errors import PymodularError

__all__ = ("MetricsError",)


class MetricsError(PymodularError, ValueError):
    """An instrument was declared or used wrongly (name clash, wrong number of labels)."""

    category = "metrics"
