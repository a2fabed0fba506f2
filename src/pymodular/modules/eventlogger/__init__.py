"""The ``eventlogger`` module: every framework event to the console, files and syslog.

::

    from pymodular.modules.eventlogger import EventLoggerModule

    app = Application([EventLoggerModule(), ...], feeders=[DictFeeder({"eventlogger": {
        "format": "json",
        "outputs": [{"type": "file", "path": "events.jsonl", "max_bytes": 10_000_000}],
    }}])

No extra is needed (the ``cloudevents`` output needs the ``cloudevents`` and
``httpclient`` extras). Exported: the module, its configuration and the service type. See
``docs/observability.md``.
"""

from pymodular.modules.eventlogger._writer import EventLogger
from pymodular.modules.eventlogger.config import (
    BusOutputConfig,
    CloudEventsOutputConfig,
    ConsoleOutputConfig,
    EventLoggerConfig,
    FileOutputConfig,
    SyslogOutputConfig,
)
from pymodular.modules.eventlogger.module import EventLoggerModule

__all__ = (
    "BusOutputConfig",
    "CloudEventsOutputConfig",
    "ConsoleOutputConfig",
    "EventLogger",
    "EventLoggerConfig",
    "EventLoggerModule",
    "FileOutputConfig",
    "SyslogOutputConfig",
)
