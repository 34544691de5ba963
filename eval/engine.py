"""The round-based engine: every query's strategy advances one step per round, all prompts in one backend call.

A strategy is a per-query state machine written as a generator: it yields the prompts it needs next and receives
their responses (completion + parse), and finally returns a ``Ranking``. Each round the engine gathers the pending
prompts of all queries (and all test-time repeats), looks them up in the completion cache, deduplicates the rest and
sends them to the backend in chunks of ``backend.batch_size``, so the backend always sees large batches (one call
per round whenever a round fits one batch). Completions are written to the cache after each chunk, so an
interruption loses at most one chunk.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from rankrl.core.errors import RankrlError
from rankrl.eval.backends.base import Backend, Generation, Prompt, Sampling
from rankrl.eval.cache import (  # storable: no lone surrogate
    CompletionCache,
    cache_key,
    sampling_blob,
    storable,
)
from rankrl.eval.progress import Plan
from rankrl.prompts.base import Parsed


@dataclass(frozen=True)
class Response:
    """What a strategy receives for one prompt."""

    prompt: Prompt
    generation: Generation
    parsed: Parsed
    cached: bool = False
    """Read from the completion cache (an earlier, interrupted run generated it)."""
    shared: bool = False
    """An identical prompt of the same round was generated; this one reuses its completion."""


@dataclass
class Ranking:
    """A strategy's result for one query: every candidate, best first, plus model scores when it has them."""

    order: list[str]
    scores: dict[str, float] | None = None


StrategyRun = Generator[list[Prompt], list[Response], Ranking]
"""A per-query state machine: yields prompts, is sent their responses (same order), returns the ranking."""


@dataclass
class QueryCost:
    """Cost of one query, summed over its repeats (cached completions count: they were paid for once)."""

    prompts: int = 0
    generated: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    parse_failures: int = 0
    passages_shown: int = 0


