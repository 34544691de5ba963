"""Backends: transformers on the tiny model (batching, padding, token counts, logprobs, seeds, LoRA) and vLLM."""

from __future__ import annotations

import json
import math

import pytest

from rankrl.core.errors import RankrlError
from rankrl.eval.backends.base import Prompt, Sampling, answer_logprobs, merge_alternatives, request_seed


def _prompts(n=3):
    texts = ["short query", "a much longer query about rivers and the ocean and the climate of the planet",
             "music history"]
    return [Prompt.build(f"p{i}", f"q{i}", [{"role": "system", "content": "You rank passages."},
                                             {"role": "user", "content": texts[i % 3] + f" {i}"}], ["d"])
            for i in range(n)]


@pytest.fixture(scope="module")
def hf(tiny_model):
    from rankrl.eval.backends.hf import HFBackend

    return HFBackend(tiny_model, batch_size=4, device="cpu")


def test_batched_generation_with_left_padding_matches_one_by_one(hf):
    prompts_ = _prompts(3)
    sampling = Sampling(max_new_tokens=12)
    batched = hf.generate(prompts_, sampling)
    single = [hf.generate([p], sampling)[0] for p in prompts_]
    assert hf.tokenizer.padding_side == "left"
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.completion_tokens for g in batched] == [g.completion_tokens for g in single]
    for p, g in zip(prompts_, batched):
        expected = len(hf.tokenizer(hf.render(p), add_special_tokens=False)["input_ids"])
        assert g.prompt_tokens == expected  # padding is not counted
        assert 1 <= g.completion_tokens <= 12 and g.finish_reason in ("stop", "length")


def test_sampling_is_seeded(hf):
    prompts_ = _prompts(2)
    a = hf.generate(prompts_, Sampling(temperature=1.0, seed=3, max_new_tokens=10))
    b = hf.generate(prompts_, Sampling(temperature=1.0, seed=3, max_new_tokens=10))
    c = hf.generate(prompts_, Sampling(temperature=1.0, seed=4, max_new_tokens=10))
    assert [g.text for g in a] == [g.text for g in b]
    assert [g.text for g in a] != [g.text for g in c]


def test_logprobs_are_recorded_per_step_and_trimmed_after_the_answer_tag(hf, monkeypatch):
    import rankrl.eval.backends.hf as hf_module

    seen = []

    def capture(tokens, tops, *args, **kwargs):
        seen.append((list(tokens), [dict(t) for t in tops]))
        return answer_logprobs(tokens, tops, *args, **kwargs)

    monkeypatch.setattr(hf_module, "answer_logprobs", capture)
    gens = hf.generate(_prompts(2), Sampling(max_new_tokens=8, logprobs=3))
    assert len(seen) == 2
    for gen, (tokens, tops) in zip(gens, seen):
        assert len(tokens) == len(tops) == gen.completion_tokens
        for token, top in zip(tokens, tops):
            assert 1 <= len(top) <= 3
            assert top[token] == pytest.approx(max(top.values()))  # greedy picks the most likely token
            assert all(v <= 0 for v in top.values())
        assert gen.answer_logprobs == answer_logprobs(tokens, tops)


def test_answer_logprobs_keeps_positions_after_the_last_answer_tag():
    tokens = ["<think>", "x", "</think>", "<", "answer", ">", " ", "7", "</answer>"]
    tops = [{t: -0.1} for t in tokens]
    assert answer_logprobs(tokens, tops, keep=2) == [(" ", {" ": -0.1}), ("7", {"7": -0.1})]
    assert answer_logprobs(["no", "tag"], [{}, {}]) == []
    twice = ["<answer>", "1", "</answer>", "<answer>", "9"]
    assert answer_logprobs(twice, [{t: 0.0} for t in twice]) == [("9", {"9": 0.0})]


def test_alternatives_that_decode_alike_add_up():
    merged = merge_alternatives([("7", math.log(0.2)), (" 7", math.log(0.1)), ("7", math.log(0.3))])
    assert math.exp(merged["7"]) == pytest.approx(0.5) and math.exp(merged[" 7"]) == pytest.approx(0.1)


def test_request_seed_is_stable_and_prompt_specific():
    assert request_seed(0, "abc") == request_seed(0, "abc")
    assert request_seed(0, "abc") != request_seed(0, "abd") and request_seed(1, "abc") != request_seed(0, "abc")
    assert 0 <= request_seed(5, "x") < 2**31


