"""How an evaluation follows a published protocol: preset defaults, scoring protocols, candidates, failed parses.

* ``with_template_defaults``: a preset's published inference settings (``Template.defaults``: truncation, max new
  tokens, sampling, group size and repeats, fusion, …) fill every option the user did not set. Options named in
  ``EvalConfig.explicit`` (the CLI records the flags given on the command line) always win; with no record, an
  option that differs from its ``EvalConfig`` default counts as set.
* ``sampling_for``: the decoding settings, with what the template's scoring protocol needs from the backend
  (Rank1's true/false judge, FIRST's first-token logprobs, ERank's score-token logprobs).
* ``rerank_candidates`` / ``load_deep_enough``: BRIGHT's ``excluded_ids`` leave the candidates *before* reranking
  (they never take a heap slot or a window position, and never appear in a prompt), and the first stage is read
  deep enough that ``top_k`` candidates remain after removing them (ReasonRank retrieves ``k`` plus the largest
  excluded count, 8421BCD/ReasonRank @06721fd ``run_rank_llm.py``; Rank-R1 reranks ``bright/filter_run.py``'s
  filtered runs).
* ``UnparsedReport``: how many answers failed to parse (the strategies then fall back to the first-stage order), so
  a failed evaluation never looks like a result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from rankrl.core.fields import FieldError

SCORING_LOGPROBS = {"true-false": 20, "first-token": 30}
"""Top alternatives the protocol reads (Rank1: logprobs=20; rank_llm's FIRST: max_logprobs=30)."""


# --- preset defaults -------------------------------------------------------------------------------------

def given_fields(parser: Any, argv: Sequence[str]) -> tuple[str, ...]:
    """The ``dest`` of every flag present on the command line (parsed again with every default suppressed)."""
    import argparse
    import copy

    quiet = copy.deepcopy(parser)
    for action in quiet._actions:  # argparse has no public way to suppress defaults after the fact
        if action.dest != "help":
            action.default = argparse.SUPPRESS
            action.required = False
    return tuple(sorted(vars(quiet.parse_args(list(argv)))))


def with_template_defaults(config: Any, template: Any) -> tuple[Any, dict[str, Any]]:
    """(config with the template's published defaults filled in, the settings that were applied)."""
    defaults = template.defaults.given()
    if not defaults:
        return config, {}
    names = {f.name: f for f in fields(config)}
    explicit = set(getattr(config, "explicit", ()) or ())
    applied: dict[str, Any] = {}
    for name, value in defaults.items():
        if name not in names or name == "strategy":
            continue
        if explicit:
            is_set = name in explicit
        else:
            is_set = getattr(config, name) != names[name].default
        if not is_set and getattr(config, name) != value:
            applied[name] = value
    if "strategy" in defaults and not getattr(config, "strategy", None):
        applied["strategy"] = defaults["strategy"]
    return (replace(config, **applied) if applied else config), applied


def scoring_of(config: Any, template: Any) -> str:
    """The scoring protocol: the ``scoring`` option when set, else the template's."""
    scoring = getattr(config, "scoring", None) or template.scoring
    from rankrl.prompts.template import SCORINGS

    if scoring not in SCORINGS:
        raise FieldError("scoring", f"must be one of {', '.join(SCORINGS)}, got {scoring!r}")
    return scoring


def sampling_for(config: Any, template: Any, strategy: Any) -> Any:
    """Decoding settings for ``config`` under the template's scoring protocol."""
    from rankrl.eval.backends.base import ANSWER_MARKER, Sampling

    scoring = scoring_of(config, template)
    logprobs = config.logprobs if getattr(strategy, "wants_logprobs", False) else 0
    judge = None
    after = ANSWER_MARKER
    if scoring == "true-false":
        judge = (template.judge.close, template.judge.true, template.judge.false)
        logprobs = config.logprobs or SCORING_LOGPROBS["true-false"]
    elif scoring == "first-token":
        after = ""
        logprobs = max(config.logprobs, SCORING_LOGPROBS["first-token"])
    return Sampling(temperature=config.temperature, top_p=config.top_p, max_new_tokens=config.max_new_tokens,
                    seed=config.seed, logprobs=logprobs, logprobs_after=after, judge=judge)


def budgets_for(config: Any, paradigm: Any) -> dict[str, Any]:
    """The ``fit_messages`` budgets of ``config`` (None: the paradigm's, then the template's)."""
    return {"max_prompt_tokens": config.max_prompt_tokens, "max_passage_tokens": config.max_passage_tokens,
            "max_passage_chars": config.max_passage_chars,
            "max_passage_words": getattr(config, "max_passage_words", None),
            "max_query_tokens": getattr(config, "max_query_tokens", None)}


def needs_tokenizer(budgets: dict[str, Any], paradigm: Any) -> bool:
    """Token budgets (prompt, passage or query) are counted with the model's tokenizer."""
    template = paradigm.template
    values = (budgets["max_prompt_tokens"] or paradigm.max_prompt_tokens,
              budgets["max_passage_tokens"] or paradigm.max_passage_tokens,
              budgets.get("max_query_tokens") or template.defaults.max_query_tokens)
    return any(v is not None for v in values)


# --- candidates --------------------------------------------------------------------------------------------

def rerank_candidates(benchmark: Any, qid: str, top_k: int) -> list[str]:
    """The first ``top_k`` first-stage documents of ``qid`` that are not excluded for it."""
    excluded = benchmark.excluded.get(qid, set())
    out = []
    for docid, _ in benchmark.first_stage.get(qid, []):
        if docid in excluded:
            continue
        out.append(docid)
        if len(out) == top_k:
            break
    return out


def short_queries(benchmark: Any, top_k: int, depth: int) -> list[str]:
    """Queries whose first stage was cut at ``depth`` and keeps fewer than ``top_k`` non-excluded documents."""
    out = []
    for qid, ranking in benchmark.first_stage.items():
        if len(ranking) >= depth and len(rerank_candidates(benchmark, qid, top_k)) < top_k:
            out.append(qid)
    return out


def load_deep_enough(load: Callable[[int], Any], depth: int, top_k: int) -> Any:
    """Load with ``depth``; when excluded ids leave a query (whose run was cut at ``depth``) with fewer than
    ``top_k`` candidates, load again reading ``depth`` plus the largest excluded count."""
    benchmark = load(depth)
    if not benchmark.excluded or not short_queries(benchmark, top_k, depth):
        return benchmark
    extra = max((len(ids) for ids in benchmark.excluded.values()), default=0)
    deeper = load(max(depth, top_k) + extra)
    deeper.provenance["depth_for_excluded"] = (f"first stage read to {max(depth, top_k) + extra} so that "
                                               f"{top_k} non-excluded candidates remain")
    return deeper


# --- failed parses -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnparsedReport:
    """Failed parses of one evaluation (all benchmarks)."""

    failures: int
    prompts: int
    first_error: str | None
    first_prompt: str | None

    @property
    def fraction(self) -> float:
        return self.failures / self.prompts if self.prompts else 0.0

    def summary(self) -> str:
        """The clause the summary line carries."""
        return (f"{100 * self.fraction:.1f}% of answers ({self.failures}/{self.prompts}) failed to parse and fell "
                "back to the first-stage order")


def unparsed_report(results: Sequence[Any]) -> UnparsedReport:
    failures = sum(r.stats.parse_failures for r in results)
    prompts = sum(r.stats.prompts for r in results)
    first = next((t for r in results for t in r.traces if not t.get("ok", True)), None)
    return UnparsedReport(failures, prompts, None if first is None else str(first.get("error")),
                          None if first is None else str(first.get("prompt_id")))


def warn_unparsed(result: Any, threshold: float, stream: Any = None) -> bool:
    """Tell stderr when more than ``threshold`` of a benchmark's answers failed to parse; True when it did."""
    report = unparsed_report([result])
    if report.prompts == 0 or report.fraction <= threshold:
        return False
    print(f"rankrl eval: warning: {result.name}: {report.failures} of {report.prompts} answers "
          f"({100 * report.fraction:.1f}%) failed to parse, more than {100 * threshold:g}%; those comparisons "
          f"fell back to the first-stage order. First error ({report.first_prompt}): {report.first_error}. "
          "Check the template (rankrl prompts render) and traces.jsonl.", file=stream or sys.stderr)
    return True
