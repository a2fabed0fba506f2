"""Secret values (FR-049): masked everywhere, readable only through reveal()."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import subprocess
import sys

import pydantic
import pytest

from pymodular.config import ConfigModel, Configuration, SectionSpec, field
from pymodular.config.feeders import DictFeeder
from pymodular.secrets import (
    MASK,
    Secret,
    forget_secret,
    is_registered,
    masking_of,
    redact,
    redact_data,
    register_secret,
)


class Holder(pydantic.BaseModel):
    key: Secret[str]
    raw: Secret[bytes] = Secret(b"bytes-secret-Qx1")


def test_every_text_form_is_masked() -> None:
    secret = Secret("plain-secret-Wz2")
    assert repr(secret) == f"Secret('{MASK}')"
    assert str(secret) == MASK
    assert f"{secret}" == MASK
    assert f"{secret:>20}" == MASK
    assert secret.reveal() == "plain-secret-Wz2"


def test_logging_a_secret_shows_the_mask(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").debug(
            "key=%s repr=%r", Secret("log-secret-Ev3"), Secret("log-secret-Ev3")
        )
    assert "log-secret-Ev3" not in caplog.text
    assert MASK in caplog.text


def test_pydantic_validates_the_inner_type_and_masks_json() -> None:
    holder = Holder.model_validate({"key": "model-secret-Rt4"})
    assert holder.key.reveal() == "model-secret-Rt4"
    assert holder.raw.reveal() == b"bytes-secret-Qx1"
    assert json.loads(holder.model_dump_json()) == {"key": MASK, "raw": MASK}
    assert isinstance(holder.model_dump()["key"], Secret)
    assert "model-secret-Rt4" not in repr(holder)
    with pytest.raises(pydantic.ValidationError):
        Holder.model_validate({"key": 5})


def test_validated_values_are_registered_for_redaction() -> None:
    Secret("registered-secret-Yu5")
    assert is_registered("registered-secret-Yu5")
    assert redact("dsn=postgres://u:registered-secret-Yu5@h") == f"dsn=postgres://u:{MASK}@h"
    forget_secret("registered-secret-Yu5")
    assert not is_registered("registered-secret-Yu5")


def test_a_secret_containing_another_is_masked_whole() -> None:
    register_secret("inner-Op6")
    register_secret("outer-inner-Op6-x")
    assert redact("outer-inner-Op6-x and inner-Op6") == f"{MASK} and {MASK}"


def test_very_short_values_are_not_registered() -> None:
    register_secret("ab")
    assert redact("tab and cab") == "tab and cab"
    assert masking_of("ab") == "never"


def test_short_values_are_masked_only_as_whole_tokens() -> None:
    register_secret("Cat7")
    try:
        assert masking_of("Cat7") == "token"
        text = "dsn=postgres://u:Cat7@h key=Cat7 'Cat7' \"Cat7\" Cat7"
        assert redact(text) == f"dsn=postgres://u:{MASK}@h key={MASK} '{MASK}' \"{MASK}\" {MASK}"
        words = "Cat77 xCat7 Cat7_x my_Cat7 Cat7y concatenated"
        assert redact(words) == words
    finally:
        forget_secret("Cat7")


def test_short_values_are_masked_as_tokens_in_their_escaped_forms() -> None:
    register_secret("p&s w")
    try:
        assert redact("pw=p%26s%20w;") == f"pw={MASK};"
        assert redact("pw=p%26s%20wx;") == "pw=p%26s%20wx;"
    finally:
        forget_secret("p&s w")


def test_values_from_eight_characters_on_are_masked_inside_words_too() -> None:
    register_secret("Long8chr")
    try:
        assert masking_of("Long8chr") == "anywhere"
        assert redact("xLong8chrx") == f"x{MASK}x"
    finally:
        forget_secret("Long8chr")


def test_configuration_warns_about_short_secret_values_by_field_and_never_shows_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Keys(ConfigModel):
        short: Secret[str] = field(description="A short one")
        tiny: Secret[str] = field(description="A tiny one")
        good: Secret[str] = field(description="A long one")

    values = {"short": "Hx9z", "tiny": "q1", "good": "long-enough-Tz8"}
    with caplog.at_level(logging.WARNING, logger="pymodular.config"):
        Configuration([DictFeeder({"keyed": values})]).load([SectionSpec("keyed", Keys)])
    warned = [r.getMessage() for r in caplog.records if r.name == "pymodular.config"]
    forget_secret("Hx9z")
    assert any("keyed.short" in line and "whole word" in line for line in warned), warned
    assert any("keyed.tiny" in line and "too short to be masked" in line for line in warned)
    assert not any("keyed.good" in line for line in warned)
    assert not any("Hx9z" in line or "q1 " in line for line in warned)


def test_copies_share_the_value_and_pickling_is_refused() -> None:
    secret = Secret("copy-secret-As7")
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"k": secret})["k"] is secret
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


def test_equality_compares_the_values() -> None:
    assert Secret("same-Df8") == Secret("same-Df8")
    assert Secret("same-Df8") != Secret("other-Df8")
    assert hash(Secret("same-Df8")) == hash(Secret("same-Df8"))


def test_registering_a_mapping_registers_its_values() -> None:
    register_secret({"user": "mapping-secret-Gh9"})
    assert redact("user mapping-secret-Gh9") == f"user {MASK}"


def test_redact_data_masks_strings_nested_in_dicts_lists_and_tuples() -> None:
    register_secret("nested-secret-Jk1")
    data = {"dsn": "u:nested-secret-Jk1@h", "hosts": [("nested-secret-Jk1", 5)], "n": 3}
    assert redact_data(data) == {"dsn": f"u:{MASK}@h", "hosts": [[MASK, 5]], "n": 3}
    assert data["dsn"] == "u:nested-secret-Jk1@h"  # the input is left as it was


def test_log_records_are_scrubbed_from_the_first_secret_on_without_an_application() -> None:
    script = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='%(message)s')\n"
        "from pymodular.secrets import Secret\n"
        "Secret('standalone-secret-123')\n"
        "logging.getLogger('x').info('dsn=postgres://u:%s@h', 'standalone-secret-123')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "dsn=postgres://u:**********@h"


def test_json_safe_masks_secrets_and_converts_to_json_data() -> None:
    import datetime as dt
    import enum
    import json

    from pydantic import BaseModel

    from pymodular.secrets import MASK, Secret, json_safe

    class Colour(enum.Enum):
        RED = "red"

    class Point(BaseModel):
        x: int

    Secret("json-safe-secret-value")
    value = {
        "key": Secret("other-secret-value"),
        "dsn": "pg://u:json-safe-secret-value@db",
        "when": dt.datetime(2026, 11, 28, 5, 0, tzinfo=dt.UTC),
        "colour": Colour.RED,
        "point": Point(x=1),
        "tags": ("a", "b"),
        "raw": b"json-safe-secret-value",
        1: None,
    }
    safe = json_safe(value)
    assert safe == {
        "key": MASK,
        "dsn": f"pg://u:{MASK}@db",
        "when": "2026-11-28T05:00:00+00:00",
        "colour": "red",
        "point": {"x": 1},
        "tags": ["a", "b"],
        "raw": MASK,
        "1": None,
    }
    assert "secret-value" not in json.dumps(safe)
