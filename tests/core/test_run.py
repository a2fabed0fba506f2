"""app.run(): blocks, stops gracefully on SIGINT/SIGTERM, exit codes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    from pymodular import Application, Module

    class Noisy(Module[None]):
        name = "noisy"

        async def start(self) -> None:
            if "fail" in sys.argv:
                raise RuntimeError("cannot start")
            print("READY", flush=True)

        async def stop(self) -> None:
            print("STOPPED", flush=True)

    if "crash" in sys.argv:  # an unexpected error type escaping start
        async def crash(self: Application) -> None:
            raise TypeError("unexpected")

        Application.start = crash  # type: ignore[method-assign]

    raise SystemExit(Application([Noisy()]).run(loop=sys.argv[1]))
    """
)


def launch(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_with_exit_code_zero(tmp_path: Path, sig: int, loop: str) -> None:
    process = launch(tmp_path, loop)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "READY"
    process.send_signal(sig)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out.strip() == "STOPPED"
    assert "stopping app" in err
    assert "app is running (1 module);" in err


def test_failed_start_exits_non_zero_and_logs_the_cause(tmp_path: Path) -> None:
    process = launch(tmp_path, "asyncio", "fail")
    out, err = process.communicate(timeout=20)
    assert process.returncode == 1
    assert "module 'noisy' failed to start: RuntimeError: cannot start" in err
    assert "Traceback" not in err


def test_an_unexpected_error_in_start_exits_non_zero_with_its_traceback(tmp_path: Path) -> None:
    process = launch(tmp_path, "asyncio", "crash")
    out, err = process.communicate(timeout=20)
    assert process.returncode == 1
    assert "app failed to start" in err
    assert "TypeError: unexpected" in err
