"""Second probing pass, evaluation outputs: a completion with a lone surrogate (item 8) and a symbolic link planted
in ``--out`` (item 14). Before the fix the first crashed every paradigm at the cache write (``UnicodeEncodeError
... surrogates not allowed``) and again on rerun; the second appended completions to a file outside ``--out``.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from reliability_support import write_local_benchmark

from rankrl import prompts
from rankrl.core.errors import RankrlError
from rankrl.data.benchmarks import load_benchmark
from rankrl.eval.backends.base import Generation, Sampling
from rankrl.eval.backends.oracle import OracleBackend
from rankrl.eval.cache import CACHE_FILE, CompletionCache, storable
from rankrl.eval.report import write_traces
from rankrl.eval.runner import RerankConfig, rerank_benchmark
from rankrl.eval.strategies import build_strategy
from rankrl.eval.traces_html import write_traces_html

LONE = "\ud800"


class SurrogateOracle(OracleBackend):
    """The oracle, with a lone surrogate in the reasoning of every completion and in its logprob tokens."""

    def generate(self, prompts_, sampling):
        out = []
        for gen in super().generate(prompts_, sampling):
            out.append(dataclasses.replace(gen, text=gen.text.replace("<think>", f"<think>{LONE} x{LONE}", 1)
                                           if "<think>" in gen.text else f"{LONE}{gen.text}"))
        self.count = getattr(self, "count", 0) + len(out)
        return out


def _fit(paradigm):
    return lambda query, texts: prompts.fit_messages(paradigm, query, texts).messages


@pytest.mark.parametrize("name", ["setwise", "listwise", "pointwise", "groupwise"])
def test_lone_surrogates_in_completions_are_cached_rerun_and_reported(name, tmp_path):
    bench = load_benchmark(f"local:{write_local_benchmark(tmp_path / 'bench')}")
    paradigm = prompts.get_paradigm(name)
    strategy = build_strategy(name)
    config = RerankConfig(top_k=6)
    cache_path = tmp_path / "out" / CACHE_FILE
    backend = SurrogateOracle(bench.qrels, paradigm)
    first = rerank_benchmark(bench, strategy, backend, paradigm.parse, _fit(paradigm), Sampling(), config,
                             cache=CompletionCache(cache_path, model_id="m"), progress=False)
    assert backend.count > 0
    text = cache_path.read_text(encoding="utf-8")  # valid UTF-8 throughout
    assert "\ufffd" in text and text.count("\n") == backend.count
    # the rerun reads every completion back and generates nothing
    again_backend = SurrogateOracle(bench.qrels, paradigm)
    again = rerank_benchmark(bench, strategy, again_backend, paradigm.parse, _fit(paradigm), Sampling(), config,
                             cache=CompletionCache(cache_path, model_id="m"), progress=False)
    assert getattr(again_backend, "count", 0) == 0
    assert again.run == first.run
    # the reports that carry completion text write too
    write_traces(tmp_path / "traces.jsonl", first.traces)
    write_traces_html(tmp_path / "traces.html", bench, first.qids, first.run, first.traces, title="t",
                      per_query=first.evaluation.per_query, top_k=config.top_k)
    assert "\ufffd" in (tmp_path / "traces.jsonl").read_text(encoding="utf-8")


def test_storable_keeps_valid_pairs_and_marks_replacements():
    gen = Generation(text="a\U0001f600b", prompt_tokens=1, completion_tokens=1)
    assert storable(gen) is gen
    bad = Generation(text=f"a{LONE}b", prompt_tokens=1, completion_tokens=1,
                     answer_logprobs=[(LONE, {LONE: -0.5, "x": -1.0})])
    fixed = storable(bad)
    assert fixed.text == "a\ufffdb" and fixed.answer_logprobs == [("\ufffd", {"\ufffd": -0.5, "x": -1.0})]
    assert fixed.meta["replaced_surrogates"] is True


def _planted(tmp_path, name: str):
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    (out / name).symlink_to(outside)
    return out, outside


@pytest.mark.parametrize("name", [CACHE_FILE, CACHE_FILE + ".stale"])
def test_eval_cache_refuses_a_planted_symlink(name, tmp_path):
    out, outside = _planted(tmp_path, name)
    with pytest.raises(RankrlError, match="is a symbolic link .*never writes a completion cache through a link"):
        CompletionCache(out / CACHE_FILE, model_id="m")
    assert outside.read_text() == "precious\n"


def test_eval_cache_refuses_a_dangling_symlink(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / CACHE_FILE).symlink_to(tmp_path / "created-elsewhere.jsonl")
    with pytest.raises(RankrlError, match="symbolic link"):
        CompletionCache(out / CACHE_FILE, model_id="m")
    assert not (tmp_path / "created-elsewhere.jsonl").exists()


def test_eval_cache_append_does_not_follow_a_link_planted_while_running(tmp_path):
    """A link that appears after the cache was opened (between two batches) is still not followed."""
    out = tmp_path / "out"
    cache = CompletionCache(out / CACHE_FILE, model_id="m")
    gen = Generation(text="x", prompt_tokens=1, completion_tokens=1)
    cache.put_many([("k1", gen)])
    (out / CACHE_FILE).unlink()
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    (out / CACHE_FILE).symlink_to(outside)
    with pytest.raises(RankrlError, match="symbolic link"):
        cache.put_many([("k2", gen)])
    assert outside.read_text() == "precious\n"


@pytest.mark.slow
def test_eval_cli_with_a_planted_cache_link_exits_2(rankrl, tiny_model, tmp_path):
    from reliability_support import assert_clean_error

    bench = write_local_benchmark(tmp_path / "bench")
    out, outside = _planted(tmp_path, CACHE_FILE)
    result = rankrl.run(["eval", "--model", tiny_model, "--benchmark", f"local:{bench}", "--out", out,
                         "--top-k", "6", "--max-new-tokens", "8", "--device", "cpu", "--no-progress"],
                        cwd=tmp_path, timeout=600)
    assert_clean_error(result, f"{out / CACHE_FILE} is a symbolic link")
    assert outside.read_text() == "precious\n"
    assert json.loads(json.dumps(sorted(p.name for p in out.iterdir()))) == [CACHE_FILE]