@dataclass
class EngineStats:
    rounds: int = 0
    backend_calls: int = 0
    prompts: int = 0
    generated: int = 0
    cached: int = 0
    """Prompts answered from the completion cache (earlier in this run, or by an interrupted run)."""
    shared: int = 0
    """Prompts answered by an identical prompt of the same round (deduplicated, not generated twice)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    parse_failures: int = 0
    prompts_per_round: list[int] = field(default_factory=list)
    calls_per_round: list[int] = field(default_factory=list)
    backend_seconds: float = 0.0
    wall_seconds: float = 0.0
    per_query: dict[str, QueryCost] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds, "backend_calls": self.backend_calls, "prompts": self.prompts,
            "generated": self.generated, "cached": self.cached, "shared": self.shared,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "parse_failures": self.parse_failures,
            "parse_failure_rate": self.parse_failures / self.prompts if self.prompts else 0.0,
            "backend_seconds": round(self.backend_seconds, 3), "wall_seconds": round(self.wall_seconds, 3),
        }


TraceSink = Callable[[dict[str, Any]], None]


class Engine:
    """Drives many strategy runs against one backend, round by round.

    parse: ``(completion, num_passages) -> Parsed`` — the paradigm's parser (never raises).
    cache: completion cache for resume; None keeps completions only for deduplication within a round.
    """

    def __init__(self, backend: Backend, parse: Callable[[str, int], Parsed], sampling: Sampling,
                 cache: CompletionCache | None = None, batch_size: int | None = None, progress: bool = True,
                 on_trace: TraceSink | None = None):
        self.backend = backend
        self.parse = parse
        self.sampling = sampling
        self.cache = cache
        self.batch_size = int(batch_size or getattr(backend, "batch_size", 0) or 1)
        if self.batch_size < 1:
            raise RankrlError(f"batch size must be >= 1, got {self.batch_size}")
        self.progress = progress
        self.on_trace = on_trace

    def run(self, tasks: Mapping[Hashable, StrategyRun], qid_of: Callable[[Hashable], str] | None = None,
            plan: Plan | None = None) -> tuple[dict[Hashable, Ranking], EngineStats]:
        """Run every task to completion. ``qid_of`` maps a task key to its query id (default: ``key[0]``).

        ``plan`` (``eval.progress.combine`` of the strategies' plans) gives the progress bars their totals and so a
        time estimate; an inexact plan (setwise heapsort) is an upper bound, labelled as such."""
        qid_of = qid_of or (lambda key: key[0] if isinstance(key, tuple) else str(key))
        stats = EngineStats()
        start = time.perf_counter()
        results: dict[Hashable, Ranking] = {}
        pending: dict[Hashable, list[Prompt]] = {}
        for key, machine in tasks.items():
            self._advance(key, machine, None, pending, results)
        bound = "" if plan is None or plan.exact else " (at most)"
        rounds_bar = tqdm(desc=f"rounds{bound}", unit="round", total=plan.rounds if plan else None,
                          disable=not self.progress, file=sys.stderr, position=0)
        prompts_bar = tqdm(desc=f"prompts{bound}", unit="prompt", total=plan.prompts if plan else None,
                           disable=not self.progress, file=sys.stderr, position=1)
        try:
            while pending:
                stats.rounds += 1
                round_pending, pending = pending, {}
                responses = self._answer_round(round_pending, stats, prompts_bar)
                rounds_bar.update(1)
                rounds_bar.set_postfix(active=len(round_pending))
                for key in round_pending:
                    answered = responses[key]
                    cost = stats.per_query.setdefault(qid_of(key), QueryCost())
                    for response in answered:
                        self._account(stats, cost, response)
                        if self.on_trace is not None:
                            self.on_trace(trace_record(key, stats.rounds, response))
                    self._advance(key, tasks[key], answered, pending, results)
        finally:
            for bar in (prompts_bar, rounds_bar):
                if bar.total is not None and bar.n < bar.total and not pending:  # an upper bound not reached
                    bar.total = bar.n
                    bar.refresh()
                bar.close()
        stats.wall_seconds = time.perf_counter() - start
        return results, stats

    @staticmethod
    def _advance(key: Hashable, machine: StrategyRun, answered: list[Response] | None,
                 pending: dict[Hashable, list[Prompt]], results: dict[Hashable, Ranking]) -> None:
        try:
            prompts = next(machine) if answered is None else machine.send(answered)
        except StopIteration as stop:
            if not isinstance(stop.value, Ranking):
                raise TypeError(f"strategy for {key!r} finished without a Ranking") from None
            results[key] = stop.value
            return
        if not prompts:
            raise TypeError(f"strategy for {key!r} yielded no prompts")
        pending[key] = list(prompts)

    def _answer_round(self, round_pending: dict[Hashable, list[Prompt]], stats: EngineStats,
                      bar: tqdm) -> dict[Hashable, list[Response]]:
        model_id = self.backend.model_id
        blob = sampling_blob(self.sampling)
        keyed = {key: [(cache_key(model_id, p, self.sampling, blob), p) for p in prompts]
                 for key, prompts in round_pending.items()}
        found: dict[str, tuple[Generation, bool]] = {}
        todo: dict[str, Prompt] = {}
        total = 0
        for pairs in keyed.values():
            for ckey, prompt in pairs:
                total += 1
                if ckey in found or ckey in todo:
                    continue
                hit = self.cache.get(ckey) if self.cache is not None else None
                if hit is not None:
                    found[ckey] = (hit, True)
                else:
                    todo[ckey] = prompt
        stats.prompts_per_round.append(total)
        bar.update(total - len(todo))
        calls = 0
        items = list(todo.items())
        for begin in range(0, len(items), self.batch_size):
            chunk = items[begin:begin + self.batch_size]
            t0 = time.perf_counter()
            generations = [storable(g) for g in self.backend.generate([p for _, p in chunk], self.sampling)]
            stats.backend_seconds += time.perf_counter() - t0
            calls += 1
            if len(generations) != len(chunk):
                raise RuntimeError(f"backend returned {len(generations)} completions for {len(chunk)} prompts")
            if self.cache is not None:
                self.cache.put_many((ckey, gen) for (ckey, _), gen in zip(chunk, generations))
            for (ckey, _), gen in zip(chunk, generations):
                found[ckey] = (gen, False)
            bar.update(len(chunk))
        stats.backend_calls += calls
        stats.calls_per_round.append(calls)
        answered: dict[Hashable, list[Response]] = {}
        first_use: set[str] = set()
        for key, pairs in keyed.items():
            out = []
            for ckey, prompt in pairs:
                generation, cached = found[ckey]
                shared = not cached and ckey in first_use
                first_use.add(ckey)
                parsed = self.parse(generation.text, len(prompt.docids))
                out.append(Response(prompt, generation, parsed, cached=cached, shared=shared))
            answered[key] = out
        return answered

    @staticmethod
    def _account(stats: EngineStats, cost: QueryCost, response: Response) -> None:
        gen = response.generation
        stats.prompts += 1
        cost.prompts += 1
        cost.passages_shown += len(response.prompt.docids)
        if response.shared:
            stats.shared += 1
        elif response.cached:
            stats.cached += 1
        else:
            stats.generated += 1
            cost.generated += 1
        stats.prompt_tokens += gen.prompt_tokens
        stats.completion_tokens += gen.completion_tokens
        cost.prompt_tokens += gen.prompt_tokens
        cost.completion_tokens += gen.completion_tokens
        if not response.parsed.ok:
            stats.parse_failures += 1
            cost.parse_failures += 1


def trace_record(key: Hashable, round_number: int, response: Response) -> dict[str, Any]:
    """One line of ``traces.jsonl``."""
    parsed, gen, prompt = response.parsed, response.generation, response.prompt
    repeat = key[1] if isinstance(key, tuple) and len(key) > 1 else 0
    value = parsed.value
    if value is not None and not isinstance(value, (int, float, str, list)):
        value = list(value) if isinstance(value, tuple) else str(value)
    return {
        "prompt_id": prompt.prompt_id, "qid": prompt.qid, "repeat": repeat, "round": round_number,
        "docids": list(prompt.docids), "ok": parsed.ok, "format_ok": parsed.format_ok,
        "repaired": parsed.repaired, "error": parsed.error, "value": value,
        "reasoning": parsed.reasoning, "answer": parsed.answer, "completion": gen.text,
        "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens,
        "cached": response.cached, "shared": response.shared,
    }
