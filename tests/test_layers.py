"""The architecture holds: every import points down the layers of README's "How it works"
(`cli -> mimic -> warping, bodymesh`; inside mimic, errors < core < media < networks <
generators < pipeline < training < text2pose < registry < tasks < api < webapp), `bodymesh` and
`warping` import nothing of mimic or of each other, and the top of `mimic/` stays small."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"mimic": "mimic", "bodymesh": "bodymesh", "warping": "warping", "mimic_cli": "cli"}
MIMIC_LAYERS = ["errors", "core", "media", "networks", "generators", "pipeline", "training", "text2pose", "registry", "tasks", "api", "webapp"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = {folder: package for package, folder in PACKAGES.items()}[parts[0]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every project module `path` imports (top level or inside functions), absolute."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from mimic import api`
    return {m for m in found if m.split(".")[0] in PACKAGES}


def layer(module: str) -> tuple[int, int]:
    """(package rank, rank inside mimic): bodymesh and warping 0, mimic 1, cli 2."""
    top, _, rest = module.partition(".")
    if top in ("bodymesh", "warping"):
        return (0, 0)
    if top == "mimic_cli":
        return (2, 0)
    first = rest.split(".")[0]
    return (1, MIMIC_LAYERS.index(first) if first in MIMIC_LAYERS else -1)


def sources() -> list[Path]:
    return [p for folder in PACKAGES.values() for p in sorted((ROOT / folder).rglob("*.py"))]


def test_every_import_points_down():
    upward = []
    for path in sources():
        here = module_name(path)
        if here == "mimic":  # the package's lazy public names reach every layer by design
            continue
        for target in imports(path):
            if target != "mimic" and layer(target) > layer(here):  # `mimic` itself: its version
                upward.append(f"{here} imports {target}")
    assert not upward, "\n".join(upward)


def test_bodymesh_and_warping_stand_alone():
    for path in sources():
        here = module_name(path).split(".")[0]
        if here in ("bodymesh", "warping"):
            others = {t for t in imports(path) if t.split(".")[0] != here}
            assert not others, f"{module_name(path)} imports {sorted(others)}"


def test_every_mimic_module_has_a_layer():
    for path in sources():
        name = module_name(path)
        if name.startswith("mimic."):
            assert layer(name)[1] >= 0, f"{name} is in no layer of {MIMIC_LAYERS}"


def test_the_top_of_mimic_is_small():
    modules = [p.name for p in (ROOT / "mimic").glob("*.py") if p.name != "__init__.py"]
    assert len(modules) <= 8, modules
