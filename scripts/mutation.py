"""Mutation testing of chosen source files against their nearest tests (`make mutation`).

Each mutant changes one thing in one file — a comparison, a boolean operator, a `not`,
an arithmetic operator, an integer or boolean constant, a slice bound, a returned value —
and the file's nearest tests run against it in a fresh process. A mutant the tests fail
on (or that hangs past its time limit) is killed; one they pass on survived. Lines marked
``# pragma: no mutate`` are left alone (equivalent mutants, judged by a reader).

The mutated copy of ``src/`` lives in a temporary directory that comes first on
``PYTHONPATH``, so the working tree is never touched and runs can go on beside other work.

    python scripts/mutation.py                 # every target, bounded by --budget
    python scripts/mutation.py --file _graph   # targets whose path contains the text
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

# Each file under test, and the tests nearest to it (what a developer runs after a change).
TARGETS: dict[str, list[str]] = {
    "src/pymodular/_graph.py": ["tests/core/test_graph.py", "tests/core/test_lifecycle.py"],
    "src/pymodular/services/_registry.py": [
        "tests/core/test_services.py",
        "tests/core/test_service_registry.py",
        "tests/core/tenancy/test_scoped_services.py",
    ],
    "src/pymodular/config/_merge.py": ["tests/core/config/test_merge.py"],
    "src/pymodular/tenancy/_guard.py": [
        "tests/core/tenancy/test_guard.py",
        "tests/core/tenancy/test_guard_records.py",
    ],
    "src/pymodular/health/_aggregate.py": [
        "tests/core/health/test_aggregate.py",
        # the options check the least message limit this file sets
        "tests/core/health/test_aggregator.py::test_the_least_message_limit_is_sixty_four",
        "tests/core/health/test_aggregator.py::test_invalid_options_are_rejected",
    ],
    "src/pymodular/reload/_plan.py": [
        "tests/core/reload/test_plan.py",
        "tests/core/reload/test_diff.py",
    ],
    "src/pymodular/modules/router/_routes.py": [
        "tests/modules/router/test_route_table.py",
        "tests/modules/router/test_routing.py",
        "tests/modules/router/test_disable.py",
    ],
    "src/pymodular/modules/scheduler/_catchup.py": ["tests/modules/scheduler/test_catchup.py"],
    "src/pymodular/modules/scheduler/_cron.py": ["tests/modules/scheduler/test_cron.py"],
    "src/pymodular/modules/eventbus/_topics.py": [
        "tests/modules/eventbus/test_topics.py",
        "tests/modules/eventbus/test_routing.py",
    ],
    "src/pymodular/modules/cache/_policy.py": [
        "tests/conformance/cache/test_bad_input.py",
        "tests/conformance/cache/test_values.py",
        "tests/conformance/cache/test_expiry.py",
        "tests/modules/cache/test_module.py",
    ],
    "src/pymodular/modules/auth/_claims.py": ["tests/modules/auth/test_verifier.py"],
    "src/pymodular/modules/proxy/_balancer.py": [
        "tests/modules/proxy/test_balancer.py",
        "tests/modules/proxy/test_balancing.py",
    ],
    "src/pymodular/modules/proxy/_breaker.py": [
        "tests/modules/proxy/test_breaker.py",
        "tests/modules/proxy/test_resilience.py",
    ],
}

_SWAPS: dict[type[ast.AST], type[ast.AST]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.And: ast.Or,
    ast.Or: ast.And,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
}


@dataclass(frozen=True)
class Mutant:
    file: str
    index: int  # which candidate node, in walk order
    line: int
    what: str


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # killed, survived, timeout
    seconds: float


def _returns_something(node: ast.Return) -> bool:
    value = node.value
    return value is not None and not (isinstance(value, ast.Constant) and value.value is None)


# Options that shape a class, not what its code does: mutants of them are equivalent.
_SHAPE_OPTIONS = {"repr", "slots", "frozen", "eq", "order", "kw_only", "compare", "hash"}


def _shape_only(tree: ast.AST) -> set[int]:
    """Ids of nodes inside decorators and class-shaping keyword options (never mutated)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        roots: list[ast.AST] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            roots.extend(node.decorator_list)
        if isinstance(node, ast.keyword) and node.arg in _SHAPE_OPTIONS:
            roots.append(node.value)
        for root in roots:
            found.update(id(inner) for inner in ast.walk(root))
    return found


