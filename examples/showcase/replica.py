"""This process's name among the showcase's replicas."""

from __future__ import annotations

import os
import socket

__all__ = ("REPLICA",)

REPLICA = os.environ.get("SHOWCASE_REPLICA") or f"{socket.gethostname()}:{os.getpid()}"
"""``SHOWCASE_REPLICA`` when set (the replicas of ``make run-prod`` are r1, r2, r3), else
host:pid. Recorded with each activity and digest row, and sent as ``X-Replica``."""
