"""``rankrl tiny-model DIR``: a tiny causal LM built offline, for tests, the quickstart and cluster smoke tests.

Random weights in a Qwen3 config (Qwen3, not Qwen2: for ``qwen2`` transformers 5.x swaps in its own tokenizer
class and changes pre-tokenization; ``head_dim`` 32 because vLLM's CPU attention rejects 16), a byte-level BPE
tokenizer trained with ``tokenizers`` on a small built-in corpus, a ChatML chat template, pad and EOS tokens.

``<think>``, ``</think>``, ``<answer>``, ``</answer>`` are *ordinary* added tokens: TRL decodes completions with
``skip_special_tokens=True``, which would delete special ones before the rewards see them.

A random model never emits EOS, so every GRPO completion would be truncated and the loss variants would collapse.
``--warmup-steps`` runs a few seconds of supervised training on well-formed answers rendered by the paradigm
(``render_answer``) with *random* answer values: the model learns the format and to stop, not relevance.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.rl.tokens import ANSWER_TAGS, check_answer_tags

INFO_FILE = "tiny_model.json"
"""Written into every folder this command builds: what ``--overwrite`` may replace."""
PAD_TOKEN = "<|endoftext|>"
EOS_TOKEN = "<|im_end|>"
SPECIAL_TOKENS = (PAD_TOKEN, "<|im_start|>", EOS_TOKEN)
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Words for the tokenizer corpus and for warm-up queries/passages/reasoning. Small on purpose.
WORDS = (
    "query", "passage", "document", "relevant", "relevance", "rank", "ranking", "answer", "question",
    "search", "retrieval", "result", "best", "most", "least", "first", "second", "third", "order", "score",
    "because", "mentions", "topic", "about", "match", "matches", "keyword", "evidence", "partial", "not",
    "the", "a", "of", "to", "in", "and", "is", "are", "for", "with", "on", "this", "that", "which", "what",
    "how", "why", "when", "where", "who", "river", "city", "music", "history", "science", "ocean", "animal",
    "planet", "energy", "health", "law", "sport", "water", "computer", "language", "food", "travel",
    "market", "disease", "climate", "protein", "engine", "bridge", "garden", "painting", "novel", "battery",
    "volcano", "galaxy", "vaccine", "currency"
)
_INSTRUCTIONS = (
    (
        "You are a search assistant. Given a query and candidate passages labelled [1] to [20], reason step by "
        "step inside <think> </think> and give the final answer inside <answer> </answer>."
    ),
    "Select the single most relevant passage and answer with its label, for example <answer>[3]</answer>.",
    "Rank all passages from most to least relevant, for example <answer>[3] > [1] > [2]</answer>.",
    "Rate how relevant the passage is to the query on a scale from 0 to 10, or answer true or false.",
    'Score every passage from 0 to 10 and answer with JSON, for example <answer>{"[1]": 7, "[2]": 3}</answer>.',
    "Query: Passages: Passage [1]: [2]: Title: Answer: Reasoning: system user assistant",
)


@dataclass(frozen=True)
class TinySpec:
    """Size of the tiny model (defaults: ~0.2 M parameters, builds in under a second)."""

    vocab_size: int = 2048
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    head_dim: int = 32
    max_position_embeddings: int = 8192


def _vocabulary() -> list[str]:
    """Words for warm-up texts: the built-in list plus the synthetic benchmark's words (the quickstart task)."""
    from rankrl.data.synthetic import FILLER, KEYWORDS

    return list(WORDS) + list(KEYWORDS) + list(FILLER)


