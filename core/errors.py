"""User-facing errors.

Every error a user can fix (bad file, bad config, unknown name) is a ``RankrlError``: the CLI prints its message
and exits with code 2, without a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class RankrlError(Exception):
    """An error caused by the user's input, with a message that says what to change."""


class DataFormatError(RankrlError):
    """A malformed record in a data file: names the file, the line (1-based) and what is wrong."""

    def __init__(self, path: str | Path, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class ConfigError(RankrlError):
    """An invalid configuration (recipe, CLI flags, arithmetic between batch sizes...)."""


def unknown_name(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> RankrlError:
    """Error for an unknown paradigm/strategy/benchmark/reward, listing the valid choices."""
    return RankrlError(f"unknown {kind} {name!r}; valid choices: {', '.join(sorted(valid))}")
