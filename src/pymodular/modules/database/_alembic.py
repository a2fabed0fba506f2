"""Alembic's side of the migrations: the ``env.py`` pymodular writes, the directory it
creates, and small text helpers. Alembic is imported only inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymodular.errors import error_text
from pymodular.modules.database.errors import MigrationError

__all__ = (
    "ENV_PY",
    "MAX_MESSAGE",
    "as_tuple",
    "driver_text",
    "initialise",
    "message_problem",
    "run_environment",
)

ENV_PY = '''"""Alembic environment of a pymodular application (written by `pymodular db revision`).

`pymodular db ...` and the database module's start run the migrations on the
application's own connection; this file hands that connection to Alembic. Edit it as
Alembic's documentation describes; keep the connection it is given.
"""

from alembic import context

from pymodular.modules.database import Migrations

Migrations.run_environment(context)
'''


def initialise(directory: Path) -> bool:
    """Create ``directory`` with ``env.py``, ``script.py.mako`` and ``versions/`` where
    missing; return whether anything was written."""
    import alembic

    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    wanted = {
        directory / "env.py": ENV_PY,
        directory / "script.py.mako": template.read_text(encoding="utf-8"),
    }
    wrote = False
    (directory / "versions").mkdir(parents=True, exist_ok=True)
    for path, text in wanted.items():
        if not path.exists():
            path.write_text(text, encoding="utf-8")
            wrote = True
    return wrote


def run_environment(context: Any) -> None:
    """Body of the written ``env.py``: migrate on the connection the caller handed over."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise MigrationError(
            "this env.py runs inside `pymodular db ...` or the database module's start, "
            "which hand it the application's connection; plain `alembic` has none",
            reason="invalid",
        )
    context.configure(
        connection=connection,
        target_metadata=config.attributes.get("target_metadata"),
        version_table=config.attributes.get("version_table", "alembic_version"),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


MAX_MESSAGE = 200


def message_problem(message: str) -> str | None:
    """Why ``message`` cannot name a revision, or ``None`` when it can."""
    if not message.strip():
        return "the revision message is empty"
    if len(message) > MAX_MESSAGE:
        return f"the revision message has {len(message)} characters; at most {MAX_MESSAGE}"
    if not message.isprintable() or '"""' in message or "\\" in message:
        return (
            "the revision message must be one line of printable text without "
            "backslashes or '\"\"\"' (it becomes the script's docstring)"
        )
    return None


def driver_text(exc: BaseException) -> str:
    """The driver's own error under SQLAlchemy's wrapper, on one line (no SQL, no parameters)."""
    orig = getattr(exc, "orig", None)
    shown = orig if isinstance(orig, BaseException) else exc
    return " ".join(error_text(shown).split())


def as_tuple(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)
