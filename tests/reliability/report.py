"""Print the reliability table and keep it in ``docs/reliability.md``.

``python -m tests.reliability.report DIR [DOC]``: the rows the scenarios wrote to ``DIR``
(see ``_report.py``) as one table on stdout, and the same table between the markers of
``DOC``. The exit code is 1 when any row lost an item or the directory holds no row.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BEGIN = "<!-- reliability-table:begin -->"
END = "<!-- reliability-table:end -->"
COLUMNS = ("scenario", "load", "faults", "outcome", "items lost")


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = (row["scenario"], row["load"], row["faults"], row["outcome"], row["lost"])
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    directory = Path(argv[0])
    rows = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in directory.glob("*.json")),
        key=lambda r: str(r["scenario"]),
    )
    text = table(rows)
    print(text)
    if len(argv) > 1:
        doc = Path(argv[1])
        content = doc.read_text(encoding="utf-8")
        head, _, rest = content.partition(BEGIN)
        _, _, tail = rest.partition(END)
        doc.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    lost = sum(int(r["lost"]) for r in rows)
    if not rows or lost:
        print(f"\n{lost} items lost" if rows else "no scenario recorded a row", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
