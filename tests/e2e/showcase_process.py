"""The showcase (``python -m examples.showcase``) as a child process on a free port."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


class Showcase:
    """One running showcase process: its URL, its data directory, its log."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, data: Path, log: Path):
        self.process = process
        self.url = url
        self.data = data
        self.log = log

    def key(self, key_id: str) -> str:
        """A demo API key the process made in its data directory."""
        return (self.data / "keys" / f"{key_id}.key").read_text(encoding="utf-8").strip()

    def headers(self, key_id: str = "acme-admin") -> dict[str, str]:
        return {"X-API-Key": self.key(key_id)}

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code."""
        if self.process.returncode is None:
            self.process.terminate()
        async with asyncio.timeout(timeout):
            return await self.process.wait()

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def spawn(
    module: str, env: Mapping[str, str], log: Path, *, timeout: float = 30
) -> tuple[asyncio.subprocess.Process, str]:
    """Start ``python -m MODULE`` from the repository's root, its stderr appended to
    ``log``; return the process and the first line it printed on stdout."""
    with log.open("ab") as stderr:  # a file: an unread pipe could fill up and stall the server
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            cwd=ROOT,
            env=dict(env),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(timeout):
            line = (await process.stdout.readline()).decode()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process, line


async def start_showcase(
    data: Path, env: Mapping[str, str] | None = None, *, log_name: str = "stderr.log"
) -> Showcase:
    """Start the showcase on port 0 with its data in ``data``; return once it listens."""
    data.mkdir(parents=True, exist_ok=True)
    log = data / log_name
    environ = {
        **os.environ,
        "SHOWCASE_DATA": str(data),
        "APP_HTTPSERVER__PORT": "0",
        "APP_HTTPSERVER__ACCESS_LOG": "false",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    process, line = await spawn("examples.showcase", environ, log)
    found = LISTENING.search(line)
    if not found:
        process.kill()
        await process.wait()
        raise AssertionError(f"unexpected first line {line!r}; log: {log.read_text()[-3000:]}")
    return Showcase(process, found.group(1), data, log)
