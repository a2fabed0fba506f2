"""The ``database`` module: SQLAlchemy async engines, sessions and transactions.

::

    from pymodular.modules.database import Database, DatabaseModule, current_transaction

    app = Application([DatabaseModule(), ...])           # section "database", env DB_<NAME>_DSN
    db = app.services.get(Database)
    async with db.transaction() as session:               # the "default" connection
        session.add(...)

PostgreSQL (asyncpg), MariaDB/MySQL (asyncmy or aiomysql) and SQLite (aiosqlite, the
default) are built in; register more with :data:`DATABASE_BACKENDS`. Needs the
``database`` extra (``pip install "pymodular[database]"``). Importing this package does
not import SQLAlchemy: the module imports it when it initialises.
"""

from pymodular.modules.database._backend import DATABASE_BACKENDS, DatabaseBackend, ErrorKind
from pymodular.modules.database._database import Database, TransactionScope
from pymodular.modules.database._migration_state import MigrationState
from pymodular.modules.database._migrations import Migrations
from pymodular.modules.database._transaction import OnCommit, Transaction, current_transaction
from pymodular.modules.database.config import (
    DEFAULT_CONNECTION,
    ConnectionConfig,
    ConnectionHealthConfig,
    MigrationsConfig,
    PoolConfig,
    SQLiteConfig,
)
from pymodular.modules.database.errors import (
    DatabaseAuthenticationError,
    DatabaseConfigError,
    DatabaseConnectError,
    DatabaseError,
    DatabaseNotFoundError,
    DatabaseStoppingError,
    DatabaseUnavailableError,
    MigrationError,
    PoolTimeoutError,
    StatementTimeoutError,
    UnknownConnectionError,
)
from pymodular.modules.database.module import DatabaseModule

__all__ = (
    "DATABASE_BACKENDS",
    "DEFAULT_CONNECTION",
    "ConnectionConfig",
    "ConnectionHealthConfig",
    "Database",
    "DatabaseAuthenticationError",
    "DatabaseBackend",
    "DatabaseConfigError",
    "DatabaseConnectError",
    "DatabaseError",
    "DatabaseModule",
    "DatabaseNotFoundError",
    "DatabaseStoppingError",
    "DatabaseUnavailableError",
    "ErrorKind",
    "MigrationError",
    "MigrationState",
    "Migrations",
    "MigrationsConfig",
    "OnCommit",
    "PoolConfig",
    "PoolTimeoutError",
    "SQLiteConfig",
    "StatementTimeoutError",
    "Transaction",
    "TransactionScope",
    "UnknownConnectionError",
    "current_transaction",
)
