"""The round engine with a fake strategy and a fake backend: batching across queries, chunking, cache, traces."""

from __future__ import annotations

import pytest

from rankrl.eval.backends.base import Generation, Prompt, Sampling
from rankrl.eval.cache import CompletionCache
from rankrl.eval.engine import Engine, Ranking
from rankrl.prompts.base import Parsed


class EchoBackend:
    """Answers ``pick:<index of the last shown docid>``; records the size of every call."""

    model_id = "echo"
    tokenizer = None

    def __init__(self, batch_size: int = 1000):
        self.batch_size = batch_size
        self.calls: list[list[str]] = []

    def generate(self, prompts, sampling):
        self.calls.append([p.prompt_id for p in prompts])
        return [Generation(text=f"pick:{len(p.docids) - 1}", prompt_tokens=10 * len(p.docids), completion_tokens=3)
                for p in prompts]


def parse(text: str, n: int) -> Parsed:
    if text.startswith("pick:"):
        return Parsed(ok=True, value=int(text[5:]), format_ok=True, answer=text)
    return Parsed(ok=False, error="no pick", answer=text)


def machine(qid: str, rounds: int, width: int, log: list):
    """Fake strategy: ``rounds`` rounds of ``width`` prompts; the ranking lists the picks it received."""
    order = []
    for r in range(rounds):
        prompts = [Prompt.build(f"{qid}/{r}/{i}", qid, [{"role": "user", "content": f"{qid} {r} {i}"}],
                                [f"d{j}" for j in range(i + 1)]) for i in range(width)]
        responses = yield prompts
        log.append((qid, r, [resp.parsed.value for resp in responses]))
        order.extend(f"{qid}-{r}-{resp.parsed.value}" for resp in responses)
    return Ranking(order=order)


def test_one_backend_call_per_round_gathers_all_queries():
    backend = EchoBackend()
    log: list = []
    tasks = {(f"q{n}", 0): machine(f"q{n}", rounds=3 + n, width=2, log=log) for n in range(4)}
    results, stats = Engine(backend, parse, Sampling(), progress=False).run(tasks)
    assert stats.rounds == 6 == stats.backend_calls == len(backend.calls)
    # round 1..3: all four queries pending (8 prompts); then they finish one by one
    assert [len(c) for c in backend.calls] == [8, 8, 8, 6, 4, 2]
    assert stats.prompts_per_round == [8, 8, 8, 6, 4, 2]
    assert stats.prompts == stats.generated == 36 and stats.cached == 0
    assert results[("q0", 0)].order == ["q0-0-0", "q0-0-1", "q0-1-0", "q0-1-1", "q0-2-0", "q0-2-1"]
    assert stats.per_query["q3"].prompts == 12 and stats.per_query["q3"].passages_shown == 6 * 3
    assert stats.prompt_tokens == 18 * (10 + 20)  # 18 (query, round) steps of prompts showing 1 and 2 docids


def test_rounds_are_chunked_to_the_batch_size():
    backend = EchoBackend(batch_size=3)
    tasks = {(f"q{n}", 0): machine(f"q{n}", rounds=2, width=4, log=[]) for n in range(2)}
    _, stats = Engine(backend, parse, Sampling(), progress=False).run(tasks)
    assert [len(c) for c in backend.calls] == [3, 3, 2, 3, 3, 2]
    assert stats.calls_per_round == [3, 3] and stats.backend_calls == 6 and stats.rounds == 2


def test_identical_prompts_in_a_round_are_generated_once():
    backend = EchoBackend()

    def same(qid):
        yield [Prompt.build(f"{qid}/0", qid, [{"role": "user", "content": "same text"}], ["a", "b"])]
        return Ranking(order=["a", "b"])

    _, stats = Engine(backend, parse, Sampling(), progress=False).run({("x", 0): same("x"), ("y", 0): same("y")})
    assert [len(c) for c in backend.calls] == [1]
    assert stats.generated == 1 and stats.shared == 1 and stats.prompts == 2


def test_cache_answers_a_rerun_without_backend_calls(tmp_path):
    cache = CompletionCache(tmp_path / "c.jsonl")
    first = EchoBackend()
    tasks = lambda: {(f"q{n}", 0): machine(f"q{n}", rounds=2, width=2, log=[]) for n in range(3)}
    res1, stats1 = Engine(first, parse, Sampling(), cache=cache, progress=False).run(tasks())
    second = EchoBackend()
    res2, stats2 = Engine(second, parse, Sampling(), cache=CompletionCache(tmp_path / "c.jsonl"),
                          progress=False).run(tasks())
    assert second.calls == [] and stats2.backend_calls == 0 and stats2.cached == stats1.generated == 12
    assert {k: v.order for k, v in res1.items()} == {k: v.order for k, v in res2.items()}
    assert stats2.prompt_tokens == stats1.prompt_tokens  # cost of cached completions still counts


def test_sampling_settings_are_part_of_the_cache_key(tmp_path):
    cache = CompletionCache(tmp_path / "c.jsonl")
    Engine(EchoBackend(), parse, Sampling(), cache=cache, progress=False).run({("q", 0): machine("q", 1, 2, [])})
    other = EchoBackend()
    Engine(other, parse, Sampling(max_new_tokens=7), cache=cache, progress=False).run(
        {("q", 0): machine("q", 1, 2, [])})
    assert len(other.calls) == 1


def test_traces_hold_prompt_id_qid_and_parse_status():
    class Flaky(EchoBackend):
        def generate(self, prompts, sampling):
            gens = super().generate(prompts, sampling)
            gens[0].text = "garbage"
            return gens

    traces: list = []
    _, stats = Engine(Flaky(), parse, Sampling(), progress=False, on_trace=traces.append).run(
        {("q1", 0): machine("q1", 1, 3, [])})
    assert [t["prompt_id"] for t in traces] == ["q1/0/0", "q1/0/1", "q1/0/2"]
    assert traces[0]["ok"] is False and traces[0]["error"] == "no pick" and traces[0]["completion"] == "garbage"
    assert traces[1]["ok"] is True and traces[1]["value"] == 1 and traces[1]["qid"] == "q1"
    assert traces[2]["docids"] == ["d0", "d1", "d2"] and traces[2]["round"] == 1
    assert stats.parse_failures == 1


def test_backend_returning_the_wrong_number_of_completions_is_an_error():
    class Short(EchoBackend):
        def generate(self, prompts, sampling):
            return super().generate(prompts, sampling)[:-1]

    with pytest.raises(RuntimeError, match="2 completions for 3 prompts"):
        Engine(Short(), parse, Sampling(), progress=False).run({("q", 0): machine("q", 1, 3, [])})


def test_progress_bars_name_rounds_and_prompts(capsys):
    Engine(EchoBackend(), parse, Sampling(), progress=True).run({("q", 0): machine("q", 2, 2, [])})
    err = capsys.readouterr().err
    assert "rounds" in err and "prompts" in err
