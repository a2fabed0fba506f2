"""Plugins: modules, services and config-loaded hooks that a library ships as one unit."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pymodular.errors import RegistrationError

if TYPE_CHECKING:
    from pymodular.application import Application
    from pymodular.module import Module
    from pymodular.services import Service

__all__ = ("ConfigHook", "Plugin", "hook_name")

ConfigHook = Callable[["Application"], "Awaitable[None] | None"]
"""Runs once configuration is loaded and validated, before any module's ``init``."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class Plugin:
    """Modules, services and config-loaded hooks registered in one step.

    ::

        auth = Plugin("auth", modules=[AuthModule(), SessionsModule()],
                      services=[Service("password_policy", Policy(), interface=Policy)],
                      config_hooks=[check_auth_settings])
        app = Application([Api()], plugins=[auth])

    Registration is all-or-nothing: when one module or service of the plugin is invalid,
    nothing of it is registered. The plugin's services are provided under the name
    ``plugin:<name>`` and are ready before any module's ``init``; its hooks run with the
    application's other config-loaded hooks, in order.
    """

    name: str
    modules: Sequence[Module[Any]] = ()
    services: Sequence[Service[Any]] = ()
    config_hooks: Sequence[ConfigHook] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise RegistrationError(
                f"plugin name {self.name!r} may hold only letters, digits, '_', '.' and '-'",
                phase="register",
            )
        for hook in self.config_hooks:
            if not callable(hook):
                raise RegistrationError(
                    f"plugin {self.name!r}: config hook {hook!r} is not callable",
                    phase="register",
                )

    @property
    def provider(self) -> str:
        """The provider name of the plugin's services."""
        return f"plugin:{self.name}"


def hook_name(hook: object) -> str:
    """A hook's name for messages: its qualified name, else its repr."""
    return str(getattr(hook, "__qualname__", None) or repr(hook))
