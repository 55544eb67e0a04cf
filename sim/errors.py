"""User-facing errors: every problem names the file, the document and the field.

The CLI prints one line per problem and exits with code 2; the Python API raises
:class:`ScenarioError`, whose ``problems`` list holds the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "ScenarioError"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and what Kubernetes (or svcsim) says."""

    file: str
    document: str
    field: str
    message: str

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.document) if part)
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}" if where else what


class ScenarioError(Exception):
    """The scenario cannot be simulated; ``problems`` says why, one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        assert problems, "a ScenarioError needs at least one problem"
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
