"""What clients send and get back."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = ("Activity", "ActivityPage", "Digest", "Task", "TaskIn", "TaskPage", "TaskPatch", "Token")

Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9-]*$")
]
Status = Literal["open", "done"]


class TaskIn(BaseModel):
    """A task as a client creates or replaces it (``schemas/task.json`` checks it first)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="What is to be done")
    notes: str = Field("", max_length=10_000, description="Anything else worth knowing")
    tags: list[Tag] = Field(default_factory=list, max_length=10, description="Lower-case labels")
    status: Status = Field("open", description="open or done")
    due: dt.datetime | None = Field(None, description="When it is due (RFC 3339, with a zone)")


class TaskPatch(BaseModel):
    """A partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)
    notes: str | None = Field(None, max_length=10_000)
    tags: list[Tag] | None = Field(None, max_length=10)
    status: Status | None = None
    due: dt.datetime | None = None


class Task(TaskIn):
    """A stored task."""

    id: str
    version: int = Field(description="Grows by one with every change (also the ETag)")
    created_at: dt.datetime
    updated_at: dt.datetime


class TaskPage(BaseModel):
    """One page of tasks, newest first, and how many match in all."""

    items: list[Task]
    total: int


class Activity(BaseModel):
    """One change, as the event subscriber recorded it."""

    topic: str
    task_id: str
    title: str
    at: dt.datetime


class ActivityPage(BaseModel):
    """The newest changes first."""

    items: list[Activity]


class Digest(BaseModel):
    """A tenant's counts at one run of the digest job."""

    tick: dt.datetime
    open: int
    done: int
    overdue: int


class Token(BaseModel):
    """An access token for the caller, to send as ``Authorization: Bearer ...``."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
