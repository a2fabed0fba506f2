"""`pymodular db`: Alembic migrations of an application's database module, on SQLite."""

from __future__ import annotations

import json
import socket

from pymodular.cli import ExitCode
from tests.cli.conftest import Project, Run, one_line

SHOP = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pymodular import Application
from pymodular.config.feeders import DictFeeder
from pymodular.modules.database import DatabaseModule


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


DATABASE = {{"default": {{"dsn": "{dsn}", "migrations": {{"directory": "migrations"}}}},
            "bare": {{"dsn": "sqlite:///bare.db"}}}}


def create_app():
    return Application([DatabaseModule(metadata=Base.metadata)],
                       feeders=[DictFeeder({{"database": DATABASE}})])
"""


def shop(project: Project, dsn: str = "sqlite:///shop.db") -> None:
    project.write("shop.py", SHOP.format(dsn=dsn))


def test_a_revision_is_generated_applied_listed_and_undone(project: Project, run_cli: Run) -> None:
    shop(project)
    made = run_cli("db", "revision", "shop", "-m", "create items", "--autogenerate")
    assert made.code == ExitCode.OK, made.err
    assert "wrote" in made.out
    assert (project.root / "migrations" / "env.py").is_file()
    [script] = (project.root / "migrations" / "versions").glob("*_create_items.py")
    assert "op.create_table('items'" in script.read_text(encoding="utf-8")
    revision = script.name.split("_")[0]

    pending = run_cli("db", "current", "shop", "--format", "json")
    assert json.loads(pending.out)["standing"] == "pending"
    upgraded = run_cli("db", "upgrade", "shop")
    assert one_line(upgraded.out) == (f"connection 'default': upgraded from base to {revision}")
    again = run_cli("db", "upgrade", "shop")
    assert one_line(again.out) == f"connection 'default': nothing to do, at {revision}"
    current = run_cli("db", "current", "shop")
    assert one_line(current.out) == (
        f"connection 'default': at {revision} (current: at {revision})"
    )
    history = run_cli("db", "history", "shop", "--format", "json")
    [row] = json.loads(history.out)["revisions"]
    assert (row["revision"], row["head"], row["current"], row["message"]) == (
        revision,
        True,
        True,
        "create items",
    )
    down = run_cli("db", "downgrade", "shop", "base")
    assert one_line(down.out) == f"connection 'default': downgraded from {revision} to base"


def test_mistakes_exit_with_the_documented_codes_and_one_line(
    project: Project, run_cli: Run
) -> None:
    shop(project)
    unknown = run_cli("db", "current", "shop", "--connection", "nope")
    assert unknown.code == ExitCode.USAGE
    assert one_line(unknown.err) == (
        "pymodular: error: no database connection named 'nope' (configured: default, bare)"
    )
    bare = run_cli("db", "upgrade", "shop", "-c", "bare")
    assert bare.code == ExitCode.USAGE
    assert "has no migrations: set database.bare.migrations.directory" in one_line(bare.err)
    no_scripts = run_cli("db", "history", "shop")
    assert no_scripts.code == ExitCode.USAGE
    assert "create the first with `pymodular db revision`" in one_line(no_scripts.err)
    both = run_cli("db", "revision", "shop", "-m", "x", "--merge", "--autogenerate")
    assert both.code == ExitCode.USAGE
    project.write("plain.py", "from pymodular import Application\napp = Application()\n")
    plain = run_cli("db", "current", "plain")
    assert plain.code == ExitCode.TARGET
    assert one_line(plain.err) == "pymodular: error: the application has no database module"
    missing_message = run_cli("db", "revision", "shop")
    assert missing_message.code == ExitCode.USAGE


def test_a_failing_migration_exits_1_and_keeps_the_database_where_it_was(
    project: Project, run_cli: Run
) -> None:
    shop(project)
    assert run_cli("db", "revision", "shop", "-m", "first").code == ExitCode.OK
    assert run_cli("db", "upgrade", "shop").code == ExitCode.OK
    broken = run_cli("db", "revision", "shop", "-m", "broken")
    [script] = (project.root / "migrations" / "versions").glob("*_broken.py")
    source = script.read_text(encoding="utf-8")
    script.write_text(
        source.replace(
            '"""Upgrade schema."""\n    pass',
            '"""Upgrade schema."""\n    op.execute("SELECT * FROM no_such_table")',
        ),
        encoding="utf-8",
    )
    assert broken.code == ExitCode.OK
    failed = run_cli("db", "upgrade", "shop")
    assert failed.code == ExitCode.FAILED
    line = one_line(failed.err)
    assert "failed: OperationalError" in line
    assert "no such table: no_such_table" in line
    current = run_cli("db", "current", "shop", "--format", "json")
    assert json.loads(current.out)["standing"] == "pending"


def test_an_unreachable_database_is_one_line_without_the_password(
    project: Project, run_cli: Run
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password = "Pw-cli-4f1e9a77-zebra"
    shop(project, f"postgresql://app:{password}@127.0.0.1:{port}/shop")
    (project.root / "migrations" / "versions").mkdir(parents=True)
    (project.root / "migrations" / "script.py.mako").write_text("", encoding="utf-8")
    result = run_cli("db", "current", "shop")
    assert result.code == ExitCode.FAILED
    line = one_line(result.err)
    assert "unavailable while migrating" in line
    assert password not in result.err + result.out


def test_hostile_messages_and_revisions_are_refused_without_touching_anything(
    project: Project, run_cli: Run
) -> None:
    shop(project)
    for message in ['ends """ the docstring', "two\nlines", "x" * 201, "back\\slash", "  "]:
        result = run_cli("db", "revision", "shop", "-m", message)
        assert result.code == ExitCode.USAGE, message
        assert "revision message" in one_line(result.err)
    assert not (project.root / "migrations" / "versions").exists() or not list(
        (project.root / "migrations" / "versions").glob("*.py")
    )
    made = run_cli("db", "revision", "shop", "-m", "../../outside the tree")
    assert made.code == ExitCode.OK
    [script] = (project.root / "migrations" / "versions").glob("*.py")
    assert script.name.endswith("_outside_the_tree.py")  # the file name is a slug
    for revision in ["'; DROP TABLE items; --", "../../etc/passwd", "nope"]:
        refused = run_cli("db", "upgrade", "shop", revision)
        assert refused.code == ExitCode.FAILED
        assert "Can't locate revision" in one_line(refused.err)


