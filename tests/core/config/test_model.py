"""Declaring configuration: ConfigModel, field(), NOT_GIVEN, describe_fields."""

from __future__ import annotations

import json

import pydantic
import pytest

from pymodular.config import (
    NOT_GIVEN,
    ConfigModel,
    Secret,
    SectionSpec,
    describe_fields,
    field,
)
from pymodular.secrets import MASK


class Pool(ConfigModel):
    size: int = field(10, description="Connections kept open", dynamic=True)
    timeout: float = field(5.0)


class Database(ConfigModel):
    host: str = field(description="Server host name", examples=["db.internal"])
    port: int = field(5432, ge=1, le=65535)
    password: Secret[str] = field(description="Login password")
    token: str = field("", secret=True)
    url: str | None = field(None, env="DATABASE_URL")
    pool: Pool = field(default_factory=Pool)


def test_not_given_is_falsy_and_distinct_from_none() -> None:
    assert NOT_GIVEN is not None
    assert not NOT_GIVEN
    assert repr(NOT_GIVEN) == "NOT_GIVEN"


def test_field_without_default_is_required() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Database.model_validate({"password": "pw-1234"})
    assert [e["loc"] for e in caught.value.errors()] == [("host",)]


def test_none_is_a_real_default_not_absence() -> None:
    model = Database.model_validate({"host": "h", "password": "pw-1234"})
    assert model.url is None
    info = {i.name: i for i in describe_fields(Database)}
    assert info["url"].required is False
    assert info["url"].default is None


def test_pydantic_constraints_pass_through_field() -> None:
    with pytest.raises(pydantic.ValidationError):
        Database.model_validate({"host": "h", "password": "pw-1234", "port": 0})


def test_models_are_frozen() -> None:
    model = Pool()
    with pytest.raises(pydantic.ValidationError):
        model.size = 3  # type: ignore[misc]


def test_secret_fields_are_masked_in_repr_str_and_json() -> None:
    model = Database.model_validate(
        {"host": "h", "password": "pw-hidden-1", "token": "tok-hidden-2"}
    )
    for text in (
        repr(model),
        str(model),
        model.model_dump_json(),
        json.dumps(model.model_dump(mode="json")),
    ):
        assert "pw-hidden-1" not in text
        assert "tok-hidden-2" not in text
        assert MASK in text
    assert model.password.reveal() == "pw-hidden-1"
    assert model.token == "tok-hidden-2"  # plain-typed secret fields stay readable in code


def test_describe_fields_lists_leaves_with_metadata() -> None:
    spec = SectionSpec("database", Database, module="db")
    infos = {i.path: i for i in describe_fields(spec, env_prefix="APP_")}
    assert list(infos) == [
        "database.host",
        "database.port",
        "database.password",
        "database.token",
        "database.url",
        "database.pool.size",
        "database.pool.timeout",
    ]
    host = infos["database.host"]
    assert host.required
    assert host.default is NOT_GIVEN
    assert host.description == "Server host name"
    assert host.examples == ("db.internal",)
    assert host.env == ("APP_DATABASE__HOST", "APP_DATABASE_HOST")
    assert infos["database.url"].env[0] == "DATABASE_URL"
    assert infos["database.password"].secret
    assert infos["database.password"].type == "Secret[str]"
    assert infos["database.token"].secret
    assert infos["database.token"].default == MASK
    assert infos["database.pool.size"].dynamic
    assert not infos["database.pool.timeout"].dynamic
    assert infos["database.pool.size"].default == 10
    assert infos["database.pool.size"].env[0] == "APP_DATABASE__POOL__SIZE"
    assert host.module == "db"
    assert json.dumps([i.as_dict() for i in infos.values()])


def test_describe_fields_of_an_instance_aware_section_marks_the_instance() -> None:
    spec = SectionSpec("database", Pool, instance_aware=True, env_prefix="DB")
    infos = describe_fields(spec)
    assert [i.path for i in infos] == ["database.*.size", "database.*.timeout"]
    assert infos[0].env == ("DB_<INSTANCE>_SIZE",)


def test_nested_defaults_come_from_the_parent_default() -> None:
    class Outer(ConfigModel):
        pool: Pool = field(default_factory=lambda: Pool(size=3))

    (size, _) = describe_fields(Outer)
    assert size.default == 3
    assert not size.required


def test_field_rejects_an_empty_env_name() -> None:
    with pytest.raises(ValueError, match="env"):
        field(1, env=" ")


def test_section_spec_rejects_dotted_names_and_non_models() -> None:
    with pytest.raises(ValueError, match="section name"):
        SectionSpec("a.b", Pool)
    with pytest.raises(TypeError):
        SectionSpec("a", dict)  # type: ignore[arg-type]
