"""``score(config)``: score a TREC run against qrels with trec_eval semantics — the library under ``rankrl score``.

Kept free of torch and transformers (only ``pytrec_eval``), so scoring a run is instant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankrl.core.fields import FieldError
from rankrl.eval.metrics import DEFAULT_METRICS, Evaluation, RunLike, evaluate, parse_metric


@dataclass
class ScoreConfig:
    """What to score. ``qrels``/``run``: TREC files, or already loaded mappings (qid -> docid -> grade; a run as
    qid -> [(docid, score)] or qid -> {docid: score})."""

    qrels: str | Path | Mapping[str, Mapping[str, int]] = field(metadata={"help": "TREC qrels: qid iter docid grade"})
    run: str | Path | RunLike = field(metadata={"help": "TREC run: qid Q0 docid rank score tag"})
    metrics: Sequence[str] = field(default=DEFAULT_METRICS, metadata={"help": "ir_measures names"})
    rel_level: int = field(default=1, metadata={"help": "minimum grade counted as relevant by binary measures"})
    bright_examples: str | Path | None = field(
        default=None, metadata={"help": "BRIGHT examples JSONL(.gz): their excluded_ids leave the run first"})
    depth: int | None = field(default=None, metadata={"help": "score only the first N documents (trec_eval -M)"})

    def validate(self) -> None:
        if isinstance(self.metrics, str):
            raise FieldError("metrics", f"must be a list of names, got the string {self.metrics!r}")
        if not self.metrics:
            raise FieldError("metrics", "is empty")
        for name in self.metrics:  # a bad metric name fails before any file is read
            parse_metric(name)
        if self.depth is not None and (isinstance(self.depth, bool) or self.depth < 1):
            raise FieldError("depth", f"must be a positive integer, got {self.depth}")


ExclusionReport = Callable[[str, Any, Mapping[str, set[str]], list[str]], None]


def score(config: ScoreConfig, *, on_exclusion: ExclusionReport | None = None) -> Evaluation:
    """Means and per-query values of ``config.metrics``. ``on_exclusion(examples_path, run, excluded, qids)`` is
    called after BRIGHT's excluded ids are read (the CLI reports how many documents they removed)."""
    from rankrl.data.trec import read_qrels, read_run

    config.validate()
    qrels = read_qrels(config.qrels) if isinstance(config.qrels, (str, Path)) else config.qrels
    run = read_run(config.run) if isinstance(config.run, (str, Path)) else config.run
    excluded = None
    if config.bright_examples:
        from rankrl.data.bright import excluded_from_examples, read_examples

        examples = read_examples(config.bright_examples)
        excluded = excluded_from_examples(examples)
        if on_exclusion is not None:
            on_exclusion(str(config.bright_examples), run, excluded, [e.qid for e in examples])
    return evaluate(qrels, run, metrics=list(config.metrics), rel_level=config.rel_level, excluded=excluded,
                    depth=config.depth)


__all__ = ["ScoreConfig", "score"]