def _corpus(seed: int) -> list[str]:
    """Built-in text the tokenizer is trained on: ranking vocabulary, answer syntax, and rendered prompts of every
    paradigm's default template, so instructions compress to about one token per word (shorter sequences make
    warm-up and GRPO steps faster)."""
    from rankrl import prompts
    rng = random.Random(seed)
    words = _vocabulary()
    lines = list(_INSTRUCTIONS)
    for n in range(1, 21):
        lines.append(" ".join(f"[{i}]" for i in range(1, n + 1)))
        lines.append(" > ".join(f"[{i}]" for i in rng.sample(range(1, 21), min(n, 20))))
        lines.append("{" + ", ".join(f'"[{i}]": {rng.randint(0, 10)}' for i in range(1, n + 1)) + "}")
    for _ in range(300):
        lines.append(" ".join(rng.choices(words, k=rng.randint(4, 16))) + rng.choice([".", "?", "!", ",", ""]))
    lines += [" ".join(str(i) for i in range(101)), "true false yes no True False 0.5 1.0"]
    # Binary answers and line-initial words (no leading space) as single tokens: with "false" split in two, early
    # GRPO updates broke its second token, so only "false" answers failed the format and a run collapsed onto
    # "true" (measured in the quickstart study; see README).
    lines += ["<answer>false</answer> <answer>true</answer>", "false true", "<answer>false</answer>"] * 20
    lines += ["\n".join(words)] * 10
    for name in prompts.PARADIGMS:
        paradigm = prompts.get_paradigm(name)
        for _ in range(20):
            messages, completion, _ = _warmup_example(paradigm, rng, words)
            lines += [m["content"] for m in messages] + [completion]
    return lines


def build_tokenizer(vocab_size: int = TinySpec.vocab_size, seed: int = 0) -> Any:
    """Train a byte-level BPE tokenizer on the built-in corpus and wrap it for transformers."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer)
    # Ordinary (non-special) added tokens: always one token each, and kept by decode(skip_special_tokens=True).
    tok.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in ANSWER_TAGS])
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD_TOKEN, eos_token=EOS_TOKEN, padding_side="left"
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    return hf_tok


def build_model(tokenizer: Any, spec: TinySpec = TinySpec(), seed: int = 0) -> Any:
    """Random-weight Qwen3 causal LM sized by ``spec``; generation stops at the tokenizer's EOS."""
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.head_dim,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, do_sample=True
    )
    return model


# ----------------------------------------------------------------------------------------------- warm-up


def _warmup_example(
    paradigm: Any, rng: random.Random, words: Sequence[str] = WORDS
) -> tuple[list[dict[str, str]], str, int]:
    """(messages, completion, number of passages) with a random, well-formed answer (format only, never a gold
    label)."""
    from rankrl.core.rng import StdlibGenerator

    n = 1 if paradigm.one_passage_per_prompt else rng.randint(2, 5)
    query = " ".join(rng.choices(words, k=rng.randint(2, 5)))
    passages = [" ".join(rng.choices(words, k=rng.randint(3, 10))) for _ in range(n)]
    value = paradigm.random_value(n, StdlibGenerator(rng))  # the paradigm's random answer, same stream as before
    reasoning = " ".join(rng.choices(words, k=rng.randint(0, 12)))
    return paradigm.messages(query, passages), paradigm.render_answer(value, reasoning), n


def _encode_pair(tokenizer: Any, messages: list[dict[str, str]], completion: str) -> tuple[list[int], int]:
    """Token ids of prompt + completion + EOS (prompt tokenized as TRL does) and the prompt length."""
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt_ids + completion_ids, len(prompt_ids)


