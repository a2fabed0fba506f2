"""The notes store: validation models and an in-memory store with versions and a file."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ("Note", "NoteIn", "NotePatch", "NoteStore", "StoreFullError")

Tag = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^\S(?:.*\S)?$")]
"""1-32 characters, no space at either end."""


def _tags(value: list[str] | None) -> list[str] | None:
    """Tags in lower case, each once."""
    if value is None:
        return None
    return list(dict.fromkeys(tag.lower() for tag in value))


class NoteIn(BaseModel):
    """What a client sends to create or replace a note."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=10)

    _clean_tags = field_validator("tags")(_tags)


class NotePatch(BaseModel):
    """A partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)
    body: str | None = Field(None, max_length=10_000)
    tags: list[Tag] | None = Field(None, max_length=10)

    _clean_tags = field_validator("tags")(_tags)


class Note(NoteIn):
    """A stored note."""

    id: str
    version: int
    created_at: datetime
    updated_at: datetime


class StoreFullError(Exception):
    """The store holds ``max_notes`` notes already."""


class NoteStore:
    """Notes in memory, optionally saved to a JSON file (atomically, on ``save``).

    Every change bumps ``revision``; :meth:`wait_for_change` lets a request wait for
    the next one (long polling).
    """

    def __init__(self, *, max_notes: int = 10_000, data_file: Path | None = None) -> None:
        self.max_notes = max_notes
        self.data_file = data_file
        self.notes: dict[str, Note] = {}
        self.revision = 0
        self.changes: list[tuple[int, str]] = []
        self._changed = asyncio.Condition()

    def load(self) -> int:
        """Read the data file if it exists; return how many notes it held."""
        if self.data_file is None or not self.data_file.exists():
            return 0
        raw = json.loads(self.data_file.read_text(encoding="utf-8"))
        self.notes = {n["id"]: Note.model_validate(n) for n in raw["notes"]}
        self.revision = int(raw.get("revision", 0))
        return len(self.notes)

    def save(self) -> None:
        """Write every note to the data file (write a temporary file, then rename)."""
        if self.data_file is None:
            return
        payload = {
            "revision": self.revision,
            "notes": [n.model_dump(mode="json") for n in self.notes.values()],
        }
        temporary = self.data_file.with_suffix(self.data_file.suffix + ".tmp")
        temporary.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(temporary, self.data_file)

    def page(self, *, tag: str | None, limit: int, offset: int) -> tuple[list[Note], int]:
        """Notes (oldest first), optionally with ``tag``; and how many match in all."""
        found = [n for n in self.notes.values() if tag is None or tag in n.tags]
        return found[offset : offset + limit], len(found)

    def get(self, note_id: str) -> Note | None:
        """The note, or None."""
        return self.notes.get(note_id)

    async def create(self, data: NoteIn) -> Note:
        """Store a new note."""
        if len(self.notes) >= self.max_notes:
            raise StoreFullError(f"the store is full ({self.max_notes} notes)")
        now = datetime.now(UTC)
        note = Note(
            id=uuid.uuid4().hex, version=1, created_at=now, updated_at=now, **data.model_dump()
        )
        self.notes[note.id] = note
        await self._bump(note.id)
        return note

    async def update(self, note: Note, changes: dict[str, Any]) -> Note:
        """Apply ``changes`` to ``note`` and bump its version."""
        updated = note.model_copy(
            update={**changes, "version": note.version + 1, "updated_at": datetime.now(UTC)}
        )
        self.notes[note.id] = updated
        await self._bump(note.id)
        return updated

    async def delete(self, note_id: str) -> None:
        """Remove a note."""
        del self.notes[note_id]
        await self._bump(note_id)

    async def _bump(self, note_id: str) -> None:
        async with self._changed:
            self.revision += 1
            self.changes.append((self.revision, note_id))
            del self.changes[:-1000]
            self._changed.notify_all()

    async def wait_for_change(self, after: int, timeout: float) -> list[str]:
        """Ids changed after revision ``after``, waiting up to ``timeout`` for one."""
        async with self._changed:
            if self.revision <= after:
                try:
                    async with asyncio.timeout(timeout):
                        await self._changed.wait_for(lambda: self.revision > after)
                except TimeoutError:
                    return []
            return list(dict.fromkeys(i for r, i in self.changes if r > after))
