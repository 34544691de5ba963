"""Training rows for ``rankrl train``: built at start-up or loaded from ``rankrl data build``."""

from __future__ import annotations

import pytest

from rankrl.core.errors import ConfigError
from rankrl.rl.config import ScriptArguments, paradigm_from_script
from rankrl.rl.rows_source import build_train_rows


def _script(**fields) -> ScriptArguments:
    return ScriptArguments(**{"data_source": "synthetic", "synthetic_queries": 6, "group_size": 4, **fields})


def test_synthetic_rows_carry_the_reward_columns_and_source():
    script = _script(paradigm="listwise")
    rows = build_train_rows(script, paradigm_from_script(script), tokenizer=None, show_progress=False)
    assert len(rows.dataset) == 6 and rows.stats["rows_used"] == 6
    assert {"prompt", "qid", "docids", "relevance", "group"} <= set(rows.dataset.column_names)
    assert all(sum(r) == 1 and len(r) == 4 for r in rows.dataset["relevance"])
    assert rows.source["data_source"] == "synthetic" and rows.source["group_size"] == 4
    assert rows.paradigm.name == "listwise"


def test_pointwise_rows_keep_groups_together_in_a_shuffled_order():
    script = _script(paradigm="pointwise", synthetic_queries=8)
    rows = build_train_rows(script, paradigm_from_script(script), tokenizer=None, show_progress=False)
    groups = rows.dataset["group"]
    assert len(groups) == 32
    blocks = [groups[i : i + 4] for i in range(0, 32, 4)]
    assert all(len(set(b)) == 1 for b in blocks)  # each group's 4 rows are consecutive
    order = [b[0] for b in blocks]
    assert order != sorted(order) and sorted(order) == sorted(set(groups))


def test_max_train_rows_keeps_the_first_rows():
    script = _script(max_train_rows=3)
    rows = build_train_rows(script, paradigm_from_script(script), tokenizer=None, show_progress=False)
    assert len(rows.dataset) == 3 and rows.stats["rows_used"] == 3


def test_built_rows_must_match_the_paradigm(tmp_path):
    from rankrl.data.rows import RowsConfig, rows_from_benchmark, rows_to_dataset, save_rows
    from rankrl.data.synthetic import synthetic_benchmark

    result = rows_from_benchmark(synthetic_benchmark(3, 4, 0), RowsConfig("groupwise", group_size=4))
    folder = save_rows(rows_to_dataset(result.rows), tmp_path / "rows", {"stats": result.stats})
    script = ScriptArguments(dataset_dir=str(folder), paradigm="groupwise")
    rows = build_train_rows(script, paradigm_from_script(script), tokenizer=None)
    assert len(rows.dataset) == 3 and rows.source["dataset_dir"] == str(folder)
    assert rows.paradigm.template_name == "groupwise"
    wrong = ScriptArguments(dataset_dir=str(folder), paradigm="setwise")
    with pytest.raises(ConfigError, match="holds groupwise rows"):
        build_train_rows(wrong, paradigm_from_script(wrong), tokenizer=None)