def warm_up(
    model: Any,
    tokenizer: Any,
    paradigms: list[Any],
    steps: int,
    *,
    seed: int = 0,
    batch_size: int = 8,
    learning_rate: float = 5e-3,
) -> dict[str, float]:
    """Supervised warm-up on random well-formed answers; loss on completion tokens (and EOS) only."""
    import torch

    rng = random.Random(seed)
    words = _vocabulary()
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    loss_value, start = float("nan"), time.perf_counter()
    for step in range(steps):
        batch = []
        for i in range(batch_size):
            paradigm = paradigms[(step * batch_size + i) % len(paradigms)]
            messages, completion, _ = _warmup_example(paradigm, rng, words)
            batch.append(_encode_pair(tokenizer, messages, completion))
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((batch_size, width), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((batch_size, width), -100, dtype=torch.long)
        attention = torch.zeros((batch_size, width), dtype=torch.long)
        for row, (ids, prompt_len) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
            attention[row, : len(ids)] = 1
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss_value = float(loss.item())
    model.train(False)  # inference mode
    return {"steps": steps, "final_loss": loss_value, "seconds": time.perf_counter() - start}


def sample_check(model: Any, tokenizer: Any, paradigms: list[Any], *, n: int = 8, seed: int = 1) -> dict[str, float]:
    """Sample completions as GRPO would: EOS rate, parse-ok rate and the spread of completion lengths."""
    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    ended, parsed, lengths = 0, 0, []
    for i in range(n):
        paradigm = paradigms[i % len(paradigms)]
        messages, _, num_passages = _warmup_example(paradigm, rng, _vocabulary())
        enc = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=96, do_sample=True)[0, enc["input_ids"].shape[1] :]
        ids = out.tolist()
        ended += tokenizer.eos_token_id in ids
        lengths.append(ids.index(tokenizer.eos_token_id) + 1 if tokenizer.eos_token_id in ids else len(ids))
        text = tokenizer.decode(out, skip_special_tokens=True)
        result = paradigm.parse(text, num_passages)
        parsed += bool(result.ok and result.format_ok)
    return {
        "eos_rate": ended / n,
        "format_ok_rate": parsed / n,
        "min_length": float(min(lengths)),
        "max_length": float(max(lengths)),
    }


# ----------------------------------------------------------------------------------------------- build + CLI


def build_tiny_model(
    directory: str | Path,
    *,
    seed: int = 0,
    warmup_steps: int = 0,
    paradigm: str = "all",
    spec: TinySpec = TinySpec(),
    overwrite: bool = False,
    threads: int | None = 1,
    log: Any = print,
) -> dict[str, Any]:
    """Build, optionally warm up, and save a tiny model to ``directory`` (written whole, then renamed into place).

    ``threads``: torch CPU threads during the warm-up (restored afterwards); None keeps torch's setting.
    ``overwrite`` replaces only a folder this command wrote (``tiny_model.json``) or an empty one."""
    from rankrl.core.atomic import (
        apply_umask,
        check_creatable,
        clean_stale_staging,
        make_staging,
        release_staging,
        storage_errors,
    )

    directory = Path(directory)
    if warmup_steps < 0:
        raise RankrlError(f"--warmup-steps must be >= 0, got {warmup_steps}")
    if threads is not None and threads < 1:
        raise RankrlError(f"--threads must be >= 1, got {threads}")
    check_replaceable(directory, overwrite)
    resolved = _resolve_paradigms(paradigm)  # an unknown name fails even without a warm-up
    paradigms = resolved if warmup_steps else []
    check_creatable(directory, "output folder")  # before seconds of building and warm-up
    for debris in clean_stale_staging(directory.parent, directory.name):
        log(f"removed {debris}: a staging folder left by an interrupted `rankrl tiny-model`")

    tokenizer = build_tokenizer(spec.vocab_size, seed=seed)
    check_answer_tags(tokenizer, source="tiny-model tokenizer")
    model = build_model(tokenizer, spec, seed=seed)
    info: dict[str, Any] = {
        "seed": seed,
        "spec": asdict(spec),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab": len(tokenizer),
    }
    if warmup_steps:
        import torch

        previous = torch.get_num_threads()
        if threads:  # a 64-wide model: thread start-up costs more than it saves, and contention much more
            torch.set_num_threads(threads)
        try:
            info["warmup"] = warm_up(model, tokenizer, paradigms, warmup_steps, seed=seed)
            info["warmup"]["paradigms"] = [p.name if p.template_name == p.name else f"{p.name}:{p.template_name}"
                                           for p in paradigms]
            info["sample_check"] = sample_check(model, tokenizer, paradigms)
        finally:
            torch.set_num_threads(previous)

    staging = make_staging(directory.parent, directory.name)  # marked with our PID: a rerun removes it if killed
    try:
        with storage_errors(directory):  # a full disk: "cannot access DIR: No space left on device", exit 2
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            (staging / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
            if len(paradigms) == 1:
                from rankrl.core.metadata import write_metadata

                write_metadata(staging, {**paradigms[0].metadata(), "paradigm": paradigms[0].name,
                                         "source": "rankrl tiny-model"})
        release_staging(staging)
        apply_umask(staging)  # safetensors writes model.safetensors 0600; outputs get the umask's mode
        _replace(staging, directory, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log(
        f"tiny model: {info['parameters']:,} parameters, vocab {info['vocab']} -> {directory}"
        + (
            f"; warm-up {warmup_steps} steps in {info['warmup']['seconds']:.1f}s (loss "
            f"{info['warmup']['final_loss']:.3f}); samples: EOS {info['sample_check']['eos_rate']:.0%}, "
            f"format ok {info['sample_check']['format_ok_rate']:.0%}, length "
            f"{info['sample_check']['min_length']:.0f}-{info['sample_check']['max_length']:.0f}"
            if warmup_steps
            else ""
        )
    )
    return info


def check_replaceable(directory: Path, overwrite: bool) -> None:
    """An existing output is replaced only with ``--overwrite``, and then only when it is empty or was written by
    ``rankrl tiny-model`` (has ``tiny_model.json``): ``rankrl.core.outputs.check_replaceable``."""
    from rankrl.core.outputs import check_replaceable as check

    check(directory, overwrite, written_by_us=lambda d: (d / INFO_FILE).is_file(), command="rankrl tiny-model",
          marker=INFO_FILE)


def _replace(staging: Path, directory: Path, overwrite: bool = False) -> None:
    """Rename the finished ``staging`` folder to ``directory``; an old one is renamed aside first and removed
    after, so the path always holds a whole model.

    The destination is checked again here, not only at the start: a folder someone created there while the model
    was being built is not this command's to replace. And what was renamed aside is checked once more before it is
    deleted (it must hold ``tiny_model.json`` or nothing); otherwise it is put back and the command fails."""
    if not directory.exists() and not directory.is_symlink():
        try:
            os.rename(staging, directory)  # fails on a non-empty folder that appeared in the meantime
            return
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise
            raise _appeared(directory) from None
    try:
        check_replaceable(directory, overwrite)
    except RankrlError:
        raise _appeared(directory) from None
    trash = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=directory.parent))
    aside = trash / directory.name
    os.replace(directory, aside)
    try:
        if aside.is_dir() and any(aside.iterdir()) and not (aside / INFO_FILE).is_file():
            raise _appeared(directory)  # swapped for a foreign folder between the check and the rename
        os.replace(staging, directory)
    except BaseException:
        os.replace(aside, directory)  # put the old folder back
        shutil.rmtree(trash, ignore_errors=True)
        raise
    shutil.rmtree(trash, ignore_errors=True)


