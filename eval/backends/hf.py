"""transformers backend: batched ``generate`` with left padding, on CPU or GPU.

Greedy by default; with ``temperature > 0`` it samples with a torch generator seeded per batch from the sampling
seed (vLLM seeds each prompt instead, see ``backends.vllm``). Logprobs, when asked for, are the top alternatives of
the scores ``generate`` samples from (raw logits for greedy decoding; after temperature/top-p when sampling),
recorded by a logits processor that keeps only the top-n per step, never the full vocabulary.

The model id (what cached completions are keyed on, shared with the vLLM backend) is the model folder's path plus
a fingerprint of what is in it (``weights_fingerprint``), so new weights written to the same path never reuse the
completions of the old ones.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.core.model_path import check_model_path, looks_like_local_path, missing_local_model  # noqa: F401
from rankrl.eval.backends.base import Generation, Prompt, Sampling, answer_logprobs, merge_alternatives
from rankrl.eval.backends.protocols import cut_at_stop, forced_prompt, judge_token_ids, judged
from rankrl.prompts.render import adds_special_tokens, is_raw, prompt_text

# Files whose *content* changes what a model generates: hashed whole (all small).
CONTENT_FILES = frozenset({
    "config.json", "generation_config.json", "adapter_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json", "vocab.json",
    "merges.txt", "tokenizer.model", "model.safetensors.index.json", "pytorch_model.bin.index.json",
    "adapter_model.safetensors.index.json",
})
# Weight files: too large to hash (GBs); fingerprinted by size, mtime and, for safetensors, the header.
WEIGHT_SUFFIXES = (".safetensors", ".bin")
NOT_WEIGHTS = frozenset({"training_args.bin"})
_MAX_HEADER = 100 * 2**20  # safetensors caps its JSON header at 100 MB


def _safetensors_header(path: Path) -> bytes:
    """The JSON header of a safetensors file (tensor names, dtypes, shapes, offsets, metadata); b"" if unreadable."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return b""
            (length,) = struct.unpack("<Q", head)
            return handle.read(length) if length <= _MAX_HEADER else b""
    except OSError:
        return b""


def weights_fingerprint(folder: str | Path) -> str:
    """A cheap fingerprint of a local model (or adapter) folder: sha256 over the content of its config, tokenizer
    and chat-template files, and over each weight file's name, size, modification time (ns) and safetensors header.

    Why not a hash of the weights: they are GBs and eval would spend minutes reading them before every run. The
    size + mtime of every weight file changes whenever weights are written (training continued into the same
    folder, a copy over it), and the headers catch a layout change; the tokenizer and chat template are hashed
    because they change the prompt the model sees. The price of the cheap way is false alarms, never stale reuse:
    touching or re-copying the same weights (new mtime) regenerates the completions once.
    """
    folder = Path(folder)
    digest = hashlib.sha256()

    def add(*parts: bytes) -> None:
        for part in parts:
            digest.update(b"%d:" % len(part))
            digest.update(part)

    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:
        return "unreadable"
    for path in entries:
        name = path.name
        if name in CONTENT_FILES:
            try:
                add(b"file", name.encode(), path.read_bytes())
            except OSError:
                add(b"unreadable", name.encode())
        elif name.endswith(WEIGHT_SUFFIXES) and name not in NOT_WEIGHTS:
            st = path.stat()
            add(b"weights", name.encode(), str(st.st_size).encode(), str(st.st_mtime_ns).encode())
            if name.endswith(".safetensors"):
                add(_safetensors_header(path))
    return digest.hexdigest()[:16]


def _hub_revision(repo_id: str) -> str | None:
    """The commit of a hub model's cached snapshot (after loading it), or None when unknown."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # noqa: BLE001 - a fingerprint is best effort for hub ids
        return None
    if isinstance(found, str):
        parent = Path(found).parent
        if parent.parent.name == "snapshots":
            return parent.name
    return None


def _part_id(model: str | Path) -> str:
    path = Path(str(model)).expanduser()
    if path.exists():
        return f"{path.resolve()}@{weights_fingerprint(path)}"
    revision = _hub_revision(str(model))
    return f"{model}@rev:{revision}" if revision else str(model)


def model_id(base: str | Path, adapter: str | Path | None = None) -> str:
    """What cached completions depend on besides prompt and sampling: ``hf:<path>@<fingerprint>`` (a local
    folder), ``hf:<repo>@rev:<commit>`` (a hub model found in the local cache) or ``hf:<repo>``, plus
    ``+lora:<path>@<fingerprint>`` for an adapter."""
    return f"hf:{_part_id(base)}" + (f"+lora:{_part_id(adapter)}" if adapter else "")


def split_model_id(value: str) -> tuple[str, str]:
    """(where, fingerprint) of one model id part, e.g. ('/ckpt', '3fa2…'): tells 'other weights at the same
    path' from 'another model'."""
    where, _, fingerprint = value.rpartition("@")
    return (where, fingerprint) if where else (value, "")


