"""Redaction: masking registered secrets in a log line, escaped forms included.

``redact(line)`` on a 110-character access-log line that holds no secret (the common
case: every log record of the process is scrubbed) with ten registered secrets, once
with secrets of letters and digits (their escaped forms are the raw text) and once with
base64-like secrets (``+``, ``/``, ``=``: each has three distinct forms). The peer is
the straightforward scrub of the raw values only (what redaction did before escaped
forms were masked), measured in the same rounds; the floor is one ``in`` search of the
line.
"""

from __future__ import annotations

from benchmarks._harness import Row, interleaved

LINE = (
    "GET /api/v1/items?page=2&limit=50 200 in 3.2 ms "
    "request_id=1d19b1525c3d658ce31cc9724cc62b58 tenant=acme"
)
SETS = {
    "letters and digits": [f"secretvalue{i:03d}xyz" for i in range(10)],
    "base64-like": [f"c2Vj+cmV0/{i:03d}==" for i in range(10)],
}
PER = 2000


def _raw_only(values: list[str]) -> object:
    from pymodular.secrets import MASK

    ordered = tuple(sorted(values, key=len, reverse=True))

    def scrub() -> None:
        for _ in range(PER):
            text = LINE
            for secret in ordered:
                if secret in text:
                    text = text.replace(secret, MASK)

    return scrub


def run() -> list[Row]:
    from pymodular.secrets import forget_secret, redact, register_secret

    rows: list[Row] = []
    for kind, values in SETS.items():
        for value in values:
            register_secret(value)

        def ours() -> None:
            for _ in range(PER):
                redact(LINE)

        def floor() -> None:
            for _ in range(PER):
                _ = "needle" in LINE

        found = interleaved(
            {"ours": ours, "peer": _raw_only(values), "floor": floor}, repeat=41, per=PER
        )
        for value in values:
            forget_secret(value)
        rows.append(
            Row(
                f"redact a log line, 10 secrets ({kind})",
                found["ours"],
                "median < 5 µs",
                found["ours"].median < 5e-6,
                peers={"raw values only (no escaped forms)": found["peer"]},
                floor=("one substring search", found["floor"]),
            )
        )
    return rows
