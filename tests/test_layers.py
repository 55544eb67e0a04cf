"""The package's layers import downwards only.

vocabulary (units, distributions, randomness, errors, version, endpoint_choice)
← kube ← scenario ← runtime ← results ← experiments ← the entry points (api, plots, cli, bench).
A module may import its own layer and any layer below it, never one above.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"
LAYERS = {"vocabulary": 0, "kube": 1, "scenario": 2, "runtime": 3, "results": 4, "experiments": 5, "entry": 6}
VOCABULARY = {"units", "distributions", "randomness", "errors", "version", "endpoint_choice", "compiled"}


def layer_of(module: str) -> str:
    """``sim.runtime.pods`` -> "runtime"; top-level modules are vocabulary or entry points."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    if len(parts) > 1 and parts[1] in VOCABULARY:
        return "vocabulary"
    return "entry"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "sim":  # from sim import units
            found += [f"sim.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sim."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "sim" or a.name.startswith("sim.")]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_module_imports_no_higher_layer(path):
    here = layer_of(module_name(path))
    upward = [m for m in imports(path) if LAYERS[layer_of(m)] > LAYERS[here]]
    assert not upward, f"{module_name(path)} ({here}) imports a higher layer: {upward}"


def test_the_check_sees_a_violation():
    """The rule would catch runtime importing results (so the test above can fail)."""
    assert LAYERS[layer_of("sim.results.result")] > LAYERS[layer_of("sim.runtime.run")]
    assert LAYERS[layer_of("sim.experiments.replications")] > LAYERS[layer_of("sim.results.result")]
    assert LAYERS[layer_of("sim.cli")] > LAYERS[layer_of("sim.experiments.replications")]
    assert layer_of("sim.units") == "vocabulary" and layer_of("sim.cli") == "entry"


def test_every_subpackage_says_what_it_owns():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 80, f"{init} needs a docstring saying what the package owns and may import"