def resolve_model_dir(model: str | Path, adapter: str | Path | None = None) -> tuple[str, str | None]:
    """(base model, LoRA adapter): a folder holding only a peft adapter resolves to its base model."""
    path = Path(model)
    if adapter is None and path.is_dir() and (path / "adapter_config.json").is_file() \
            and not (path / "config.json").is_file():
        try:
            base = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]
        except (OSError, KeyError, json.JSONDecodeError) as err:
            raise RankrlError(f"{path / 'adapter_config.json'}: no readable base_model_name_or_path ({err}); "
                              f"pass --base-model") from err
        return str(base), str(path)
    return str(model), None if adapter is None else str(adapter)


class _TopLogprobs:
    """Logits processor that records the top-n log-probabilities of every decoding step (and changes nothing);
    ``watch`` token ids also have their log-probability recorded at every step (the true/false protocol)."""

    def __init__(self, n: int, watch: Sequence[int] = ()):
        self.n = n
        self.watch = list(watch)
        self.steps: list[tuple[Any, Any]] = []
        self.watched: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logp = torch.log_softmax(scores.float(), dim=-1)
        top = torch.topk(logp, k=min(self.n, logp.shape[-1]), dim=-1)
        self.steps.append((top.values.cpu(), top.indices.cpu()))
        if self.watch:
            self.watched.append(logp[:, self.watch].cpu())
        return scores


class _LazyTops(Sequence):
    """The top alternatives of one row's decoding steps, decoded only when read: ``answer_logprobs`` keeps a few
    positions after the answer marker, so decoding every alternative of every step (n x length tokenizer calls
    per prompt) was wasted work."""

    def __init__(self, tokenizer: Any, steps: list[tuple[Any, Any]], row: int, length: int):
        self.tokenizer, self.steps, self.row, self.length = tokenizer, steps, row, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, step: Any) -> Any:
        if isinstance(step, slice):
            return [self[i] for i in range(*step.indices(self.length))]
        if not -self.length <= step < self.length:
            raise IndexError(step)
        values, indices = self.steps[step % self.length]
        texts = self.tokenizer.batch_decode([[i] for i in indices[self.row].tolist()], skip_special_tokens=False)
        return merge_alternatives(zip(texts, values[self.row].tolist()))


