"""vLLM offline-engine backend: ``LLM.chat`` with one ``SamplingParams`` per prompt.

vLLM is an optional extra (``pip install -e '.[vllm]'``, CUDA wheels) imported only when this backend is built.
Each prompt gets its own sampling seed derived from (seed, prompt hash), so a sampled completion does not depend
on which batch it lands in: a resumed evaluation regenerates exactly what an uninterrupted one would have.
A LoRA adapter (a peft folder) is served through ``LoRARequest`` on the base model.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.core.model_path import check_model_path
from rankrl.eval.backends.base import (
    Generation,
    Prompt,
    Sampling,
    answer_logprobs,
    merge_alternatives,
    request_seed,
)
from rankrl.eval.backends.hf import model_id, resolve_model_dir
from rankrl.eval.backends.protocols import forced_prompt, judge_token_ids, judged
from rankrl.eval.cache import cache_key
from rankrl.prompts.render import adds_special_tokens, is_raw, prompt_text, split_prefill

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""Values vLLM accepts for ``max_lora_rank``."""


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def require_vllm() -> None:
    if not vllm_available():
        raise RankrlError("--backend vllm needs the vllm package: pip install -e '.[vllm]' (CUDA GPUs; a CPU "
                          "test environment: 'make test-vllm', see docs/evaluation.md), or use --backend hf")


def lora_rank(adapter: str | Path) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds the adapter's rank ``r``."""
    path = Path(adapter) / "adapter_config.json"
    try:
        r = int(json.loads(path.read_text(encoding="utf-8")).get("r", 16))
    except (OSError, ValueError, json.JSONDecodeError) as err:
        raise RankrlError(f"{path}: cannot read the LoRA rank ({err})") from err
    return next((v for v in LORA_RANKS if v >= r), r)