def _adapter(tiny_model, folder):
    """A random (non-zero) LoRA adapter for the tiny model, saved the way peft saves one."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    net = AutoModelForCausalLM.from_pretrained(tiny_model)
    lora = get_peft_model(net, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    lora.save_pretrained(folder)
    cfg = json.loads((folder / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tiny_model)
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    return folder


def test_lora_adapter_folder_resolves_to_its_base_model(tiny_model, tmp_path):
    from rankrl.eval.backends.hf import HFBackend, resolve_model_dir

    adapter = _adapter(tiny_model, tmp_path / "adapter")
    assert resolve_model_dir(adapter) == (str(tiny_model), str(adapter))
    backend = HFBackend(adapter, device="cpu")
    assert "+lora:" in backend.model_id
    plain = HFBackend(tiny_model, device="cpu")
    prompt = _prompts(1)
    with_lora = backend.generate(prompt, Sampling(max_new_tokens=6))[0]
    without = plain.generate(prompt, Sampling(max_new_tokens=6))[0]
    assert with_lora.prompt_tokens == without.prompt_tokens
    assert backend.model_id != plain.model_id  # completions of the two never share a cache entry


def test_missing_model_is_a_user_error(tmp_path):
    from rankrl.eval.backends.hf import HFBackend

    with pytest.raises(RankrlError, match=f"model folder not found: {tmp_path / 'nowhere'}"):
        HFBackend(tmp_path / "nowhere", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RankrlError, match="cannot load model"):
        HFBackend(tmp_path / "empty", device="cpu")


@pytest.mark.parametrize(("value", "local"), [
    ("/abs/model", True), ("./model", True), ("../runs/model", True), ("~/model", True), ("runs/a/b", True),
    ("model/", True), ("bad name", True), ("a..b", True),
    ("gpt2", False), ("Qwen/Qwen2.5-7B-Instruct", False), ("org/name-1.5", False),
])
def test_what_looks_like_a_local_path(value, local):
    from rankrl.core.model_path import looks_like_local_path, missing_local_model

    assert looks_like_local_path(value) is local
    assert missing_local_model(value) is local  # none of them exists here


def test_an_existing_folder_is_never_missing(tiny_model):
    from rankrl.core.model_path import missing_local_model

    assert not missing_local_model(tiny_model) and not missing_local_model(str(tiny_model) + "/")


def test_weights_fingerprint_follows_the_files_that_change_completions(tiny_model, tmp_path):
    import os
    import shutil

    from rankrl.eval.backends.hf import model_id, split_model_id, weights_fingerprint

    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)  # copytree keeps mtimes: same content, same fingerprint
    base = weights_fingerprint(folder)
    assert base == weights_fingerprint(tiny_model) and len(base) == 16
    # files that do not change what the model generates
    (folder / "README.md").write_text("a new model card")
    (folder / "rankrl.json").write_text("{}")
    (folder / "training_args.bin").write_bytes(b"x")
    assert weights_fingerprint(folder) == base
    # same bytes written again (training continued into the folder): new mtime
    weights = folder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    rewritten = weights_fingerprint(folder)
    assert rewritten != base
    # the chat template (prompt rendering) is hashed by content
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = "{{ messages[0]['content'] }}"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    assert weights_fingerprint(folder) not in (base, rewritten)
    # the id: resolved path + fingerprint, an adapter with its own
    ident = model_id(folder)
    assert ident == f"hf:{folder.resolve()}@{weights_fingerprint(folder)}"
    assert split_model_id(ident.removeprefix("hf:")) == (str(folder.resolve()), weights_fingerprint(folder))
    assert model_id(folder, tiny_model) == f"{ident}+lora:{tiny_model.resolve()}@{base}"
    assert model_id("org/not-cached-model") == "hf:org/not-cached-model"  # a hub id with no local snapshot


def test_vllm_missing_is_a_clear_error():
    from rankrl.eval.backends.vllm import require_vllm, vllm_available

    if vllm_available():
        pytest.skip("vllm is installed: the missing-package message cannot be shown")
    with pytest.raises(RankrlError, match=r"pip install -e '\.\[vllm\]'"):
        require_vllm()


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_backend_generates_with_token_counts(tiny_model):
    pytest.importorskip("vllm", reason="vllm is not installed (optional extra; 'make test-vllm' runs this tier)")
    from rankrl.eval.backends.vllm import VLLMBackend

    backend = VLLMBackend(tiny_model, batch_size=8, gpu_memory_utilization=0.2, max_model_len=2048,
                          enforce_eager=True)
    prompts_ = _prompts(3)
    gens = backend.generate(prompts_, Sampling(max_new_tokens=8, logprobs=3))
    assert len(gens) == 3
    for p, g in zip(prompts_, gens):
        assert 1 <= g.completion_tokens <= 8 and g.prompt_tokens > 0
        assert isinstance(g.answer_logprobs, list)
    again = backend.generate(prompts_, Sampling(max_new_tokens=8, logprobs=3))
    assert [g.text for g in gens] == [g.text for g in again]  # greedy is deterministic
    sampled = backend.generate(prompts_, Sampling(temperature=1.0, seed=1, max_new_tokens=8))
    assert [g.text for g in sampled] == [g.text for g in backend.generate(prompts_[::-1], Sampling(
        temperature=1.0, seed=1, max_new_tokens=8))][::-1]  # per-prompt seeds: batch order does not matter


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_backend_serves_a_lora_adapter(tiny_model, tmp_path):
    pytest.importorskip("vllm", reason="vllm is not installed (optional extra; 'make test-vllm' runs this tier)")
    from rankrl.eval.backends.vllm import VLLMBackend, lora_rank

    adapter = _adapter(tiny_model, tmp_path / "adapter")
    assert lora_rank(adapter) == 8  # r=4 rounds up to the smallest rank vLLM accepts
    backend = VLLMBackend(adapter, batch_size=8, gpu_memory_utilization=0.2, max_model_len=2048,
                          enforce_eager=True)
    assert backend.lora_request is not None and "+lora:" in backend.model_id
    gens = backend.generate(_prompts(2), Sampling(max_new_tokens=6))
    assert len(gens) == 2 and all(1 <= g.completion_tokens <= 6 for g in gens)
