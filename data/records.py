"""Typed records shared by every layer: queries, passages, qrels, runs and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field

Qrels = dict[str, dict[str, int]]
"""qid -> docid -> relevance grade."""

Run = dict[str, list[tuple[str, float]]]
"""qid -> [(docid, score)] sorted by descending score."""


@dataclass(frozen=True)
class Query:
    qid: str
    text: str


@dataclass(frozen=True)
class Passage:
    docid: str
    text: str
    title: str = ""

    def render(self) -> str:
        """Text shown to the model: the title (when any) followed by the body."""
        return f"{self.title}: {self.text}" if self.title else self.text


@dataclass
class Benchmark:
    """A test collection with its first-stage candidates.

    ``excluded`` carries BRIGHT's ``excluded_ids``: documents removed from the run before scoring.
    ``provenance`` records how it was built (source files, first stage, protocol) for reports.
    """

    name: str
    queries: dict[str, Query]
    passages: dict[str, Passage]
    qrels: Qrels
    first_stage: Run
    excluded: dict[str, set[str]] = field(default_factory=dict)
    provenance: dict[str, object] = field(default_factory=dict)
