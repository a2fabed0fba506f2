"""What every bundled package exports: its module, config models, errors and the types
and helpers its services hand out, pinned per package so nothing else leaks out (nothing
that exists for tests, no engine internals). A new export is added here on purpose.

The table of bundled modules that the core names in its hints
(:data:`pymodular._bundled.BUNDLED`) is checked against the modules here too."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import pymodular.modules
from pymodular import Module
from pymodular._bundled import BUNDLED
from pymodular.config import ConfigModel

#: Per package: what ``__all__`` holds besides its bundled module (``BUNDLED``), config
#: models and errors; further modules of the package are listed here.
SERVICE_TYPES = {
    "acme": {
        "AcmeCertificates",
        "CertificateBundle",
        "CertificateStore",
        "ChallengeSolver",
        "DnsProvider",
        "FileStore",
        "RenewalPolicy",
        "StoredCertificate",
        "renewal_moment",
        "renewal_window",
    },
    "admin": set(),
    "auth": {
        "ALGORITHMS",
        "ApiKey",
        "ApiKeyAuthenticator",
        "Auth",
        "AuthMiddleware",
        "Authenticator",
        "Authenticators",
        "BearerAuthenticator",
        "CacheSessions",
        "ClaimsMapping",
        "ClaimsPolicy",
        "CombinedKeys",
        "CookieSessions",
        "FailureReporter",
        "Guard",
        "JwksKeySource",
        "JwtKey",
        "JwtVerifier",
        "KeyRing",
        "KeySource",
        "OidcProvider",
        "PasswordHasher",
        "Principal",
        "RateLimit",
        "RefreshFamilies",
        "Revocations",
        "SessionAuthenticator",
        "SessionStore",
        "Sessions",
        "Signer",
        "TokenIssuer",
        "TokenPair",
        "VerifiedToken",
        "current_principal",
        "generate_api_key",
        "hash_api_key",
        "load_jwks",
        "optional_auth",
        "principal_of",
        "require_auth",
        "require_roles",
        "require_scopes",
    },
    "cache": {
        "CACHE_BACKENDS",
        "Cache",
        "CacheBackend",
        "JsonSerializer",
        "Serializer",
        "TenantCache",
        "TypedSerializer",
        "cached",
    },
    "database": {
        "DATABASE_BACKENDS",
        "DEFAULT_CONNECTION",
        "Database",
        "DatabaseBackend",
        "ErrorKind",
        "MigrationState",
        "Migrations",
        "OnCommit",
        "Transaction",
        "TransactionScope",
        "current_transaction",
    },
    "eventbus": {
        "CacheDedupeStore",
        "DedupeStore",
        "Deduplicator",
        "DeliveryMode",
        "ENGINES",
        "EngineContext",
        "EngineHealth",
        "EventBus",
        "EventBusEngine",
        "MemoryDedupeStore",
        "Message",
        "Router",
        "Subscription",
        "amqp_binding",
        "check_pattern",
        "check_topic",
        "covers",
        "decode",
        "encode",
        "matches",
        "mqtt_filter",
        "nats_subject",
        "overlaps",
        "redis_glob",
        "register_engine",
    },
    "eventlogger": {"EventLogger"},
    "httpclient": {"HttpClients"},
    "httpserver": {
        "ASGIApp",
        "CertificateFiles",
        "CertificateProvider",
        "FileCertificateProvider",
        "HttpServer",
    },
    "jsonschema": {
        "BodyValidation",
        "CompiledSchema",
        "DRAFTS",
        "Draft",
        "ENGINES",
        "Engine",
        "EngineOptions",
        "JsonSchemaService",
        "Limits",
        "NAMED_BASE",
        "RawIssue",
        "Schema",
        "SchemaIssue",
        "choose_engine",
        "validate_body",
    },
    "metrics": {"CardinalityGuard", "Exceeded", "Family", "Instrument", "Metrics", "OVERFLOW"},
    "proxy": {"CompositePart", "ReverseProxy"},
    "router": {
        "BUILTIN_ORDER",
        "Body",
        "Header",
        "Inject",
        "JSONResponse",
        "MountModule",
        "OpenAPI",
        "PROBLEM_SCHEMAS",
        "Path",
        "Query",
        "Request",
        "Response",
        "Route",
        "RouteDoc",
        "RouteGroup",
        "Router",
        "content_media",
        "problem",
        "read_body",
        "read_json",
        "replay",
        "service_dependency",
        "unsupported_media",
    },
    "scheduler": {
        "CatchUp",
        "CatchUpDecision",
        "CatchUpPolicy",
        "Clock",
        "CronSchedule",
        "IntervalSchedule",
        "Job",
        "JobInfo",
        "JobOptions",
        "JobSpec",
        "JobState",
        "JobStore",
        "ManualClock",
        "OnceSchedule",
        "Outcome",
        "Overlap",
        "RetryPolicy",
        "RunContext",
        "RunRecord",
        "STORES",
        "Schedule",
        "Scheduler",
        "SkippedRuns",
        "SystemClock",
        "Trigger",
        "backoff_delay",
        "count_skipped",
        "decide_catch_up",
        "job",
        "skipped_ticks",
    },
    "tracing": {"Tracing"},
}


def test_every_bundled_package_has_its_exports_pinned() -> None:
    packages = {
        info.name
        for info in pkgutil.iter_modules(pymodular.modules.__path__)
        if info.ispkg and not info.name.startswith("_")
    }
    assert packages == set(SERVICE_TYPES)
    assert packages == set(BUNDLED)  # the core's hints know every bundled module


@pytest.mark.parametrize("package", sorted(SERVICE_TYPES))
def test_a_bundled_package_exports_its_module_config_errors_and_service_types(
    package: str,
) -> None:
    exported = importlib.import_module(f"pymodular.modules.{package}")
    kinds: dict[str, set[str]] = {"module": set(), "config": set(), "error": set(), "other": set()}
    for name in exported.__all__:
        value = getattr(exported, name)
        if isinstance(value, type) and issubclass(value, Module):
            kinds["module"].add(name)
        elif isinstance(value, type) and issubclass(value, ConfigModel):
            kinds["config"].add(name)
        elif isinstance(value, type) and issubclass(value, Exception):
            kinds["error"].add(name)
        else:
            kinds["other"].add(name)
    assert len(exported.__all__) == len(set(exported.__all__)), "a name is exported twice"
    module = BUNDLED[package]  # the class the core's hints name, under its name and section
    assert module in kinds["module"]
    cls = getattr(exported, module)
    assert cls.name == package
    assert cls.config_section in (None, package)
    named = {n for n in kinds["module"] if getattr(exported, n).name == package}
    assert named == {module}  # no other module of the package takes its name
    assert kinds["config"]
    extras = kinds["module"] - {module}
    assert kinds["other"] | extras == SERVICE_TYPES[package]  # nothing that exists for tests
    private = [n for n in exported.__all__ if n.startswith("_")]
    assert private == []
