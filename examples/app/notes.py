"""The notes module: a small JSON API on the router, its store saved on stop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from examples.app.store import Note, NoteIn, NotePatch, NoteStore, StoreFullError
from pymodular import Dependency, Module
from pymodular.config import ConfigModel, field
from pymodular.errors import ConfigError
from pymodular.health import HealthResult
from pymodular.modules.router import HTTPException, Request, Response, Router, problem, read_json

__all__ = ("NotesConfig", "NotesModule")

MAX_WAIT = 30.0

N = TypeVar("N", int, float)


class NotesConfig(ConfigModel):
    """The ``notes`` section."""

    data_file: str | None = field(None, description="JSON file the notes are kept in")
    max_notes: int = field(10_000, description="Most notes the store holds", ge=1)


class NotesModule(Module[NotesConfig]):
    """CRUD for notes under ``/notes`` (below the router's base path).

    ``GET /notes`` (``?tag=&limit=&offset=``), ``POST /notes`` (201 + Location),
    ``GET|PUT|PATCH|DELETE /notes/{id}`` (``If-Match: "<version>"`` guards writes) and
    ``GET /notes/changes?after=<revision>&wait=<seconds>`` (long polling).
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
        notes.post("")(self.create_note)
        notes.get("/changes")(self.changes)
        notes.get("/{note_id}")(self.get_note)
        notes.put("/{note_id}")(self.replace_note)
        notes.patch("/{note_id}")(self.patch_note)
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

    async def list_notes(self, request: Request) -> dict[str, Any]:
        limit = _int_param(request, "limit", 50, 1, 500)
        offset = _int_param(request, "offset", 0, 0, 10**9)
        tag = request.query_params.get("tag")
        items, total = self.store.page(tag=tag, limit=limit, offset=offset)
        return {"items": [n.model_dump(mode="json") for n in items], "total": total}

    async def create_note(self, request: Request) -> Response:
        data = await read_json(request, NoteIn)
        try:
            note = await self.store.create(data)
        except StoreFullError as exc:
            return problem(507, str(exc))
        response = _note_response(note, status=201)
        response.headers["location"] = self.router.url_path_for("get_note", note_id=note.id)
        return response

    async def get_note(self, request: Request) -> Response:
        return _note_response(self._find(request))

    async def replace_note(self, request: Request) -> Response:
        note = self._find(request)
        _check_version(request, note)
        data = await read_json(request, NoteIn)
        return _note_response(await self.store.update(note, data.model_dump()))

    async def patch_note(self, request: Request) -> Response:
        note = self._find(request)
        _check_version(request, note)
        data = await read_json(request, NotePatch)
        changes = data.model_dump(exclude_unset=True)
        if any(v is None for v in changes.values()):
            raise HTTPException(422, "fields cannot be set to null")
        return _note_response(await self.store.update(note, changes))

    async def delete_note(self, request: Request) -> None:
        note = self._find(request)
        _check_version(request, note)
        await self.store.delete(note.id)

    async def changes(self, request: Request) -> dict[str, Any]:
        after = _int_param(request, "after", 0, 0, 10**12)
        wait = _float_param(request, "wait", 0.0, 0.0, MAX_WAIT)
        changed = await self.store.wait_for_change(after, wait)
        return {"revision": self.store.revision, "changed": changed}

    def _find(self, request: Request) -> Note:
        note = self.store.get(request.path_params["note_id"])
        if note is None:
            raise HTTPException(404, f"no note with id {request.path_params['note_id']!r}")
        return note


def _note_response(note: Note, status: int = 200) -> Response:
    response = Response(note.model_dump_json(), status_code=status, media_type="application/json")
    response.headers["etag"] = f'"{note.version}"'
    return response


def _check_version(request: Request, note: Note) -> None:
    expected = request.headers.get("if-match")
    if expected is not None and expected.strip() not in ("*", f'"{note.version}"'):
        raise HTTPException(412, f"the note is at version {note.version}; reload it and try again")


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    return _number_param(request, name, default, low, high, parse=int, kind="an integer")


def _float_param(request: Request, name: str, default: float, low: float, high: float) -> float:
    return _number_param(request, name, default, low, high, parse=float, kind="a number")


def _number_param(
    request: Request,
    name: str,
    default: N,
    low: N,
    high: N,
    *,
    parse: Callable[[str], N],
    kind: str,
) -> N:
    """Query parameter ``name`` parsed with ``parse`` and within ``[low, high]`` (else 400)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise HTTPException(400, f"query parameter {name!r} must be {kind}") from None
    if not low <= value <= high:
        span = f"{_shown(low)} and {_shown(high)}"
        raise HTTPException(400, f"query parameter {name!r} must be between {span}")
    return value


def _shown(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)
