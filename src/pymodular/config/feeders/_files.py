"""Shared by file feeders: safe reading (size, encoding), required/optional, naming."""

from __future__ import annotations

import abc
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from pymodular.config._layer import Layer, Source
from pymodular.config._merge import DEFAULT_MAX_DEPTH
from pymodular.config._references import file_kind
from pymodular.config._spec import SectionSpec
from pymodular.config.feeders._base import FeederBase
from pymodular.errors import ConfigError

__all__ = (
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_VALUES",
    "FileFeeder",
    "read_bytes",
    "read_text",
    "value_problem",
)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""Configuration files larger than 10 MiB are refused (a wrong path, a log, an attack)."""

DEFAULT_MAX_VALUES = 100_000
"""More values than this in one file are refused (YAML alias bombs expand to billions)."""


def read_text(path: Path, *, max_bytes: int, required: bool) -> str | None:
    """Read ``path`` as UTF-8 text; ``None`` when it is missing and not required.

    Raises :class:`ConfigError` naming the file for a missing required file, an
    unreadable or oversized one, and bytes that are not UTF-8 (with the line).
    """
    raw = read_bytes(path, max_bytes=max_bytes, required=required)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "expected a UTF-8 text file",
            source=f"{path}:{line}",
        ) from None


def read_bytes(path: Path, *, max_bytes: int, required: bool) -> bytes | None:
    """Read ``path`` whole; ``None`` when it is missing and not required.

    Raises :class:`ConfigError` naming the file when it is missing but required, is not
    a regular file (a directory, a FIFO, a device), is larger than ``max_bytes``, has a
    path that cannot name a file (a NUL byte) or cannot be read. The file is opened
    without blocking and checked after opening, so a FIFO with no writer is refused
    instead of hanging the load.
    """
    where = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if not required:
            return None
        raise ConfigError(
            f"required config file {where} does not exist; create it, fix the path "
            "or mark the feeder required=False",
            source=where,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {where}: {exc.strerror}", source=where
        ) from None
    except ValueError:  # a NUL byte: no file can have that name
        shown = repr(where)
        raise ConfigError(
            f"config file path {shown} contains a NUL byte; expected a file path",
            source=shown,
        ) from None
    try:
        return _read_regular(fd, where, max_bytes)
    finally:
        os.close(fd)


def _read_regular(fd: int, where: str, max_bytes: int) -> bytes:
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"config file {where} is a directory; expected a file", source=where)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"config file {where} is {file_kind(info.st_mode)}; expected a regular file",
                source=where,
            )
        if info.st_size > max_bytes:
            raise ConfigError(
                f"config file {where} is {info.st_size} bytes; expected at most {max_bytes} "
                "(pass max_bytes=... if this is intended)",
                source=where,
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {where}: {exc.strerror}", source=where
        ) from None
    if len(raw) > max_bytes:  # it grew since fstat()
        raise ConfigError(
            f"config file {where} is larger than {max_bytes} bytes; expected at most that",
            source=where,
        )
    return raw


def value_problem(exc: BaseException, text: str = "") -> str:
    """Why a parser could not turn a value into Python, without repeating the value.

    Integers longer than the interpreter converts (``sys.get_int_max_str_digits()``)
    and impossible dates are the usual causes; a message that contains ``text`` (the
    value as written, possibly a secret) is replaced by the exception's type.
    """
    message = str(exc)
    digits = _DIGITS.search(message)
    if digits is not None:
        return (
            f"an integer of {digits.group(2)} digits; expected at most {digits.group(1)} "
            "digits (write it as a string if it is not a number)"
        )
    if not message or (text and text in message):
        return f"a value that cannot be converted ({type(exc).__name__})"
    return message


_DIGITS = re.compile(r"Exceeds the limit \((\d+) digits\).*?has (\d+) digits", re.DOTALL)


class FileFeeder(FeederBase, abc.ABC):
    """Base of the YAML, TOML and JSON feeders: one file, re-read on every feed.

    ``required`` defaults to true: a listed file that is missing is an error naming its
    path. With ``required=False`` a missing file is skipped and recorded as skipped.
    """

    format = "file"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        required: bool = True,
        priority: int | None = None,
        name: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_values: int = DEFAULT_MAX_VALUES,
    ) -> None:
        self.path = Path(path)
        super().__init__(name=name or self.format, required=required, priority=priority)
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_values = max_values

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, required={self._required})"

    def feed(self, sections: Sequence[SectionSpec]) -> Sequence[Layer]:
        """Read and parse the file now."""
        text = read_text(self.path, max_bytes=self.max_bytes, required=self._required)
        if text is None:
            return [Layer.skip(self._name, f"{self.path} does not exist")]
        try:
            return [self.parse(text)]
        except ConfigError:
            raise
        except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
            # A parser failing on a value it cannot convert: report the file, not a traceback.
            raise self.error(value_problem(exc)) from None

    @abc.abstractmethod
    def parse(self, text: str) -> Layer:
        """Turn the file's text into a layer (implemented per format)."""

    def source(self, line: int | None = None) -> Source:
        """Where a value at ``line`` of this file came from (the file alone without one)."""
        file = str(self.path)
        return Source(self._name, f"{file}:{line}" if line else file, file=file, line=line)

    def error(self, message: str, line: int | None = None) -> ConfigError:
        """A ``ConfigError`` located in this file."""
        where = self.source(line).location
        return ConfigError(f"{where}: {message}", source=where)

    def check_top_level(self, data: object, what: str) -> None:
        """Refuse a document whose top level is not a mapping of sections."""
        if not isinstance(data, dict):
            raise self.error(f"expected a mapping of sections at the top level, got {what}", line=1)
