"""Generation backends: transformers (``hf``) and vLLM's offline engine (``vllm``), built lazily by name."""

from __future__ import annotations

from typing import Any

from rankrl.core.errors import unknown_name
from rankrl.eval.backends.base import Backend, Generation, Prompt, Sampling, answer_logprobs

BACKENDS = ("vllm", "hf")


def build_backend(name: str, model: str, **options: Any) -> Backend:
    """Build a backend; heavy imports (torch, transformers, vllm) happen here, not at module import."""
    if name == "hf":
        from rankrl.eval.backends.hf import HFBackend

        return HFBackend(model, **options)
    if name == "vllm":
        from rankrl.eval.backends.vllm import VLLMBackend

        return VLLMBackend(model, **options)
    raise unknown_name("backend", name, BACKENDS)


__all__ = ["BACKENDS", "Backend", "Generation", "Prompt", "Sampling", "answer_logprobs", "build_backend"]
