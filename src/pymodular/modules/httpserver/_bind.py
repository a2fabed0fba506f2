"""Binding the listening sockets, and explaining why an address is taken."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from pymodular.modules.httpserver.errors import HttpServerError, PortInUseError

__all__ = ("bind_sockets", "port_holder")

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def bind_sockets(host: str, port: int, *, module: str = "httpserver") -> list[socket.socket]:
    """Bind one socket per address ``host`` resolves to, all on the same port.

    Raises :class:`PortInUseError` naming host, port and (where the OS tells) the
    process holding the port, and :class:`HttpServerError` for other bind failures.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise HttpServerError(
            f"cannot resolve listen address {host!r}: {exc.strerror}", module=module, phase="start"
        ) from None
    sockets: list[socket.socket] = []
    seen: set[tuple[int, str]] = set()
    try:
        for family, kind, proto, _, address in infos:
            key = (family, str(address[0]))
            if key in seen:
                continue
            seen.add(key)
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            target = address
            if port == 0 and len(sockets) > 1:
                target = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock.bind(target)
            except OSError as exc:
                raise _bind_error(exc, host, port, module) from None
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind_error(exc: OSError, host: str, port: int, module: str) -> HttpServerError:
    if exc.errno == errno.EADDRINUSE:
        holder = port_holder(port)
        who = f"; it is held by {holder}" if holder else "; another process is listening on it"
        return PortInUseError(
            f"cannot listen on {host}:{port}: the address is already in use{who}. "
            "Stop that process or set httpserver.port to a free port (0 picks one)",
            host=host,
            port=port,
            holder=holder,
            module=module,
            phase="start",
        )
    if exc.errno == errno.EACCES:
        return HttpServerError(
            f"cannot listen on {host}:{port}: permission denied (ports below 1024 need "
            "privileges; use a higher port)",
            module=module,
            phase="start",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return HttpServerError(
            f"cannot listen on {host}:{port}: no network interface has this address",
            module=module,
            phase="start",
        )
    return HttpServerError(
        f"cannot listen on {host}:{port}: {exc.strerror or exc}", module=module, phase="start"
    )


def port_holder(port: int, proc: Path = Path("/proc")) -> str | None:
    """Describe the process listening on TCP ``port`` (``"pid 42 (nginx)"``), if visible.

    Reads Linux's ``/proc``; returns ``None`` elsewhere or when the process is not
    visible to this user.
    """
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in pids:
        try:
            for fd in (pid_dir / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return f"pid {pid_dir.name} ({_command(pid_dir)})"
        except OSError:
            continue
    return None


def _listening_inodes(port: int, proc: Path) -> set[str]:
    wanted = f"{port:04X}"
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == _LISTEN and parts[1].rsplit(":", 1)[-1] == wanted:
                inodes.add(parts[9])
    return inodes


def _command(pid_dir: Path) -> str:
    try:
        raw = (pid_dir / "cmdline").read_bytes()
    except OSError:
        return "unknown command"
    text = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return text[:120] or "unknown command"
