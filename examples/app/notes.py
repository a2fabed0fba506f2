"""The notes module: a small JSON API on the router, its store saved on stop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel

from examples.app.store import Note, NoteIn, NotePatch, NoteStore, StoreFullError
from pymodular import Dependency, Module
from pymodular.config import ConfigModel, field
from pymodular.errors import ConfigError
from pymodular.health import HealthResult
from pymodular.modules.router import (
    Header,
    HTTPException,
    Query,
    Response,
    RouteGroup,
    Router,
    problem,
)

__all__ = ("NotesConfig", "NotesModule")

MAX_WAIT = 30.0


class NotesConfig(ConfigModel):
    """The ``notes`` section."""

    data_file: str | None = field(None, description="JSON file the notes are kept in")
    max_notes: int = field(10_000, description="Most notes the store holds", ge=1)
    max_wait: float = field(
        MAX_WAIT, description="Longest wait of GET /notes/changes in seconds", gt=0, le=300
    )


class NotePage(BaseModel):
    """One page of notes and how many match in all."""

    items: list[Note]
    total: int


class Changes(BaseModel):
    """The store's revision and the ids of the notes changed since the one asked for."""

    revision: int
    changed: list[str]


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='"<version>" the note must be at, or *',
        pattern=r'^\s*(\*|"\d+")\s*$',
    ),
]


class NotesModule(Module[NotesConfig]):
    """CRUD for notes under ``/notes`` (below the router's base path).

    ``GET /notes`` (``?tag=&limit=&offset=``), ``POST /notes`` (201 + Location),
    ``GET|PUT|PATCH|DELETE /notes/{note_id}`` (``If-Match: "<version>"`` guards writes)
    and ``GET /notes/changes?after=<revision>&wait=<seconds>`` (long polling).
    """

    name = "notes"
    router = Dependency(Router)

    async def init(self, app: Any) -> None:
        path = Path(self.config.data_file) if self.config.data_file else None
        self.store = NoteStore(max_notes=self.config.max_notes, data_file=path)
        try:
            loaded = self.store.load()
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the notes file {path}: {exc}; fix or move it (it is left as is)",
                field="notes.data_file",
            ) from exc
        self.log.info("%d note(s) loaded", loaded)
        notes = self.router.group("/notes", name="notes")
        notes.get("")(self.list_notes)
        notes.post("", status_code=201, response_model=Note)(self.create_note)
        self._serve_changes(notes, self.config.max_wait)
        notes.get("/{note_id}", response_model=Note)(self.get_note)
        notes.put("/{note_id}", response_model=Note)(self.replace_note)
        notes.patch("/{note_id}", response_model=Note)(self.patch_note)
        notes.delete("/{note_id}")(self.delete_note)

    async def stop(self) -> None:
        if self.store.data_file is not None:
            self.store.save()
            self.log.info("%d note(s) saved to %s", len(self.store.notes), self.store.data_file)

    async def health_report(self) -> HealthResult:
        used = len(self.store.notes) / self.store.max_notes
        if used >= 0.9:
            return HealthResult.degraded(f"the store is {used:.0%} full")
        return HealthResult.healthy(f"{len(self.store.notes)} note(s)")

    # -- endpoints -----------------------------------------------------------------------

    async def list_notes(
        self,
        tag: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> NotePage:
        """List notes, oldest first, optionally those with a tag."""
        items, total = self.store.page(tag=tag, limit=limit, offset=offset)
        return NotePage(items=items, total=total)

    async def create_note(self, note: NoteIn) -> Response:
        """Create a note; its URL is in Location, its version in ETag."""
        try:
            created = await self.store.create(note)
        except StoreFullError as exc:
            return problem(507, str(exc))
        response = _note_response(created, status=201)
        response.headers["location"] = self.router.url_path_for("get_note", note_id=created.id)
        return response

    async def get_note(self, note_id: str) -> Response:
        """One note, with its version in ETag."""
        return _note_response(self._find(note_id))

    async def replace_note(self, note_id: str, note: NoteIn, if_match: IfMatch = None) -> Response:
        """Replace a note's fields (fields not given take their defaults)."""
        found = self._find(note_id)
        _check_version(if_match, found)
        return _note_response(await self.store.update(found, note.model_dump()))

    async def patch_note(
        self, note_id: str, patch: NotePatch, if_match: IfMatch = None
    ) -> Response:
        """Change only the fields given."""
        found = self._find(note_id)
        _check_version(if_match, found)
        changes = patch.model_dump(exclude_unset=True)
        if any(v is None for v in changes.values()):
            raise HTTPException(422, "fields cannot be set to null")
        return _note_response(await self.store.update(found, changes))

    async def delete_note(self, note_id: str, if_match: IfMatch = None) -> None:
        """Delete a note."""
        found = self._find(note_id)
        _check_version(if_match, found)
        await self.store.delete(found.id)

    def _serve_changes(self, notes: RouteGroup, max_wait: float) -> None:
        store = self.store

        @notes.get("/changes")
        async def changes(
            after: Annotated[int, Query(ge=0, le=10**12)] = 0,
            wait: Annotated[float, Query(ge=0, le=max_wait)] = 0.0,
        ) -> Changes:
            """Ids of the notes changed after a revision, waiting up to `wait` seconds for one."""
            changed = await store.wait_for_change(after, wait)
            return Changes(revision=store.revision, changed=changed)

    def _find(self, note_id: str) -> Note:
        note = self.store.get(note_id)
        if note is None:
            raise HTTPException(404, f"no note with id {note_id!r}")
        return note


def _note_response(note: Note, status: int = 200) -> Response:
    response = Response(note.model_dump_json(), status_code=status, media_type="application/json")
    response.headers["etag"] = f'"{note.version}"'
    return response


def _check_version(expected: str | None, note: Note) -> None:
    if expected is not None and expected.strip() not in ("*", f'"{note.version}"'):
        raise HTTPException(412, f"the note is at version {note.version}; reload it and try again")
