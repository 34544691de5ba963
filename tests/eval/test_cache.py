"""The completion cache: keys, durability per batch, a truncated last line, damaged files."""

from __future__ import annotations

import json

import pytest

from rankrl.core.errors import DataFormatError
from rankrl.eval.backends.base import Generation, Prompt, Sampling
from rankrl.eval.cache import CompletionCache, cache_key


def _prompt(text="hello", sample=0):
    return Prompt.build("p0", "q", [{"role": "system", "content": "s"}, {"role": "user", "content": text}],
                        ["d1"], sample=sample)


def test_key_depends_on_model_prompt_and_sampling_only():
    base = cache_key("m", _prompt(), Sampling())
    assert base == cache_key("m", Prompt.build("other-id", "other-q", _prompt().chat(), ["x", "y"]), Sampling())
    assert base != cache_key("m2", _prompt(), Sampling())
    assert base != cache_key("m", _prompt("hello!"), Sampling())
    assert base != cache_key("m", _prompt(), Sampling(max_new_tokens=5))
    assert base != cache_key("m", _prompt(), Sampling(logprobs=3))
    # greedy decoding ignores seed, top_p and the sample number; sampling does not
    assert base == cache_key("m", _prompt(sample=2), Sampling(seed=9, top_p=0.5))
    hot = Sampling(temperature=0.7)
    assert cache_key("m", _prompt(), hot) != cache_key("m", _prompt(sample=1), hot)
    assert cache_key("m", _prompt(), hot) != cache_key("m", _prompt(), Sampling(temperature=0.7, seed=1))


def test_round_trip_with_logprobs(tmp_path):
    path = tmp_path / "cache.jsonl"
    gen = Generation("<answer>7</answer>", 12, 5, answer_logprobs=[("7", {"7": -0.1, "6": -2.5})],
                     finish_reason="stop")
    CompletionCache(path).put_many([("k1", gen), ("k2", Generation("x", 1, 1))])
    again = CompletionCache(path)
    assert len(again) == 2 and again.get("k1") == gen and again.get("missing") is None
    assert path.read_text().count("\n") == 2


def test_truncated_last_line_is_dropped_and_cut_before_appending(tmp_path):
    path = tmp_path / "cache.jsonl"
    CompletionCache(path).put_many([("k1", Generation("a", 1, 1))])
    with open(path, "a") as handle:
        handle.write('{"key": "k2", "generation": {"text": "b", "prom')  # kill -9 in the middle of a write
    cache = CompletionCache(path)
    assert cache.dropped_partial_line and len(cache) == 1 and "k2" not in cache
    cache.put_many([("k3", Generation("c", 1, 1))])
    reread = CompletionCache(path)
    assert sorted(reread._entries) == ["k1", "k3"] and not reread.dropped_partial_line


def test_complete_last_record_without_newline_is_kept(tmp_path):
    path = tmp_path / "cache.jsonl"
    path.write_text('{"key": "k1", "generation": {"text": "a", "prompt_tokens": 1, "completion_tokens": 1}}')
    cache = CompletionCache(path)
    assert len(cache) == 1 and not cache.dropped_partial_line
    cache.put_many([("k2", Generation("b", 1, 1))])
    assert len(CompletionCache(path)) == 2


def test_damaged_line_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    CompletionCache(path).put_many([("k1", Generation("a", 1, 1))])
    with open(path, "a") as handle:
        handle.write("not json\n")
    with open(path, "a") as handle:
        handle.write('{"key": "k3", "generation": {"text": "c", "prompt_tokens": 1, "completion_tokens": 1}}\n')
    with pytest.raises(DataFormatError, match=r"cache.jsonl:2: damaged completion cache record"):
        CompletionCache(path)


def test_records_carry_their_model_and_other_models_are_set_aside(tmp_path):
    path = tmp_path / "cache.jsonl"
    old = CompletionCache(path, model_id="hf:/m@aaaa")
    old.put_many([("k1", Generation("old", 1, 1)), ("k2", Generation("old2", 1, 1))])
    path.write_text(path.read_text() + json.dumps({"key": "k0", "generation": Generation("legacy", 1, 1).to_json()})
                    + "\n")  # a record written before records named their model
    assert json.loads(path.read_text().splitlines()[0])["model"] == "hf:/m@aaaa"

    same = CompletionCache(path, model_id="hf:/m@aaaa")
    assert same.models() == {"hf:/m@aaaa": 2, None: 1}
    before = path.read_bytes()
    assert same.set_aside_other_models() == {None: 1} and len(same) == 2
    assert path.read_bytes() != before and "legacy" not in path.read_text()

    new = CompletionCache(path, model_id="hf:/m@bbbb")
    assert new.set_aside_other_models() == {"hf:/m@aaaa": 2}
    assert len(new) == 0 and path.read_text() == ""
    new.put_many([("k3", Generation("new", 1, 1))])
    again = CompletionCache(path, model_id="hf:/m@bbbb")
    assert again.set_aside_other_models() == {} and again.get("k3").text == "new"
    stale = [json.loads(line) for line in (tmp_path / "cache.jsonl.stale").read_text().splitlines()]
    assert sorted(r["generation"]["text"] for r in stale) == ["legacy", "old", "old2"]
    assert CompletionCache(path).set_aside_other_models() == {}  # no model id given: nothing is moved