def test_current_exits_pending_and_names_the_revisions_a_deploy_would_apply(
    project: Project, run_cli: Run
) -> None:
    shop(project)
    assert run_cli("db", "revision", "shop", "-m", "first").code == ExitCode.OK
    [first] = (project.root / "migrations" / "versions").glob("*_first.py")
    assert run_cli("db", "upgrade", "shop").code == ExitCode.OK
    assert run_cli("db", "current", "shop").code == ExitCode.OK
    assert run_cli("db", "revision", "shop", "-m", "second").code == ExitCode.OK
    assert run_cli("db", "revision", "shop", "-m", "third").code == ExitCode.OK
    versions = project.root / "migrations" / "versions"
    [second] = versions.glob("*_second.py")
    [third] = versions.glob("*_third.py")
    at, two, three = (path.name.split("_")[0] for path in (first, second, third))

    pending = run_cli("db", "current", "shop")
    assert pending.code == ExitCode.PENDING
    assert pending.code not in (ExitCode.OK, ExitCode.FAILED)
    assert one_line(pending.out) == (
        f"connection 'default': at {at} (pending: the database is at {at}; the scripts' "
        f"head is {three}); pending: {two}, {three}"
    )
    as_json = run_cli("db", "current", "shop", "--format", "json")
    assert as_json.code == ExitCode.PENDING
    report = json.loads(as_json.out)
    assert (report["standing"], report["current"], report["pending"]) == (
        "pending",
        [at],
        [two, three],
    )

    assert run_cli("db", "upgrade", "shop").code == ExitCode.OK
    done = run_cli("db", "current", "shop", "--format", "json")
    assert done.code == ExitCode.OK
    assert json.loads(done.out)["pending"] == []

    third.unlink()  # the database is now at a revision the scripts do not contain
    diverged = run_cli("db", "current", "shop")
    assert diverged.code == ExitCode.FAILED
    assert f"diverged: the database is at revision {three}" in one_line(diverged.out)
