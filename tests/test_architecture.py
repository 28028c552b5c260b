"""The package rules of docs/architecture.md, checked: every module imports alone, the
import-linter contracts of pyproject.toml hold, no module reaches for another package's
private names, no module grows past the size a reader takes in."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "webmap")
MAX_MODULE_LINES = 600


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "versions" in parts or parts[-1] == "env":
                continue  # migrations run inside alembic, not on import
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_alone():
    # One fresh interpreter; before each module, everything of ours is forgotten, so a
    # module that works only after another one was imported first fails here.
    script = f"""
import importlib, sys, traceback
failed = []
for name in {_modules()!r}:
    for loaded in [m for m in sys.modules if m.split('.')[0] in {PACKAGES!r}]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as err:
        failed.append(f"{{name}}: {{type(err).__name__}}: {{err}}")
print("\\n".join(failed))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _package_of(module: str) -> str:
    """The package a module belongs to: ``geo.io.tables`` → ``geo.io``, ``geo.clock`` → ``geo``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else parts[0]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_another_packages_private_names(package):
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                private = [a.name for a in node.names if a.name.startswith("_")]
                # node.module may name a package (geo.io) or a module (geo.io.tables); the names come from
                # the package that would hold ``node.module + ".<name>"``
                if private and _package_of(node.module + ".x") != _package_of(module):
                    offences.append(f"{module} imports {', '.join(private)} from {node.module}")
    assert offences == []


def test_no_module_is_longer_than_a_reader_takes_in():
    long = {str(path.relative_to(ROOT)): n for package in PACKAGES for path in (ROOT / package).rglob("*.py")
            if "versions" not in path.parts and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}
