"""JSON Schema validation: our service beside the validators a user would pick instead.

One draft-07 schema (fastjsonschema stops at draft 7) with references, patterns, enums and
nested arrays, and 200 order documents, nine in ten valid. Per document:

- a value (``schema.is_valid``) beside ``jsonschema`` and ``fastjsonschema`` on the same
  schema and documents, with raw jsonschema-rs (``validator.is_valid``) as the floor;
- JSON text (``schema.issues_json``: parse with bounds, check, and list the problems of
  the invalid ones), beside ``json.loads`` + each peer doing the same (fastjsonschema:
  its first problem), with pydantic-core's parser + raw jsonschema-rs as the floor;
- every problem of an invalid document (``schema.issues``), beside ``jsonschema``'s
  ``iter_errors`` (fastjsonschema reports only the first), with raw ``iter_errors`` as
  the floor.

Goal (issue 18): validation ahead of both peers and within 1.2x of raw jsonschema-rs
(the first two rows). Reporting problems does more than the raw library (message,
pointers, order): there the goal is ahead of the peer, the floor ratio is shown.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from benchmarks._harness import Row, Stats, interleaved

DOCUMENTS = 200
SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {
        "money": {"type": "number", "minimum": 0, "maximum": 1_000_000},
        "line": {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{1,6}$"},
                "qty": {"type": "integer", "minimum": 1, "maximum": 999},
                "price": {"$ref": "#/definitions/money"},
            },
            "required": ["sku", "qty", "price"],
            "additionalProperties": False,
        },
    },
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 80},
                "email": {"type": "string", "maxLength": 120},
                "country": {"enum": ["DE", "FR", "NL", "US", "GB", "JP"]},
            },
            "required": ["name", "email"],
        },
        "lines": {"type": "array", "items": {"$ref": "#/definitions/line"}, "minItems": 1},
        "status": {"enum": ["new", "paid", "shipped", "cancelled"]},
        "notes": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    },
    "required": ["id", "customer", "lines", "status"],
}


def _documents() -> list[dict[str, Any]]:
    rng = random.Random(18)
    found = []
    for i in range(DOCUMENTS):
        doc: dict[str, Any] = {
            "id": i + 1,
            "customer": {
                "name": f"Customer {i}",
                "email": f"c{i}@example.com",
                "country": rng.choice(["DE", "FR", "NL", "US"]),
            },
            "lines": [
                {
                    "sku": f"SKU-{rng.randint(1, 99999)}",
                    "qty": rng.randint(1, 9),
                    "price": round(rng.uniform(1, 500), 2),
                }
                for _ in range(rng.randint(1, 5))
            ],
            "status": rng.choice(["new", "paid", "shipped"]),
            "notes": None,
            "tags": ["web", f"t{i % 7}"],
        }
        if i % 10 == 9:  # one in ten breaks a rule somewhere
            doc["lines"][0]["qty"] = 0
            doc["status"] = "lost"
        found.append(doc)
    return found


def _row(
    target: str,
    found: dict[str, Stats],
    peers: list[str],
    floor: str,
    *,
    note: str = "",
    near_floor: bool = True,
) -> Row:
    ours = found["ours"]
    fastest_peer = min(found[p].median for p in peers)
    floor_stats = found[floor]
    met = ours.median < fastest_peer
    goal = "ahead of every peer"
    if near_floor:
        met = met and ours.median <= 1.2 * floor_stats.median
        goal += "; <= 1.2x raw jsonschema-rs"
    return Row(
        target=target,
        ours=ours,
        goal=goal,
        met=met,
        peers={p: found[p] for p in peers},
        floor=("raw jsonschema-rs", floor_stats),
        note=note + f"ours/floor {ours.median / floor_stats.median:.2f}x",
    )


def run() -> list[Row]:
    import fastjsonschema
    import jsonschema
    import jsonschema_rs
    import pydantic_core

    from pymodular.modules.jsonschema import JsonSchemaConfig, JsonSchemaService

    documents = _documents()
    texts = [json.dumps(d).encode() for d in documents]
    invalid = [d for i, d in enumerate(documents) if i % 10 == 9]
    ours = JsonSchemaService(JsonSchemaConfig(engine="rs")).compile(SCHEMA, name="order")
    raw = jsonschema_rs.validator_for(SCHEMA)
    python = jsonschema.Draft7Validator(SCHEMA)
    fast = fastjsonschema.compile(SCHEMA)
    count = len(documents)

    def fast_valid(doc: Any) -> bool:
        try:
            fast(doc)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    # Every contender must agree on which documents are valid.
    verdicts = {
        "ours": [ours.is_valid(d) for d in documents],
        "raw": [raw.is_valid(d) for d in documents],
        "jsonschema": [python.is_valid(d) for d in documents],
        "fastjsonschema": [fast_valid(d) for d in documents],
    }
    assert len({tuple(v) for v in verdicts.values()}) == 1, "validators disagree"

    def each(check: Callable[[Any], object], items: list[Any]) -> Callable[[], None]:
        def loop() -> None:
            for item in items:
                check(item)

        return loop

    values = interleaved(
        {
            "ours": each(ours.is_valid, documents),
            "jsonschema": each(python.is_valid, documents),
            "fastjsonschema": each(fast_valid, documents),
            "raw": each(raw.is_valid, documents),
        },
        repeat=31,
        per=count,
    )

    def ours_text(text: bytes) -> object:
        return ours.issues_json(text)

    def python_text(text: bytes) -> object:
        document = json.loads(text)
        return python.is_valid(document) or list(python.iter_errors(document))

    def raw_text(text: bytes) -> object:
        document = pydantic_core.from_json(text, allow_inf_nan=False)
        return raw.is_valid(document) or list(raw.iter_errors(document))

    text = interleaved(
        {
            "ours": each(ours_text, texts),
            "jsonschema": each(python_text, texts),
            "fastjsonschema": each(lambda t: fast_valid(json.loads(t)), texts),
            "raw": each(raw_text, texts),
        },
        repeat=31,
        per=count,
    )
    problems = interleaved(
        {
            "ours": each(ours.issues, invalid),
            "jsonschema": each(lambda d: list(python.iter_errors(d)), invalid),
            "raw": each(lambda d: list(raw.iter_errors(d)), invalid),
        },
        repeat=31,
        per=len(invalid),
    )
    peers = ["jsonschema", "fastjsonschema"]
    return [
        _row("jsonschema: check a value, per document", values, peers, "raw"),
        _row(
            "jsonschema: check JSON text, per document",
            text,
            peers,
            "raw",
            note="peers parse with json.loads; floor with pydantic-core; ",
        ),
        _row(
            "jsonschema: every problem of an invalid document",
            problems,
            ["jsonschema"],
            "raw",
            note="fastjsonschema reports only the first problem; ours words, locates and "
            "sorts each one; ",
            near_floor=False,
        ),
    ]
