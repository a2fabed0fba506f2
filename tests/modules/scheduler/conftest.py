"""The conformance suite's ``make_store`` (every store engine) for the restart tests."""

from tests.conformance.scheduler.conftest import make_store

__all__ = ("make_store",)
