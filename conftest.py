"""Docstring examples name files as a user at the repository root would (``scenarios/...``);
run them from there whatever directory pytest was started in."""

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _doctests_run_from_the_repository_root(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if isinstance(request.node, DoctestItem):
        monkeypatch.chdir(request.config.rootpath)
