"""The install: the lock agrees with pyproject.toml, the locked environment is consistent, and
the installed command does not depend on a top-level `cli` package."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
LEFT_OUT_PREFIX = "# left out on purpose"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _lock() -> tuple[dict[str, Version], set[str]]:
    """`(pinned versions by canonical name, names left out on purpose)` read from the lock."""
    pinned, left_out = {}, set()
    for line in LOCK.read_text().splitlines():
        if line.startswith(LEFT_OUT_PREFIX):
            left_out = {canonicalize_name(name) for name in line.split(":", 1)[1].split()}
        elif line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = Version(version)
    return pinned, left_out


def test_the_lock_pins_every_dependency_of_pyproject_within_its_range():
    project = _pyproject()["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    requirements += [Requirement(r) for extra in project.get("optional-dependencies", {}).values() for r in extra]
    pinned, left_out = _lock()
    assert requirements and pinned
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is in pyproject.toml but not in requirements.lock (run .ci/lock)"
        assert requirement.specifier.contains(pinned[name], prereleases=True), f"lock pins {name}=={pinned[name]}, outside {requirement}"
    assert left_out and not left_out & set(pinned), "packages left out on purpose must not be pinned"
    assert {"mediapipe", "torch"} <= set(pinned)


def test_pyproject_lists_every_package_folder():
    """The package list is explicit (cli/ is installed as mimic_cli): a new subpackage must be named."""
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("mimic", "bodymesh", "warping") for p in (ROOT / top).rglob("__init__.py")}
    assert found | {"mimic_cli"} == listed


def test_pip_check_in_the_locked_environment_finds_only_the_dependencies_left_out():
    pinned, left_out = _lock()
    for name, version in pinned.items():
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"not the locked environment: {name} is not installed")
        if installed != version:
            pytest.skip(f"not the locked environment: {name} {installed} is installed, the lock pins {version}")
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    unexpected = []
    for line in filter(str.strip, check.stdout.splitlines()):
        missing = re.fullmatch(r"\S+ \S+ requires (\S+), which is not installed\.", line.strip())
        if not missing or canonicalize_name(missing.group(1)) not in left_out:
            unexpected.append(line)
    assert not unexpected, "\n".join(unexpected)


def _console_script() -> Path:
    script = Path(sys.executable).with_name("mimic")
    if not script.exists():
        pytest.skip(f"the mimic command is not installed beside {sys.executable} (pip install -e .)")
    return script


def test_mimic_installs_no_top_level_cli_package(tmp_path):
    """From outside the checkout, `cli` is not mimic's: the folder is installed as mimic_cli."""
    _console_script()
    code = "import importlib.util as u; s = u.find_spec('cli'); print(s.origin if s else 'none'); print(u.find_spec('mimic_cli').origin)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    cli_origin, mimic_cli_origin = found.stdout.split()
    assert Path(mimic_cli_origin).resolve() == (ROOT / "cli" / "__init__.py").resolve()
    assert cli_origin == "none" or not Path(cli_origin).resolve().is_relative_to(ROOT)


def test_another_distributions_cli_package_does_not_break_the_command(tmp_path):
    script = _console_script()
    impostor = tmp_path / "site" / "cli"
    impostor.mkdir(parents=True)
    (impostor / "__init__.py").write_text("raise ImportError('this is another distribution cli package')\n")
    env = dict(os.environ, PYTHONPATH=str(impostor.parent))
    result = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: mimic" in result.stdout
