"""The ``pymodular`` command and its subcommands (click definitions only).

Each command parses its options and hands over to a plain function in a sibling
module; heavy imports (pydantic, YAML, the user's application) happen inside those
functions, so ``pymodular --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pymodular._version import __version__
from pymodular.cli._errors import ExitCode
from pymodular.cli._main import State

__all__ = ("cli",)

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_TARGET_HELP = (
    "TARGET is 'package.module:attribute' (or 'path/to/file.py:attribute'); the attribute "
    "is an Application or a zero-argument callable returning one."
)

app_dir_option = click.option(
    "--app-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory put first on sys.path before importing TARGET (default: current directory).",
)


def _format_option(
    choices: tuple[str, ...], default: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format.",
    )


def _output_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-o/--output FILE`` and ``--force`` (the command then calls :func:`_emit`)."""
    output = click.option(
        "--output",
        "-o",
        type=click.Path(path_type=Path),  # a directory is refused by write_file (exit 4)
        help=f"Write {what} to this file instead of standard output.",
    )
    force = click.option("--force", is_flag=True, help="Overwrite --output if it exists.")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        return output(force(command))

    return decorate


def _python_version() -> str:
    import sys

    return sys.version.split()[0]


@click.group(context_settings=_CONTEXT)
@click.version_option(
    __version__,
    "-V",
    "--version",
    prog_name="pymodular",
    message=f"%(prog)s %(version)s (Python {_python_version()})",
)
@click.option(
    "--debug", is_flag=True, help="Show the full traceback of errors (also PYMODULAR_DEBUG=1)."
)
@click.pass_obj
def cli(state: State, debug: bool) -> None:
    """Scaffold, configure, inspect and run pymodular applications.

    Exit codes: 0 ok, 1 a check found problems (or the app failed), 2 usage error,
    3 TARGET could not be loaded, 4 file-system error, 5 migrations pending
    (`db current`), 130 interrupted.
    Shell completion: see `pymodular completion --help`.
    """
    state.debug = state.debug or debug


# -- new --------------------------------------------------------------------------------


@cli.group(context_settings=_CONTEXT)
def new() -> None:
    """Scaffold a module package or an application."""


_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Parent directory; the project is created in DIR/NAME.",
)
_force_option = click.option(
    "--force", is_flag=True, help="Write into an existing directory, replacing generated files."
)


@new.command("module", context_settings=_CONTEXT)
@click.argument("name")
@_dir_option
@_force_option
def new_module(name: str, directory: Path, force: bool) -> int:
    """Scaffold a module package NAME: config, module, service, health, README and tests.

    NAME is lower case: letters, digits, '-' and '_' (the Python package replaces '-' by
    '_'). The generated tests pass with pytest, and the code passes ruff and mypy --strict.
    """
    from pymodular.cli._scaffold import scaffold

    result = scaffold("module", name, directory, force=force)
    click.echo(result.summary())
    return ExitCode.OK


@new.command("app", context_settings=_CONTEXT)
@click.argument("name")
@_dir_option
@_force_option
def new_app(name: str, directory: Path, force: bool) -> int:
    """Scaffold an application NAME: modules list, config.yaml, .env example and a test.

    The application runs with one command: `python -m PACKAGE` from the project directory.
    """
    from pymodular.cli._scaffold import scaffold

    result = scaffold("app", name, directory, force=force)
    click.echo(result.summary())
    return ExitCode.OK


# -- config -----------------------------------------------------------------------------


@cli.group(context_settings=_CONTEXT)
def config() -> None:
    """Sample, describe and check configuration."""


