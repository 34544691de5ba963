"""Generation backends: transformers (``hf``) and vLLM's offline engine (``vllm``), built lazily by name from
typed ``BackendOptions``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rankrl.core.errors import unknown_name
from rankrl.core.fields import from_mapping
from rankrl.eval.backends.base import Backend, Generation, Prompt, Sampling, answer_logprobs

BACKENDS = ("vllm", "hf")
DEFAULT_BATCH_SIZE = {"hf": 8, "vllm": 4096}


@dataclass(frozen=True)
class BackendOptions:
    """Settings of both backends; each reads the ones it has (``hf``: adapter, batch_size, device, dtype,
    chat_template_kwargs, trust_remote_code; ``vllm``: all but device)."""

    adapter: str | None = field(default=None, metadata={"help": "LoRA adapter folder (peft)"})
    batch_size: int | None = field(default=None, metadata={"help": "prompts per call (default: hf 8, vllm 4096)"})
    device: str = field(default="auto", metadata={"help": "hf: cpu, cuda, cuda:1 …"})
    dtype: str = field(default="auto", metadata={"help": "model dtype"})
    chat_template_kwargs: dict[str, Any] | None = field(default=None, metadata={"help": "chat template kwargs"})
    trust_remote_code: bool = field(default=False, metadata={"help": "run the model repository's code"})
    tensor_parallel_size: int = field(default=1, metadata={"help": "vllm: GPUs per model"})
    max_model_len: int | None = field(default=None, metadata={"help": "vllm: context length"})
    gpu_memory_utilization: float = field(default=0.9, metadata={"help": "vllm: memory fraction"})
    enforce_eager: bool = field(default=False, metadata={"help": "vllm: no CUDA graphs"})
    seed: int = field(default=0, metadata={"help": "vllm: engine seed"})

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> BackendOptions:
        return from_mapping(cls, options, "backend")

    def for_backend(self, name: str) -> dict[str, Any]:
        """The keyword arguments backend ``name`` takes (what ``settings`` records)."""
        if name not in BACKENDS:
            raise unknown_name("backend", name, BACKENDS)
        common = {"adapter": self.adapter, "dtype": self.dtype, "chat_template_kwargs": dict(self.chat_template_kwargs
                  or {}), "batch_size": self.batch_size or DEFAULT_BATCH_SIZE[name]}
        if self.trust_remote_code:
            common["trust_remote_code"] = True
        if name == "hf":
            return {**common, "device": self.device}
        return {**common, "tensor_parallel_size": self.tensor_parallel_size, "max_model_len": self.max_model_len,
                "seed": self.seed, "gpu_memory_utilization": self.gpu_memory_utilization,
                "enforce_eager": self.enforce_eager}


def build_backend(name: str, model: str, options: BackendOptions | None = None) -> Backend:
    """Build a backend; heavy imports (torch, transformers, vllm) happen here, not at module import."""
    kwargs = (options or BackendOptions()).for_backend(name)
    if name == "hf":
        from rankrl.eval.backends.hf import HFBackend

        return HFBackend(model, **kwargs)
    from rankrl.eval.backends.vllm import VLLMBackend

    return VLLMBackend(model, **kwargs)


__all__ = ["BACKENDS", "Backend", "BackendOptions", "Generation", "Prompt", "Sampling", "answer_logprobs",
           "build_backend"]