def _candidates(tree: ast.AST, skipped: set[int]) -> list[tuple[ast.AST, str]]:
    """Every node one operator could change, with a description of the change."""
    found: list[tuple[ast.AST, str]] = []
    shape = _shape_only(tree)
    for node in ast.walk(tree):
        if id(node) in shape:
            continue
        first = getattr(node, "lineno", 0)
        last = getattr(node, "end_lineno", None) or first
        if skipped.intersection(range(first, last + 1)):  # a pragma on any of its lines
            continue
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) in _SWAPS:
                    found.append((node, f"{type(op).__name__} -> {_SWAPS[type(op)].__name__}"))
                    break
        elif isinstance(node, ast.BoolOp | ast.BinOp) and type(node.op) in _SWAPS:
            found.append((node, f"{type(node.op).__name__} -> {_SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            found.append((node, "drop `not`"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, bool):
            found.append((node, f"constant {node.value!r} changed"))
        elif isinstance(node, ast.Slice) and (node.lower is not None or node.upper is not None):
            found.append((node, "slice bound moved by one"))
        elif isinstance(node, ast.Return) and _returns_something(node):
            found.append((node, "return None"))
    return found


def _mutate(node: ast.AST) -> None:
    """Apply the one change :func:`_candidates` described, in place (`not` aside)."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _SWAPS:
                node.ops[i] = _SWAPS[type(op)]()
                return
    elif isinstance(node, ast.BoolOp | ast.BinOp):
        node.op = _SWAPS[type(node.op)]()  # type: ignore[assignment]
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif isinstance(node, ast.Slice):
        bound = node.lower if node.lower is not None else node.upper
        moved = ast.BinOp(bound, ast.Add(), ast.Constant(1))
        if node.lower is not None:
            node.lower = moved
        else:
            node.upper = moved
    elif isinstance(node, ast.Return):
        node.value = ast.Constant(None)


class _DropNot(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return node.operand if node is self.target else node


def _skipped_lines(file: str) -> set[int]:
    lines = (ROOT / file).read_text().splitlines()
    return {i + 1 for i, text in enumerate(lines) if "pragma: no mutate" in text}


def mutants_of(file: str) -> tuple[list[Mutant], ast.Module]:
    tree = ast.parse((ROOT / file).read_text())
    listed = [
        Mutant(file, i, getattr(node, "lineno", 0), what)
        for i, (node, what) in enumerate(_candidates(tree, _skipped_lines(file)))
    ]
    return listed, tree


def mutated_source(tree: ast.Module, mutant: Mutant) -> str:
    """The file's source with ``mutant`` applied (candidates are found in the same order)."""
    clone = copy.deepcopy(tree)
    node, _ = _candidates(clone, _skipped_lines(mutant.file))[mutant.index]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        clone = _DropNot(node).visit(clone)
    else:
        _mutate(node)
    return ast.unparse(ast.fix_missing_locations(clone))


def _pytest(tests: list[str], pythonpath: Path, limit: float) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONDONTWRITEBYTECODE": "1"}
    quiet = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:faker"]
    command = [sys.executable, "-m", "pytest", *quiet, *tests]
    began = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, timeout=limit, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - began
    return ("survived" if done.returncode == 0 else "killed"), time.monotonic() - began


def _run_one(mutant: Mutant, tree: ast.Module, limit: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="pymodular-mutant-") as scratch:
        copy_root = Path(scratch) / "src"
        shutil.copytree(SRC, copy_root, ignore=shutil.ignore_patterns("__pycache__"))
        relative = Path(mutant.file).relative_to("src")
        (copy_root / relative).write_text(mutated_source(tree, mutant))
        status, seconds = _pytest(TARGETS[mutant.file], copy_root, limit)
    return Outcome(mutant, status, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="", help="only targets whose path contains this")
    parser.add_argument("--per-file", type=int, default=25, help="mutants sampled per file")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--budget", type=float, default=1800, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()

    chosen = [f for f in TARGETS if args.file in f]
    rng = random.Random(args.seed)
    work: list[tuple[Mutant, ast.Module, float]] = []
    equivalent: dict[str, int] = {}  # candidates on `# pragma: no mutate` lines, never run
    for file in chosen:
        base_status, base_seconds = _pytest(TARGETS[file], SRC, 600)
        if base_status != "survived":
            print(f"{file}: its tests fail without any mutant; fix them first", file=sys.stderr)
            return 2
        listed, tree = mutants_of(file)
        equivalent[file] = len(_candidates(tree, set())) - len(listed)
        sample = sorted(rng.sample(listed, min(args.per_file, len(listed))), key=lambda m: m.index)
        limit = 5 * base_seconds + 60  # a shared machine's noise is not a hang
        work.extend((m, tree, limit) for m in sample)
        print(
            f"{file}: {len(listed)} candidates, {len(sample)} sampled, tests {base_seconds:.1f} s"
        )

    deadline = time.monotonic() + args.budget
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        pending = {pool.submit(_run_one, *item): item for item in work}
        for future in concurrent.futures.as_completed(pending):
            outcome = future.result()
            outcomes.append(outcome)
            m = outcome.mutant
            print(
                f"{outcome.status} {m.file}:{m.line}: {m.what} ({outcome.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            if time.monotonic() > deadline:
                for other in pending:
                    other.cancel()
                print("budget spent: the table counts the mutants that ran", file=sys.stderr)
                break

    print("\n| file | mutants | killed | timeout | survived | equivalent | score |")
    print("|---|---|---|---|---|---|---|")
    total = killed_all = 0
    for file in chosen:
        mine = [o for o in outcomes if o.mutant.file == file]
        if not mine:
            continue
        killed = sum(o.status != "survived" for o in mine)
        timeouts = sum(o.status == "timeout" for o in mine)
        total += len(mine)
        killed_all += killed
        print(
            f"| {file.removeprefix('src/')} | {len(mine)} | {killed - timeouts} | {timeouts} "
            f"| {len(mine) - killed} | {equivalent[file]} | {100 * killed / len(mine):.0f}% |"
        )
    if total:
        marked = sum(equivalent.values())
        print(
            f"| all | {total} | | | {total - killed_all} | {marked} "
            f"| {100 * killed_all / total:.0f}% |"
        )
    survivors = sorted(
        (o.mutant for o in outcomes if o.status == "survived"), key=lambda m: (m.file, m.line)
    )
    if survivors:
        print("\nSurvivors (a test that fails on each, or `# pragma: no mutate` if equivalent):")
        for m in survivors:
            print(f"  {m.file}:{m.line}: {m.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