@config.command("sample", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("targets", metavar="TARGET...", nargs=-1, required=True)
@_format_option(("yaml", "toml", "json"), "yaml")
@_output_options("the sample")
@app_dir_option
def config_sample(
    targets: tuple[str, ...], fmt: str, output: Path | None, force: bool, app_dir: Path | None
) -> int:
    """Write a sample configuration for TARGET: an application, modules or config models.

    Every field appears with its description and default (required fields are marked,
    secrets are never filled in). Several TARGETs are merged into one file.
    """
    from pymodular.cli._config import sample

    text = sample(list(targets), fmt, app_dir=app_dir)
    _emit(text, output, force)
    return ExitCode.OK


@config.command("describe", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("targets", metavar="TARGET...", nargs=-1, required=True)
@_format_option(("table", "json", "yaml"), "table")
@click.option("--env-prefix", default="", help="Prefix of the EnvFeeder, for variable names.")
@app_dir_option
def config_describe(
    targets: tuple[str, ...], fmt: str, env_prefix: str, app_dir: Path | None
) -> int:
    """List every configuration field of TARGET: type, default, flags, description, env names."""
    from pymodular.cli._config import describe

    click.echo(describe(list(targets), fmt, env_prefix=env_prefix, app_dir=app_dir))
    return ExitCode.OK


_URL_OPTION = click.option(
    "--url",
    help="Read a running process through its admin endpoints (http://host:port/_admin) "
    "instead of loading TARGET; the token comes from $PYMODULAR_ADMIN_TOKEN.",
)
_TOKEN_ENV_OPTION = click.option(
    "--token-env",
    default="PYMODULAR_ADMIN_TOKEN",
    show_default=True,
    help="Environment variable holding the admin token (with --url).",
)


def _target_or_url(target: str | None, url: str | None) -> str | None:
    if (target is None) == (url is None):
        raise click.UsageError("give TARGET or --url (one of them)")
    return target


@config.command("check", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_format_option(("table", "json", "yaml"), "table")
@click.option(
    "--allow-unknown",
    is_flag=True,
    help="Accept keys no module declares (listed, values hidden) instead of failing.",
)
@click.option("--changed", is_flag=True, help="Show only the fields some source set (no defaults).")
@_URL_OPTION
@_TOKEN_ENV_OPTION
@app_dir_option
def config_check(
    target: str | None,
    *,
    fmt: str,
    allow_unknown: bool,
    changed: bool,
    url: str | None,
    token_env: str,
    app_dir: Path | None,
) -> int:
    """Load TARGET's configuration from its real feeders, without starting any module.

    Prints each field's value and where it came from (secrets masked); when the
    configuration is invalid, lists every problem at once and exits with 1. A key no
    module declares is a problem even when the application itself only warns about it;
    its value is never shown. With --url, shows the configuration a running process
    uses, read from its admin endpoints.
    """
    if _target_or_url(target, url) is None:
        from pymodular.cli._remote import remote_config

        click.echo(remote_config(str(url), fmt, token_env))
        return ExitCode.OK
    from pymodular.cli._config import check

    text, ok = check(
        str(target), fmt, app_dir=app_dir, allow_unknown=allow_unknown, changed=changed
    )
    click.echo(text)
    return ExitCode.OK if ok else ExitCode.FAILED


@cli.command("check", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target")
@_format_option(("table", "json", "yaml"), "table")
@click.option(
    "--allow-unknown",
    is_flag=True,
    help="Accept configuration keys no module declares instead of failing.",
)
@app_dir_option
def check_command(target: str, fmt: str, allow_unknown: bool, app_dir: Path | None) -> int:
    """Check everything that can be checked without starting TARGET; exit 1 on any problem.

    Module declarations (names, services, extras, core version) as TARGET loads, the
    configuration from the real feeders (unknown keys included), and the dependency
    graph: modules named in depends_on, required services and who provides them,
    ambiguous providers, cycles. No module's code runs. `config check` shows the
    configuration alone, value by value.
    """
    from pymodular.cli._check import check_all

    text, ok = check_all(target, fmt, app_dir=app_dir, allow_unknown=allow_unknown)
    click.echo(text)
    return ExitCode.OK if ok else ExitCode.FAILED


# -- inspect and run --------------------------------------------------------------------


@cli.command("inspect", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target", required=False)
@_format_option(("table", "json", "yaml", "dot"), "table")
@click.option(
    "--start",
    is_flag=True,
    help="Start the application, inspect it running (with health), then stop it.",
)
@_URL_OPTION
@_TOKEN_ENV_OPTION
@app_dir_option
def inspect_command(
    target: str | None,
    *,
    fmt: str,
    start: bool,
    url: str | None,
    token_env: str,
    app_dir: Path | None,
) -> int:
    """Show TARGET's modules, services, dependency graph, health and configuration.

    Without --start no module runs: configuration is collected and the graph resolved as
    init would. With --url, inspects a running process through its admin endpoints
    (nothing is loaded or started here). Exits with 1 when the configuration or the
    graph has problems.
    """
    from pymodular._inspect import to_dot
    from pymodular.cli._inspect import inspect_running, inspect_static, render_table
    from pymodular.cli._output import dump

    if _target_or_url(target, url) is None:
        from pymodular.cli._remote import remote_inspect

        picture = remote_inspect(str(url), token_env)
    else:
        from pymodular.cli._target import load_application

        app = load_application(str(target), app_dir=app_dir)
        picture = inspect_running(app) if start else inspect_static(app)
    if fmt == "dot":
        click.echo(to_dot(picture))
    else:
        click.echo(dump(picture, fmt, render_table=render_table))
    return ExitCode.FAILED if picture.get("problems") else ExitCode.OK


@cli.command("run", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target")
@click.option(
    "--loop",
    type=click.Choice(("auto", "asyncio", "uvloop")),
    default="auto",
    show_default=True,
    help="Event loop; auto uses uvloop when installed.",
)
@click.option(
    "--log-level",
    type=click.Choice(("debug", "info", "warning", "error"), case_sensitive=False),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="json: one JSON object per line on stderr (for log collectors in containers).",
)
@app_dir_option
def run_command(
    target: str, loop: str, log_level: str, log_format: str, app_dir: Path | None
) -> int:
    """Run TARGET until SIGINT or SIGTERM, then stop it gracefully.

    Exits with 0 after a clean stop, 1 when the application failed to start or stop,
    130 when interrupted during start.
    """
    from pymodular.cli._target import load_application

    app = load_application(target, app_dir=app_dir)
    return app.run(
        loop=loop,
        log_level=log_level.upper(),
        log_format="json" if log_format == "json" else "text",
    )


# -- db -------------------------------------------------------------------------------


@cli.group(context_settings=_CONTEXT)
def db() -> None:
    """Migrate an application's database with Alembic (the database module's connections).

    The migration scripts live in the directory named by the connection's
    `migrations.directory`; `pymodular db revision` creates it.
    """


_connection_option = click.option(
    "--connection",
    "-c",
    default="default",
    show_default=True,
    help="Connection of the database section whose migrations to run.",
)
_module_option = click.option(
    "--module",
    "module_name",
    default=None,
    help="Name of the database module, when the application has several.",
)


@db.command("upgrade", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target")
@click.argument("revision", default="heads")
@_connection_option
@_module_option
@app_dir_option
def db_upgrade(
    target: str, revision: str, connection: str, module_name: str | None, app_dir: Path | None
) -> int:
    """Upgrade the database to REVISION (default: the head), holding the migration lock."""
    from pymodular.cli._db import move

    click.echo(
        move(
            target, "upgrade", revision, connection=connection, module=module_name, app_dir=app_dir
        )
    )
    return ExitCode.OK


@db.command("downgrade", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target")
@click.argument("revision")
@_connection_option
@_module_option
@app_dir_option
def db_downgrade(
    target: str, revision: str, connection: str, module_name: str | None, app_dir: Path | None
) -> int:
    """Downgrade the database to REVISION: a revision id, -1 (one step) or base."""
    from pymodular.cli._db import move

    click.echo(
        move(
            target,
            "downgrade",
            revision,
            connection=connection,
            module=module_name,
            app_dir=app_dir,
        )
    )
    return ExitCode.OK


@db.command("current", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target")
@_format_option(("table", "json", "yaml"), "table")
@_connection_option
@_module_option
@app_dir_option
def db_current(
    target: str, fmt: str, connection: str, module_name: str | None, app_dir: Path | None
) -> int:
    """Show the database's revision, the scripts' head, and whether it is current.

    Exits with 0 when the database is current, 5 when migrations are pending (naming the
    revisions an upgrade would apply) and 1 when the database and the scripts diverged.
    """
    from pymodular.cli._db import current

    text, code = current(target, fmt, connection=connection, module=module_name, app_dir=app_dir)
    click.echo(text)
    return code


@db.command("history", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target")
@_format_option(("table", "json", "yaml"), "table")
@_connection_option
@_module_option
@app_dir_option
def db_history(
    target: str, fmt: str, connection: str, module_name: str | None, app_dir: Path | None
) -> int:
    """List the revisions, newest first, marking the head and the database's revision."""
    from pymodular.cli._db import history

    click.echo(history(target, fmt, connection=connection, module=module_name, app_dir=app_dir))
    return ExitCode.OK


@db.command("revision", context_settings=_CONTEXT, epilog=_TARGET_HELP)
@click.argument("target")
@click.option("--message", "-m", required=True, help="What the revision does.")
@click.option(
    "--autogenerate",
    is_flag=True,
    help="Fill the revision by comparing the database with the application's MetaData.",
)
@click.option("--merge", is_flag=True, help="Write a revision that joins the current heads.")
@_connection_option
@_module_option
@app_dir_option
def db_revision(
    *,
    target: str,
    message: str,
    autogenerate: bool,
    merge: bool,
    connection: str,
    module_name: str | None,
    app_dir: Path | None,
) -> int:
    """Write a new revision script (creating the migrations directory the first time)."""
    from pymodular.cli._db import revision

    line = revision(
        target,
        message,
        autogenerate=autogenerate,
        merge=merge,
        connection=connection,
        module=module_name,
        app_dir=app_dir,
    )
    click.echo(line)
    return ExitCode.OK


# -- contract ---------------------------------------------------------------------------


@cli.group(context_settings=_CONTEXT)
def contract() -> None:
    """Extract a package's public API and detect breaking changes (SemVer)."""


@contract.command("extract", context_settings=_CONTEXT)
@click.argument("package")
@_output_options("the contract")
@click.option(
    "--exclude",
    multiple=True,
    metavar="PATTERN",
    help="Skip submodules matching this glob (repeatable), e.g. 'pkg.contrib.*'.",
)
@click.option("--include-private", is_flag=True, help="Include _private names and modules.")
@app_dir_option
def contract_extract(
    *,
    package: str,
    output: Path | None,
    force: bool,
    exclude: tuple[str, ...],
    include_private: bool,
    app_dir: Path | None,
) -> int:
    """Write PACKAGE's public API as JSON: exported names, signatures and config fields.

    Public modules are PACKAGE and its submodules without a leading underscore; their
    exported names are `__all__`, or else the public names they define.
    """
    from pymodular.cli._contract import extract_command

    text = extract_command(
        package, exclude=list(exclude), include_private=include_private, app_dir=app_dir
    )
    _emit(text, output, force)
    return ExitCode.OK


@contract.command("diff", context_settings=_CONTEXT)
@click.argument("old")
@click.argument("new")
@_format_option(("text", "table", "json", "yaml", "markdown"), "text")
@click.option(
    "--fail-on",
    type=click.Choice(("breaking", "additive", "never")),
    default="breaking",
    show_default=True,
    help="Exit with 1 when changes of this impact (or worse) are found.",
)
@click.option(
    "--check-version",
    is_flag=True,
    help="Instead of --fail-on, fail only when the version bump from OLD to NEW is "
    "smaller than SemVer requires for the changes found.",
)
@app_dir_option
def contract_diff(
    *, old: str, new: str, fmt: str, fail_on: str, check_version: bool, app_dir: Path | None
) -> int:
    """Compare two API contracts and classify every change as breaking or additive.

    OLD and NEW are contract files from `pymodular contract extract`, or importable
    package names (extracted on the fly). The verdict is breaking, additive or none.
    """
    from pymodular.cli._contract import diff_command

    text, failed = diff_command(
        old, new, fmt, fail_on=fail_on, check_version=check_version, app_dir=app_dir
    )
    click.echo(text)
    return ExitCode.FAILED if failed else ExitCode.OK


# -- jobs -------------------------------------------------------------------------------

_JOBS_HELP = (
    "TARGET is the application (its scheduler section names the store; no module runs); "
    "or give --store URL instead. " + _TARGET_HELP
)
_store_option = click.option(
    "--store",
    "store_url",
    metavar="URL",
    default=None,
    help="The job store instead of TARGET: redis://host:port/db (also rediss://, unix://) "
    "or a SQLAlchemy async DSN (postgresql+asyncpg://, mysql+asyncmy://, sqlite+aiosqlite://).",
)
_prefix_option = click.option(
    "--prefix",
    default="pymodular:scheduler",
    show_default=True,
    help="Key prefix (redis) or table prefix (database) of the store, with --store; "
    "TARGET's configuration names its own.",
)


@cli.group(context_settings=_CONTEXT)
def jobs() -> None:
    """Scheduled jobs of a running application: list, history, run-now."""


@jobs.command("list", context_settings=_CONTEXT, epilog=_JOBS_HELP)
@click.argument("target", required=False)
@_store_option
@_prefix_option
@_format_option(("table", "json", "yaml"), "table")
@app_dir_option
def jobs_list(
    target: str | None, store_url: str | None, prefix: str, fmt: str, app_dir: Path | None
) -> int:
    """List the jobs in the store: schedule, next run, last outcome, failures."""
    from pymodular.cli._jobs import list_command

    click.echo(list_command(target, store_url=store_url, prefix=prefix, fmt=fmt, app_dir=app_dir))
    return ExitCode.OK


@jobs.command("history", context_settings=_CONTEXT, epilog=_JOBS_HELP)
@click.argument("target", required=False)
@click.option("--job", "job_id", default=None, help="Only this job's runs.")
@click.option("--limit", default=20, show_default=True, help="Runs shown at most (1-10000).")
@_store_option
@_prefix_option
@_format_option(("table", "json", "yaml"), "table")
@app_dir_option
def jobs_history(
    *,
    target: str | None,
    job_id: str | None,
    limit: int,
    store_url: str | None,
    prefix: str,
    fmt: str,
    app_dir: Path | None,
) -> int:
    """Show the newest runs, newest first: when, how long, outcome, replica, error."""
    from pymodular.cli._jobs import history_command

    click.echo(
        history_command(
            target, store_url=store_url, prefix=prefix, job=job_id, limit=limit, fmt=fmt,
            app_dir=app_dir,
        )
    )  # fmt: skip
    return ExitCode.OK


@jobs.command("run-now", context_settings=_CONTEXT, epilog=_JOBS_HELP)
@click.argument("job")
@click.argument("target", required=False)
@click.option(
    "--wait",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait for the run's outcome (exit 1 unless it succeeded in time).",
)
@_store_option
@_prefix_option
@app_dir_option
def jobs_run_now(
    *,
    job: str,
    target: str | None,
    wait: float,
    store_url: str | None,
    prefix: str,
    app_dir: Path | None,
) -> int:
    """Ask the running application to run JOB once now, outside its schedule.

    One replica takes the request (within its poll interval) and runs the job under its
    usual rules (concurrency, timeout, retries).
    """
    from pymodular.cli._jobs import run_now_command

    text, ok = run_now_command(
        job, target, store_url=store_url, prefix=prefix, wait=wait, app_dir=app_dir
    )
    click.echo(text)
    return ExitCode.OK if ok else ExitCode.FAILED


# -- completion -------------------------------------------------------------------------


@cli.command("completion", context_settings=_CONTEXT)
@click.argument("shell", type=click.Choice(("bash", "zsh", "fish")))
def completion(shell: str) -> int:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(pymodular completion bash)"     (add to ~/.bashrc)
    zsh:   eval "$(pymodular completion zsh)"      (add to ~/.zshrc)
    fish:  pymodular completion fish > ~/.config/fish/completions/pymodular.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the Choice allows only shells click supports
    script = cls(cli, {}, "pymodular", "_PYMODULAR_COMPLETE").source()
    click.echo(script)
    return ExitCode.OK


def _emit(text: str, output: Path | None, force: bool) -> None:
    if output is None:
        click.echo(text)
        return
    from pymodular.cli._output import write_file

    write_file(output, text if text.endswith("\n") else text + "\n", force=force)
    click.echo(f"wrote {output}", err=True)
