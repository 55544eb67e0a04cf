"""The version lives in one place, ``sim/version.py``; the package metadata is built from it."""

import importlib.metadata
import json
import warnings
from pathlib import Path

import pytest

import sim
import sim.version

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_takes_the_version_from_sim_version():
    from setuptools.config.pyprojecttoml import read_configuration  # noqa: PLC0415 (only this test needs it)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # older setuptools call [tool.setuptools] "beta"
        project = read_configuration(ROOT / "pyproject.toml")["project"]
    assert project["version"] == sim.VERSION == sim.__version__


def test_installed_metadata_has_sim_version():
    dist = importlib.metadata.distribution("svcsim")
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    installed_here = Path(str(dist.locate_file("sim/version.py"))).resolve() == Path(sim.version.__file__).resolve()
    if not installed_here and direct.get("url") != ROOT.as_uri():
        pytest.skip(f"the installed svcsim is another checkout's ({direct.get('url', dist.locate_file(''))})")
    assert importlib.metadata.version("svcsim") == sim.VERSION, "installed metadata is stale: pip install -e ."
