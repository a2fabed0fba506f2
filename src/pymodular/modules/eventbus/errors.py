"""Errors of the eventbus module, in the pymodular error tree::

PymodularError
├── ConfigError
│   ├── EventBusConfigError          engines or routing rules cannot be used as given
│   └── ValidationError (+ValueError)
│       └── InvalidMessageError      bytes from a broker are not a CloudEvents envelope
├── LifecycleError
│   └── StateError
│       └── BusClosedError           publish or subscribe on a bus that is not running
└── EventBusError                    category "eventbus"
    ├── BrokerUnavailableError (+ConnectionError)   an engine cannot reach its broker
    ├── PublishError                 the broker did not take the message (it may be
    │                                retried: nothing was acknowledged)
    ├── HandlerTimeoutError (+TimeoutError)   a handler outlasted its timeout
    └── DuplicateInProgressError     the idempotency helper saw the same message being
                                     handled elsewhere; the delivery is retried later

Invalid topics, patterns, headers and payloads raise
:class:`~pymodular.errors.ValidationError` with ``field`` set (``topic``,
``pattern``, ``headers``, ``payload``).
"""

from __future__ import annotations

from pymodular.errors import ConfigError, PymodularError, StateError, ValidationError

__all__ = (
    "BrokerUnavailableError",
    "BusClosedError",
    "DuplicateInProgressError",
    "EventBusConfigError",
    "EventBusError",
    "HandlerTimeoutError",
    "InvalidMessageError",
    "PublishError",
)


class EventBusError(PymodularError):
    """Base of the event bus's own run-time errors."""

    category = "eventbus"


class EventBusConfigError(ConfigError):
    """The ``eventbus`` section names engines or routes that cannot work together."""


class InvalidMessageError(ValidationError):
    """Bytes received from a broker are not a CloudEvents v1.0 JSON envelope.

    Such a message is moved to the dead-letter destination with the reason; it is
    never handed to a handler and never lost.
    """


class BusClosedError(StateError):
    """The bus (or the engine a topic routes to) is not running."""


class BrokerUnavailableError(EventBusError, ConnectionError):
    """An engine could not connect to its broker within ``connect_timeout``."""


class PublishError(EventBusError):
    """The broker did not confirm the message: it was not published.

    ``engine`` and ``topic`` say where; ``__cause__`` is the client's error.
    """


class HandlerTimeoutError(EventBusError, TimeoutError):
    """A handler ran longer than its subscription's ``timeout`` and was cancelled."""


class DuplicateInProgressError(EventBusError):
    """The same message id is being handled by another delivery right now.

    Raised by the idempotency helper so that this delivery fails and is retried
    later, when the other one has either finished (then it is skipped) or failed.
    """