class HFBackend:
    """Generation with ``transformers.AutoModelForCausalLM`` (optionally a peft LoRA adapter on top)."""

    def __init__(self, model: str | Path, *, adapter: str | Path | None = None, batch_size: int = 8,
                 device: str = "auto", dtype: str = "auto", chat_template_kwargs: dict[str, Any] | None = None,
                 trust_remote_code: bool = False):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        check_model_path(model, "model")
        check_model_path(adapter, "adapter")
        base, adapter = resolve_model_dir(model, adapter)
        if batch_size < 1:
            raise RankrlError(f"--batch-size must be >= 1, got {batch_size}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.batch_size = batch_size
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=trust_remote_code)
            torch_dtype: Any = "auto" if dtype == "auto" else getattr(torch, dtype)
            net = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype, trust_remote_code=trust_remote_code)
            if adapter:
                from peft import PeftModel

                net = PeftModel.from_pretrained(net, adapter)
        except (OSError, ValueError) as err:
            raise RankrlError(f"cannot load model {base}{' with adapter ' + str(adapter) if adapter else ''}: "
                              f"{err}") from err
        self.has_chat_template = getattr(self.tokenizer, "chat_template", None) is not None
        self.base = base
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = net.to(device).train(False)  # inference mode: no dropout
        self.model_id = model_id(base, adapter)  # after loading: a hub model's snapshot is cached by then
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}

    def render(self, prompt: Prompt) -> str:
        """The exact prompt string (``prompts.render.prompt_text``: chat template + prefill, or raw text)."""
        if not self.has_chat_template and not is_raw(prompt.messages):
            raise RankrlError(f"{self.base}: the tokenizer has no chat template, and this prompt is chat messages; "
                              "use a raw-text template (e.g. --template rank1) or a model with a chat template")
        return prompt_text(prompt.chat(), self.tokenizer, self.chat_template_kwargs)

    def _encode(self, prompts: Sequence[Prompt], texts: list[str]) -> Any:
        special = {adds_special_tokens(p.messages) for p in prompts}
        if len(special) > 1:
            raise RankrlError("one batch mixes raw-text and chat prompts; evaluate one template at a time")
        return self.tokenizer(texts, return_tensors="pt", padding=True,
                              add_special_tokens=special.pop()).to(self.device)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        import torch

        texts = [self.render(p) for p in prompts]
        enc = self._encode(prompts, texts)
        judge_ids = judge_token_ids(self.tokenizer, sampling.judge) if sampling.judge is not None else ()
        n_top = max(sampling.logprobs, 1) if sampling.judge is not None else sampling.logprobs
        recorder = _TopLogprobs(n_top, judge_ids) if n_top > 0 else None
        stops = sampling.all_stops()
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "do_sample": not sampling.greedy,
        }
        if sampling.greedy:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=None)
        if recorder is not None:
            kwargs["logits_processor"] = [recorder]
        if stops:
            kwargs.update(stop_strings=stops, tokenizer=self.tokenizer)
        with torch.random.fork_rng(devices=[] if self.device == "cpu" else None):
            torch.manual_seed(sampling.seed)
            with torch.inference_mode():
                out = self.model.generate(**enc, **kwargs)
        width = enc["input_ids"].shape[1]
        prompt_lengths = enc["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, ids in enumerate(out[:, width:].tolist()):
            length = len(ids)
            finish = "length"
            for i, tok in enumerate(ids):
                if tok in self.eos_ids:
                    length, finish = i + 1, "stop"
                    break
            kept = ids[:length]
            stop_hit = None
            if stops:
                length, stop_hit = self._stop_length(kept, stops)
                kept = kept[:length]
                if stop_hit is not None:
                    finish = "stop"
            text = self.tokenizer.decode(kept, skip_special_tokens=True)
            if stop_hit is not None:
                text = cut_at_stop(text, [stop_hit])[0]
            lp = None
            if recorder is not None and sampling.logprobs > 0:
                tokens = self.tokenizer.batch_decode([[t] for t in kept], skip_special_tokens=False)
                tops = _LazyTops(self.tokenizer, recorder.steps, row, min(length, len(recorder.steps)))
                lp = answer_logprobs(tokens[:len(tops)], tops, marker=sampling.logprobs_after)
            generation = Generation(text=text, prompt_tokens=int(prompt_lengths[row]), completion_tokens=length,
                                    answer_logprobs=lp, finish_reason=finish)
            if sampling.judge is not None:
                generation = self._judge_in_place(generation, recorder, row, length, stop_hit, judge_ids,
                                                  sampling)
            results.append(generation)
        if sampling.judge is not None:
            self._force(prompts, texts, results, judge_ids, sampling)
        return results

    def _stop_length(self, ids: list[int], stops: list[str]) -> tuple[int, str | None]:
        """(tokens up to and including the one that completes the first stop string, that string)."""
        text = ""
        for i, tok in enumerate(ids):
            text += self.tokenizer.decode([tok], skip_special_tokens=False)
            hit = cut_at_stop(text, stops)[1]
            if hit is not None:
                return i + 1, hit
        return len(ids), None

    def _judge_in_place(self, generation: Generation, recorder: Any, row: int, length: int,
                        stop_hit: str | None, judge_ids: tuple[int, ...], sampling: Sampling) -> Generation:
        """Step 2 of the true/false protocol: the last step's log-probabilities when the generation stopped on
        ``close + true|false`` and both tokens are among its top ``logprobs``; else marked for forcing."""
        close = sampling.judge[0] if sampling.judge else ""
        if stop_hit is None or not stop_hit.startswith(close) or length < 1 or length > len(recorder.steps):
            return Generation(generation.text, generation.prompt_tokens, generation.completion_tokens, None,
                              generation.finish_reason, {"judge": "pending"})
        _, indices = recorder.steps[length - 1]
        top = set(indices[row].tolist()[:max(sampling.logprobs, 1)])
        if not set(judge_ids) <= top:
            return Generation(generation.text, generation.prompt_tokens, generation.completion_tokens, None,
                              generation.finish_reason, {"judge": "pending"})
        lp_true, lp_false = recorder.watched[length - 1][row].tolist()
        base = Generation(generation.text, generation.prompt_tokens, generation.completion_tokens, None,
                          generation.finish_reason)
        return judged(base, sampling.judge, lp_true, lp_false, forced=False)

    def _force(self, prompts: Sequence[Prompt], texts: list[str], results: list[Generation],
               judge_ids: tuple[int, ...], sampling: Sampling) -> None:
        """Step 3 of the true/false protocol for the generations still pending: one forward pass over
        ``prompt + "\n" + cut text + "\n" + close`` and the next token's true/false log-probabilities."""
        import torch

        pending = [i for i, g in enumerate(results) if g.meta.get("judge") == "pending"]
        if not pending:
            return
        close = sampling.judge[0]
        forced = [forced_prompt(texts[i], results[i].text, close) for i in pending]
        enc = self._encode([prompts[i] for i in pending], forced)
        with torch.inference_mode():
            logits = self.model(**enc).logits[:, -1, :].float()
        logp = torch.log_softmax(logits, dim=-1)[:, list(judge_ids)].cpu().tolist()
        for i, (lp_true, lp_false) in zip(pending, logp):
            g = results[i]
            base = Generation(g.text, g.prompt_tokens, g.completion_tokens, None, g.finish_reason)
            results[i] = judged(base, sampling.judge, lp_true, lp_false, forced=True, extra_tokens=1)
