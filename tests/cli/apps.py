"""Source code of small user applications the command-line tests import."""

SECRET = "hunter2-very-secret-value"

SERVICE = f'''
from pymodular import Application, Dependency, Module, Service
from pymodular.config import ConfigModel, Secret, field
from pymodular.config.feeders import DictFeeder
from pymodular.health import HealthResult


class DatabaseConfig(ConfigModel):
    dsn: str = field("sqlite://", description="Where the database lives")
    password: Secret[str] = field(description="Database password")
    pool: int = field(5, description="Connections in the pool", dynamic=True, ge=1)


class Database:
    """The database service."""


class DatabaseModule(Module[DatabaseConfig]):
    name = "database"

    def provides(self):
        return [Service("db", Database(), interface=Database, priority=3)]

    async def health_report(self):
        return HealthResult.healthy("connected")


class ApiModule(Module):
    name = "api"
    depends_on = ("database",)
    db = Dependency(Database)

    async def start(self):
        pass

    async def stop(self):
        pass


def modules():
    return [DatabaseModule(), ApiModule()]


app = Application(
    modules(), feeders=[DictFeeder({{"database": {{"password": "{SECRET}", "pool": 3}}}})]
)


def healthy():
    return Application(
        modules(), feeders=[DictFeeder({{"database": {{"password": "{SECRET}"}}}})], health=True
    )


invalid = Application(modules(), feeders=[DictFeeder({{"database": {{"pool": "many", "dsn": 7}}}})])


def create_app():
    return Application(modules(), feeders=[DictFeeder({{"database": {{"password": "{SECRET}"}}}})])
'''

CYCLE = """
from pymodular import Application, Module


class A(Module):
    name = "a"
    depends_on = ("b",)


class B(Module):
    name = "b"
    depends_on = ("a",)


app = Application([A(), B()])
"""

FAILS_START = """
from pymodular import Application, Module


class Broken(Module):
    name = "broken"

    async def start(self):
        raise ConnectionError("127.0.0.1:1 refused")


app = Application([Broken()])
"""
