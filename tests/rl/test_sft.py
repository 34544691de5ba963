"""``rankrl sft``: cold-start SFT on reasoning traces with TRL's SFTTrainer, same paradigms and templates."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from rankrl import prompts
from rankrl.core.errors import ConfigError, DataFormatError

sft = importlib.import_module("rankrl.rl.sft")  # the module (rankrl.rl.sft is the API function)
from rankrl.core.metadata import read_metadata

RECIPE = Path(sft.__file__).parent / "recipes" / "sft-tiny.yaml"


def _traces(path: Path, paradigm: str = "setwise", n: int = 8, bad: int = 0) -> Path:
    from rankrl.data.synthetic import synthetic_benchmark

    p = prompts.get_paradigm(paradigm)
    bench = synthetic_benchmark(n, 4, 0)
    lines = []
    for i, (qid, query) in enumerate(bench.queries.items()):
        docids = [d for d, _ in bench.first_stage[qid]]
        grades = [bench.qrels[qid][d] for d in docids]
        value = grades.index(max(grades)) if paradigm == "setwise" else sorted(
            range(len(docids)), key=lambda j: -grades[j])
        completion = p.render_answer(value, f"passage {value if paradigm == 'setwise' else value[0]} names it")
        if i < bad:
            completion = "I cannot decide."
        passages = [{"text": bench.passages[d].text} if i % 2 else bench.passages[d].text for d in docids]
        lines.append(json.dumps({"query": query.text, "passages": passages, "completion": completion}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _flags(model: Path, traces: Path, out: Path, *extra: str) -> list[str]:
    return ["--config", str(RECIPE), "--model_name_or_path", str(model), "--traces", str(traces),
            "--output_dir", str(out), *extra]


def test_traces_are_validated_with_file_and_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"query": "q", "passages": ["a"], "completion": "c"}\n{"query": "q", "passages": [], "completion": "c"}\n')
    with pytest.raises(DataFormatError, match=r"t.jsonl:2: 'passages' must be a non-empty list"):
        sft.read_traces(path)
    path.write_text('{"query": "q", "passages": [{"title": "t"}], "completion": "c"}\n')
    with pytest.raises(DataFormatError, match=r"t.jsonl:1: passages\[0\] must be"):
        sft.read_traces(path)
    path.write_text('{"query": "q", "passages": [{"text": "x", "title": "T"}, "y"], "completion": "c"}\n')
    assert sft.read_traces(path) == [(1, "q", ["T: x", "y"], "c")]


def test_config_errors_come_before_loading(tmp_path, warm_tiny_model):
    with pytest.raises(ConfigError, match="exactly one of traces"):
        sft.main(["--config", str(RECIPE), "--model_name_or_path", str(warm_tiny_model)])
    with pytest.raises(ConfigError, match="traces file not found"):
        sft.main(_flags(warm_tiny_model, tmp_path / "none.jsonl", tmp_path / "out"))
    traces = _traces(tmp_path / "t.jsonl")
    with pytest.raises(ConfigError, match="leaves no room for the completion"):
        sft.main(_flags(warm_tiny_model, traces, tmp_path / "out", "--max_length", "300"))
    assert not (tmp_path / "out").exists()


def test_bad_output_dir_batch_and_model_are_refused_before_loading(tmp_path):
    traces = _traces(tmp_path / "t.jsonl")
    out = tmp_path / "out"
    out.write_text("a file")
    with pytest.raises(ConfigError, match=f"output_dir {out} exists and is not a folder"):
        sft.main(_flags(tmp_path / "no-model", traces, out))
    with pytest.raises(ConfigError, match=f"model folder not found: {tmp_path / 'no-model'}"):
        sft.main(_flags(tmp_path / "no-model", traces, tmp_path / "fresh"))
    with pytest.raises(ConfigError, match="per_device_train_batch_size must be >= 1, got 0"):
        sft.main(_flags(tmp_path / "no-model", traces, tmp_path / "fresh", "--per_device_train_batch_size", "0"))
    assert out.read_text() == "a file" and not (tmp_path / "fresh").exists()


def test_dry_run_counts_unparsable_traces(tmp_path, warm_tiny_model, capsys):
    traces = _traces(tmp_path / "t.jsonl", bad=3)
    assert sft.main(_flags(warm_tiny_model, traces, tmp_path / "out", "--dry_run", "true")) == 0
    assert "SFT: 5 traces (3 unparsable dropped, 0 prompts truncated, 0 longer than max_length=512)" in (
        capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_sft_trains_and_saves_a_checkpoint_with_rankrl_json(tmp_path, warm_tiny_model):
    from safetensors.torch import load_file

    traces = _traces(tmp_path / "t.jsonl", paradigm="listwise")
    out = tmp_path / "out"
    assert sft.main(_flags(warm_tiny_model, traces, out, "--paradigm", "listwise")) == 0
    for folder in (out, out / "checkpoint-4"):
        assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
        meta = read_metadata(folder)
        assert meta["paradigm"] == "listwise" and meta["training"]["trainer"] == "SFT"
        assert meta["template"]["name"] == prompts.get_paradigm("listwise").template_name
        assert meta["data"]["used"] == 8 and meta["step"] == 4
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    losses = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert len(losses) == 4 and losses[-1] < losses[0]
    before, after = load_file(warm_tiny_model / "model.safetensors"), load_file(out / "model.safetensors")
    assert any(not (before[k] == after[k]).all() for k in before)
