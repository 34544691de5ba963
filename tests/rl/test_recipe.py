"""Strict recipe reading: malformed YAML, duplicate keys and non-mappings name the file and line."""

from __future__ import annotations

import pytest

from rankrl.core.errors import ConfigError
from rankrl.rl.recipe import read_recipe


def test_reads_values_and_key_lines(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("# comment\nparadigm: listwise\nrewards:\n  - {name: format, weight: 0.5}\n")
    recipe = read_recipe(path)
    assert recipe.values == {"paradigm": "listwise", "rewards": [{"name": "format", "weight": 0.5}]}
    assert recipe.lines == {"paradigm": 2, "rewards": 3}
    assert recipe.where("rewards") == f"{path}:3"


def test_malformed_yaml_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("paradigm: setwise\nrewards: [format\nlearning_rate: 1\n")
    with pytest.raises(ConfigError) as err:
        read_recipe(path)
    message = str(err.value)
    assert message.startswith(f"{path}:") and "malformed YAML" in message
    assert int(message.split(":")[1]) in (2, 3)


def test_duplicate_key_is_an_error_with_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("paradigm: setwise\nbeta: 0.0\nparadigm: listwise\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:3: duplicate key 'paradigm' \(first set on line 1\)"):
        read_recipe(path)


def test_non_mapping_missing_and_empty_files(tmp_path):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        read_recipe(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="recipe not found"):
        read_recipe(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="empty.yaml: the recipe is empty"):  # not TRL's "no bf16/gpu" later
        read_recipe(tmp_path / "empty.yaml")
