"""How long the fuzzing suite runs, and the bound every single case must keep.

Two hypothesis profiles, chosen by ``PYMODULAR_FUZZ``:

- ``ci`` (the default, what ``make test`` runs): each test's own example count, sized
  so the whole of ``tests/fuzz`` takes about a minute on two xdist workers. Under
  ``CI=true`` the inputs are derandomized (the same commit draws the same cases), so a
  CI verdict is reproducible; elsewhere every run draws new ones.
- ``soak`` (``PYMODULAR_FUZZ=soak``, what ``make fuzz`` runs): 50 times as many
  examples (``PYMODULAR_FUZZ_SCALE`` overrides the factor), the same per-case bounds.

A case that hangs or blows up super-linearly must fail as itself, not stall the suite
until the per-test timeout: :func:`cpu_bound` interrupts a synchronous case once it has
used more than its share of CPU time (the process's, so other processes on a loaded
machine do not count), and the HTTP fuzzers bound every request with ``asyncio.timeout``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from hypothesis import HealthCheck, settings

__all__ = ("PROFILE", "SCALE", "CaseTooSlow", "cpu_bound", "fuzz")

PROFILE = os.environ.get("PYMODULAR_FUZZ", "ci")
if PROFILE not in ("ci", "soak"):
    raise RuntimeError(f"PYMODULAR_FUZZ={PROFILE!r}; expected 'ci' or 'soak'")
SCALE = int(os.environ.get("PYMODULAR_FUZZ_SCALE", "50" if PROFILE == "soak" else "1"))

# Data generation and each case's duration depend on the machine's load, never a
# verdict; the bounds below (CPU time per case, a timeout per request) are the verdict.
settings.register_profile(
    "fuzz-ci",
    derandomize=os.environ.get("CI", "").lower() == "true",
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
    print_blob=True,
)
settings.register_profile(
    "fuzz-soak",
    parent=settings.get_profile("fuzz-ci"),
    derandomize=False,
    print_blob=True,
    report_multiple_bugs=True,
)
_PARENT = settings.get_profile(f"fuzz-{PROFILE}")


def fuzz(examples: int) -> settings:
    """The settings of one fuzz test: ``examples`` cases under ``ci``, ``SCALE`` times as
    many under ``soak``."""
    return settings(_PARENT, max_examples=max(1, examples * SCALE))


class CaseTooSlow(BaseException):  # noqa: N818 - named for what the report should say
    """One case used more CPU than its bound: a hang or a super-linear blow-up.

    A ``BaseException`` so that code under test that catches ``Exception`` (and turns it
    into a classified error) cannot hide it.
    """


@contextmanager
def cpu_bound(seconds: float = 2.0) -> Iterator[None]:
    """Interrupt the block with :class:`CaseTooSlow` after ``seconds`` of CPU time.

    Not a performance figure (those are in ``make bench``): a guard against hangs, far
    above what any reasonable input takes. Uses ``ITIMER_VIRTUAL``, which pytest-timeout's
    wall-clock ``SIGALRM`` does not share; only in the main thread (where tests run).
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise CaseTooSlow(f"one case used more than {seconds} s of CPU time")

    previous = signal.signal(signal.SIGVTALRM, interrupt)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
