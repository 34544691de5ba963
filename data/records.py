"""Typed records shared by every layer: queries, passages, qrels, runs and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field

from rankrl.core.errors import RankrlError

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

    def missing_passages(self) -> list[str]:
        """First-stage candidates without a text (local BRIGHT has none: its documents live on the Hub)."""
        needed = {docid for ranking in self.first_stage.values() for docid, _ in ranking}
        return sorted(needed - self.passages.keys())

    def require_passages(self) -> None:
        """Raise a ``RankrlError`` saying why texts are missing and how to get them, before any reranking."""
        missing = self.missing_passages()
        if missing:
            why = self.provenance.get("passages", "")
            raise RankrlError(f"benchmark {self.name}: {len(missing)} candidate documents have no text "
                              f"(e.g. {', '.join(missing[:3])}), so it can be scored but not reranked"
                              + (f"; {why}" if why else ""))