class VLLMBackend:
    def __init__(self, model: str | Path, *, adapter: str | Path | None = None, tensor_parallel_size: int = 1,
                 max_model_len: int | None = None, gpu_memory_utilization: float = 0.9, dtype: str = "auto",
                 batch_size: int = 4096, seed: int = 0, enforce_eager: bool = False,
                 chat_template_kwargs: dict[str, Any] | None = None, trust_remote_code: bool = False,
                 **engine_kwargs: Any):
        require_vllm()
        vllm = importlib.import_module("vllm")
        check_model_path(model, "model")
        check_model_path(adapter, "adapter")
        base, adapter = resolve_model_dir(model, adapter)
        if batch_size < 1:
            raise RankrlError(f"--batch-size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        kwargs: dict[str, Any] = dict(model=base, tensor_parallel_size=tensor_parallel_size, dtype=dtype,
                                      gpu_memory_utilization=gpu_memory_utilization, seed=seed,
                                      enforce_eager=enforce_eager, trust_remote_code=trust_remote_code,
                                      **engine_kwargs)
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.lora_request = None
        if adapter:
            kwargs.update(enable_lora=True, max_lora_rank=lora_rank(adapter))
            from vllm.lora.request import LoRARequest

            self.lora_request = LoRARequest("rankrl-adapter", 1, str(adapter))
        self.llm = vllm.LLM(**kwargs)
        # Same id as the transformers backend (path + weights fingerprint), computed once the model is loaded.
        self.model_id = model_id(base, adapter)
        self._SamplingParams = vllm.SamplingParams
        self.tokenizer = self.llm.get_tokenizer()

    def _params(self, prompt: Prompt, sampling: Sampling) -> Any:
        kwargs: dict[str, Any] = {"max_tokens": sampling.max_new_tokens}
        if sampling.greedy:
            kwargs["temperature"] = 0.0
        else:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p,
                          seed=request_seed(sampling.seed, cache_key(self.model_id, prompt, sampling)))
        logprobs = max(sampling.logprobs, 1) if sampling.judge is not None else sampling.logprobs
        if logprobs > 0:
            kwargs["logprobs"] = logprobs
        stops = sampling.all_stops()
        if stops:
            kwargs["stop"] = stops
        if sampling.judge is not None:
            kwargs["skip_special_tokens"] = False  # as Rank1 generates
        return self._SamplingParams(**kwargs)

    def _token_ids(self, prompt: Prompt) -> list[int]:
        text = prompt_text(prompt.chat(), self.tokenizer, self.chat_template_kwargs)
        return list(self.tokenizer(text, add_special_tokens=adds_special_tokens(prompt.messages))["input_ids"])

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """Chat prompts go through ``LLM.chat`` (vLLM applies the chat template, as the published evaluation
        scripts do); raw-text and prefilled prompts are rendered by ``prompts.render`` and sent as token ids."""
        params = [self._params(p, sampling) for p in prompts]
        call: dict[str, Any] = {"use_tqdm": False}
        if self.lora_request is not None:
            call["lora_request"] = self.lora_request
        as_tokens = [is_raw(p.messages) or bool(split_prefill(p.messages)[1]) for p in prompts]
        if any(as_tokens):
            if not all(as_tokens):
                raise RankrlError("one batch mixes raw or prefilled prompts with plain chat prompts; evaluate one "
                                  "template at a time")
            token_prompts = [{"prompt_token_ids": self._token_ids(p)} for p in prompts]
            outputs = self.llm.generate(token_prompts, params, **call)
        else:
            if self.chat_template_kwargs:
                call["chat_template_kwargs"] = self.chat_template_kwargs
            outputs = self.llm.chat([p.chat() for p in prompts], params, **call)
        results = [self._generation(out, sampling) for out in outputs]
        if sampling.judge is not None:
            self._judge(prompts, outputs, results, sampling)
        return results

    def _token_text(self, token_id: int, alternatives: Any) -> str:
        entry = alternatives.get(token_id) if alternatives else None
        text = getattr(entry, "decoded_token", None)
        return text if text is not None else self.tokenizer.decode([token_id])

    def _generation(self, out: Any, sampling: Sampling) -> Generation:
        completion = out.outputs[0]
        token_ids = list(completion.token_ids)
        lp = None
        if sampling.logprobs > 0 and completion.logprobs is not None:
            steps = list(completion.logprobs)
            tokens = [self._token_text(t, steps[i] if i < len(steps) else None) for i, t in enumerate(token_ids)]
            tops = [merge_alternatives((self._token_text(tid, step), float(entry.logprob))
                                       for tid, entry in step.items()) for step in steps]
            lp = answer_logprobs(tokens[:len(tops)], tops, marker=sampling.logprobs_after)
        return Generation(text=completion.text, prompt_tokens=len(out.prompt_token_ids or []),
                          completion_tokens=len(token_ids), answer_logprobs=lp,
                          finish_reason=str(completion.finish_reason or ""))

    def _judge(self, prompts: Sequence[Prompt], outputs: Sequence[Any], results: list[Generation],
               sampling: Sampling) -> None:
        """Rank1's protocol (``backends.protocols``): the last step's top logprobs when the generation stopped on
        ``close + true|false`` with both tokens among them; otherwise the forced prompt is scored through
        ``prompt_logprobs`` of ``forced + [true]`` and ``forced + [false]`` (exact log-probabilities whatever
        vLLM's logprobs mode, unlike a restricted one-token generation)."""
        judge = sampling.judge
        assert judge is not None
        close = judge[0]
        true_id, false_id = judge_token_ids(self.tokenizer, judge)
        pending: list[int] = []
        for i, out in enumerate(outputs):
            completion = out.outputs[0]
            steps = list(completion.logprobs or [])
            stop_reason = getattr(completion, "stop_reason", None)
            stopped = isinstance(stop_reason, str) and stop_reason.startswith(close)
            last = steps[-1] if steps else {}
            if stopped and true_id in last and false_id in last:
                base = Generation(results[i].text, results[i].prompt_tokens, results[i].completion_tokens, None,
                                  results[i].finish_reason)
                results[i] = judged(base, judge, float(last[true_id].logprob), float(last[false_id].logprob),
                                    forced=False)
            else:
                pending.append(i)
        if not pending:
            return
        requests = []
        for i in pending:
            text = forced_prompt(prompt_text(prompts[i].chat(), self.tokenizer, self.chat_template_kwargs),
                                 results[i].text, close)
            ids = list(self.tokenizer(text, add_special_tokens=adds_special_tokens(prompts[i].messages))["input_ids"])
            requests += [{"prompt_token_ids": ids + [true_id]}, {"prompt_token_ids": ids + [false_id]}]
        params = self._SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        call: dict[str, Any] = {"use_tqdm": False}
        if self.lora_request is not None:
            call["lora_request"] = self.lora_request
        scored = self.llm.generate(requests, params, **call)
        for n, i in enumerate(pending):
            lp_true = float(scored[2 * n].prompt_logprobs[-1][true_id].logprob)
            lp_false = float(scored[2 * n + 1].prompt_logprobs[-1][false_id].logprob)
            base = Generation(results[i].text, results[i].prompt_tokens, results[i].completion_tokens, None,
                              results[i].finish_reason)
            results[i] = judged(base, judge, lp_true, lp_false, forced=True, extra_tokens=1)
