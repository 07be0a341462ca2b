"""Every test asserts something real: no assert on a generator or a tuple (always true), no test without a check.

`assert (x for x in xs)` passes whatever xs holds (a generator object is truthy); so does `assert (a, b)`.
A test that only calls code checks nothing unless it states that not raising is the point.
"""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
ALWAYS_TRUE = (ast.GeneratorExp, ast.Lambda, ast.JoinedStr)
CHECKS = ("raises", "warns", "fail", "skip", "importorskip", "xfail")


def _always_true(test: ast.expr) -> bool:
    if isinstance(test, ALWAYS_TRUE):
        return True
    if isinstance(test, ast.Tuple):
        return bool(test.elts)
    return isinstance(test, ast.Constant) and bool(test.value)


def _checks(fn: ast.FunctionDef, helpers: set[str]) -> bool:
    if "never_raises" in fn.name or "no exception" in (ast.get_docstring(fn) or "").lower():
        return True  # the property is that nothing escapes
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in CHECKS or name.lstrip("_").startswith(("assert", "check", "expect")) or name in helpers:
                return True
    return False


def test_no_assertion_is_always_true_and_every_test_checks_something() -> None:
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        helpers = {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and not f.name.startswith("test_")
                   and any(isinstance(n, ast.Assert) for n in ast.walk(f))}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and _always_true(node.test):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}: assert on a {type(node.test).__name__} "
                             "is always true")
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and not _checks(node, helpers):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}: {node.name} asserts nothing")
    assert found == []