def _appeared(directory: Path) -> RankrlError:
    return RankrlError(
        f"{directory} was created by someone else while `rankrl tiny-model` was building (it is not empty and has "
        f"no {INFO_FILE}): it is left untouched and the new model is discarded; choose another folder"
    )


def _resolve_paradigms(name: str) -> list[Any]:
    from rankrl import prompts
    if name != "all":
        return [prompts.get_paradigm(name)]
    # "all" also covers the true/false pointwise template that rl/recipes/tiny.yaml trains with, so a smoke run of
    # that recipe on a warmed-up tiny model sees parsable answers and varied rewards.
    return [prompts.get_paradigm(n) for n in prompts.PARADIGMS] + [
        prompts.get_paradigm("pointwise", template="pointwise-binary")
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rankrl tiny-model", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)  # `--warmup 3` must not silently mean --warmup-steps
    parser.add_argument("directory", help="output folder (save_pretrained layout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--warmup-steps", type=int, default=150,
        help="supervised format warm-up steps (batch 8, ~0.15 s each on one CPU core); 0 keeps the random model",
    )
    parser.add_argument(
        "--paradigm", default="all",
        help="paradigm whose answer format the warm-up teaches: setwise, listwise, pointwise, groupwise or all",
    )
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace a folder an earlier `rankrl tiny-model` wrote (with {INFO_FILE})")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads for the warm-up, >= 1 (default 1: fastest for a model this small)",
    )
    args = parser.parse_args(argv)
    build_tiny_model(
        args.directory, seed=args.seed, warmup_steps=args.warmup_steps, paradigm=args.paradigm,
        overwrite=args.overwrite, threads=args.threads,
    )
    return 0
