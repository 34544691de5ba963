"""Second probing pass, recipe values of the wrong type (item 10).

Before the fix ``rewards: 5``, ``paradigm: [pointwise]`` and a mapping under ``report_to`` gave TypeError
tracebacks; ``max_steps: 1.5`` passed ``--dry_run`` and crashed after the model loaded; a valid YAML merge key
(``<<: *defaults``) was rejected; an empty recipe said "Your setup doesn't support bf16/gpu".
"""

from __future__ import annotations

import pytest
from reliability_support import SMOKE_FLAGS, TINY_RECIPE, assert_clean_error, tree

from rankrl.core.errors import ConfigError
from rankrl.rl.recipe import read_recipe

WRONG = {
    "rewards-int": ("rewards: 5\n", "rewards must be a list or null, got 5"),
    "paradigm-list": ("paradigm: [pointwise]\n", "paradigm must be a string, got ['pointwise']"),
    "report-to-mapping": ("report_to:\n  wandb: {project: x}\n", "report_to must be null or a string or a list"),
    "max-steps-float": ("max_steps: 1.5\n", "max_steps must be a whole number, got 1.5"),
    "learning-rate-list": ("learning_rate: [1, 2]\n", "learning_rate must be a number"),
    "bf16-mapping": ("bf16: {a: 1}\n", "bf16 must be true or false or null"),
}


@pytest.mark.parametrize("key", list(WRONG))
def test_wrong_value_type_in_a_recipe_is_a_clean_error(key, rankrl, tmp_path):
    extra, needle = WRONG[key]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("data_source: synthetic\nuse_cpu: true\n" + extra, encoding="utf-8")
    before = tree(tmp_path)
    result = rankrl.run(["train", "--config", recipe, "--output_dir", tmp_path / "out", "--dry_run", "true"],
                        cwd=tmp_path, timeout=300)
    assert_clean_error(result, f"recipe.yaml:3: {needle}")
    assert tree(tmp_path) == before


def test_empty_recipe_says_it_is_empty(rankrl, tmp_path):
    recipe = tmp_path / "empty.yaml"
    recipe.write_text("# nothing yet\n")
    result = rankrl.run(["train", "--config", recipe], cwd=tmp_path, timeout=300)
    assert_clean_error(result, "empty.yaml: the recipe is empty")
    assert "bf16" not in result.stderr


def test_yaml_merge_key_is_read(tmp_path):
    recipe = tmp_path / "merge.yaml"
    recipe.write_text("x-defaults: &defaults\n  learning_rate: 1.0e-5\n  max_steps: 3\n"
                      "<<: *defaults\nmax_steps: 7\nrewards:\n  - &fmt {name: format, weight: 0.1}\n"
                      "  - {<<: *fmt, weight: 0.2}\n")
    values = read_recipe(recipe).values
    assert values == {"learning_rate": 1.0e-5, "max_steps": 7,
                      "rewards": [{"name": "format", "weight": 0.1}, {"name": "format", "weight": 0.2}]}


def test_duplicate_keys_are_still_refused_next_to_a_merge(tmp_path):
    recipe = tmp_path / "dup.yaml"
    recipe.write_text("x-d: &d {max_steps: 3}\n<<: *d\nmax_steps: 4\nmax_steps: 5\n")
    with pytest.raises(ConfigError, match="dup.yaml:4: duplicate key 'max_steps'"):
        read_recipe(recipe)


@pytest.mark.slow
def test_recipe_with_a_merge_key_passes_a_dry_run(rankrl, tiny_model, tmp_path):
    recipe = tmp_path / "merge.yaml"
    recipe.write_text(TINY_RECIPE.read_text(encoding="utf-8").replace("learning_rate:", "x-lr: &lr\n  learning_rate:")
                      + "<<: *lr\n", encoding="utf-8")
    assert "x-lr: &lr" in recipe.read_text()
    result = rankrl.run(["train", "--config", recipe, "--model_name_or_path", tiny_model, "--output_dir",
                         tmp_path / "out", *SMOKE_FLAGS, "--dry_run", "true"], cwd=tmp_path, timeout=300)
    assert result.returncode == 0, str(result)
    assert "lr 0.001" in result.stderr, str(result)
