"""vLLM offline-engine backend: ``LLM.chat`` with one ``SamplingParams`` per prompt.

vLLM is an optional extra (``pip install 'rankrl[vllm]'``, CUDA wheels) imported only when this backend is built.
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
from rankrl.eval.backends.base import Generation, Prompt, Sampling, answer_logprobs, merge_alternatives, request_seed
from rankrl.core.model_path import check_model_path
from rankrl.eval.backends.hf import model_id, resolve_model_dir
from rankrl.eval.cache import cache_key

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""Values vLLM accepts for ``max_lora_rank``."""


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def require_vllm() -> None:
    if not vllm_available():
        raise RankrlError("--backend vllm needs the vllm package: pip install 'rankrl[vllm]' (CUDA GPUs; for a "
                          "CPU test environment see 'make test-vllm' in docs/evaluation.md), or use --backend hf")


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
        if sampling.logprobs > 0:
            kwargs["logprobs"] = sampling.logprobs
        return self._SamplingParams(**kwargs)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        params = [self._params(p, sampling) for p in prompts]
        call: dict[str, Any] = {"use_tqdm": False}
        if self.lora_request is not None:
            call["lora_request"] = self.lora_request
        if self.chat_template_kwargs:
            call["chat_template_kwargs"] = self.chat_template_kwargs
        outputs = self.llm.chat([p.chat() for p in prompts], params, **call)
        return [self._generation(out, sampling) for out in outputs]

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
            lp = answer_logprobs(tokens[:len(tops)], tops)
        return Generation(text=completion.text, prompt_tokens=len(out.prompt_token_ids or []),
                          completion_tokens=len(token_ids), answer_logprobs=lp,
                          finish_reason=str(completion.finish_reason or ""))
