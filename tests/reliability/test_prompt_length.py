"""Second probing pass, prompt length (item 12).

Before the fix no prompt was checked against the model's context and no passage was cut by default (a 10 MB
passage ran 77 s, reached 10.7 GB and died); rows built without a token budget and trained with
``max_prompt_tokens: 4096`` lost 28 of 42 rows silently while ``rankrl.json`` recorded ``max_prompt_tokens: None``
(so evaluation built prompts longer than any seen in training); the start-up line misreported the budget of rows
built with one.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from reliability_support import SMOKE_FLAGS, TINY_RECIPE, assert_clean_error, run_cli, write_local_benchmark

from rankrl.core.errors import ConfigError
from rankrl.eval.context import CHARS_PER_TOKEN, fit_budgets_to_context

NO_BUDGETS = {"max_prompt_tokens": None, "max_passage_tokens": None, "max_passage_chars": None}


def _backend(positions: int | None):
    config = SimpleNamespace(max_position_embeddings=positions) if positions else SimpleNamespace()
    return SimpleNamespace(model=SimpleNamespace(config=config))


def _paradigm(**kw):
    return SimpleNamespace(max_prompt_tokens=kw.get("max_prompt_tokens"), max_passage_chars=kw.get("chars"))


def test_no_budget_means_the_model_context_minus_the_generation_budget():
    said = []
    out = fit_budgets_to_context(dict(NO_BUDGETS), _paradigm(), _backend(1000), 200, said.append)
    assert out["max_prompt_tokens"] == 800 and out["max_passage_chars"] == 1000 * CHARS_PER_TOKEN
    assert said and "1000 - --max-new-tokens 200 = 800 tokens" in said[0]


def test_a_budget_beyond_the_context_is_refused():
    with pytest.raises(ConfigError, match=r"max_prompt_tokens 900 \+ --max-new-tokens 200 exceeds the model's "
                                          r"context of 1000 tokens"):
        fit_budgets_to_context({**NO_BUDGETS, "max_prompt_tokens": 900}, _paradigm(), _backend(1000), 200, print)
    with pytest.raises(ConfigError, match="leaves no room"):
        fit_budgets_to_context(dict(NO_BUDGETS), _paradigm(), _backend(1000), 1000, print)


def test_the_checkpoint_budget_is_kept_and_an_unknown_context_changes_nothing():
    out = fit_budgets_to_context(dict(NO_BUDGETS), _paradigm(max_prompt_tokens=500), _backend(1000), 200, print)
    assert out["max_prompt_tokens"] is None  # the paradigm's (checkpoint's) 500 applies
    assert fit_budgets_to_context(dict(NO_BUDGETS), _paradigm(), _backend(None), 200, print) == NO_BUDGETS


@pytest.mark.slow
def test_eval_with_a_huge_passage_fits_it_to_the_context(tiny_model, tmp_path):
    bench = write_local_benchmark(tmp_path / "bench", qids=("q1",), ndocs=3)
    with open(bench / "corpus.jsonl", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    docs[0]["text"] = "river " * 400_000  # 2.4 MB
    (bench / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli(["eval", "--model", tiny_model, "--benchmark", f"local:{bench}", "--out", out, "--top-k", "3",
                      "--max-new-tokens", "8", "--device", "cpu", "--no-progress"], cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert "prompts are fitted to the model's context, 8192 - --max-new-tokens 8 = 8184 tokens" in result.stderr
    lengths = [json.loads(line)["generation"]["prompt_tokens"]
               for line in (out / "completions.cache.jsonl").read_text().splitlines()]
    assert lengths and max(lengths) <= 8184, lengths


def _build_rows(tiny_model: Path, root: Path, *budget: str) -> Path:
    bench = write_local_benchmark(root / "bench", qids=tuple(f"q{i}" for i in range(6)), ndocs=8)
    out = root / "rows"
    result = run_cli(["data", "build", "--data-source", f"benchmark:local:{bench}", "--paradigm", "setwise",
                      "--group-size", "4", "--out", out, "--no-progress", *budget], cwd=root, timeout=300)
    assert result.returncode == 0, str(result)
    return out


def _train(tiny_model: Path, rows: Path, out: Path, *extra: str) -> list:
    flags = list(SMOKE_FLAGS)
    for name in ("--synthetic_task", "--synthetic_queries"):
        i = flags.index(name)
        del flags[i:i + 2]
    return ["train", "--config", TINY_RECIPE, "--model_name_or_path", tiny_model, "--output_dir", out, *flags,
            "--data_source", "", "--dataset_dir", rows, *extra]


@pytest.mark.slow
def test_rows_over_the_training_budget_are_refused_not_dropped(tiny_model, tmp_path):
    rows = _build_rows(tiny_model, tmp_path)  # no tokenizer, no budget
    result = run_cli(_train(tiny_model, rows, tmp_path / "out", "--max_prompt_tokens", "60", "--dry_run", "true"),
                     cwd=tmp_path, timeout=600)
    assert_clean_error(result, "rows in dataset_dir", "have prompts longer than max_prompt_tokens (60",
                       "built without a token budget", "--max-prompt-tokens 60")


@pytest.mark.slow
def test_checkpoint_records_the_budget_the_rows_were_held_to(tiny_model, tmp_path):
    rows = _build_rows(tiny_model, tmp_path, "--tokenizer", str(tiny_model), "--max-prompt-tokens", "1024")
    out = tmp_path / "out"
    result = run_cli(_train(tiny_model, rows, out, "--max_prompt_tokens", "4096", "--max_steps", "1",
                            "--save_steps", "1"), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert "max_prompt_tokens=1024 (when the rows were built)" in result.stderr, str(result)
    meta = json.loads((out / "rankrl.json").read_text())
    assert meta["truncation"]["max_prompt_tokens"] == 1024
    assert json.loads((out / "checkpoint-1" / "rankrl.json").read_text())["truncation"]["max_prompt_tokens"] == 1024
