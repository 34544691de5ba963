"""Reading a YAML recipe strictly: errors name the file and line.

TRL's ``TrlParser`` would surface PyYAML's raw traceback for a malformed file and silently keep the last of two
duplicate keys. rankrl reads the file itself first so both become a ``ConfigError`` naming the file and line,
and remembers the line of every top-level key so an unknown key can be reported where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rankrl.core.errors import ConfigError


@dataclass
class Recipe:
    """A parsed recipe: its top-level values and the 1-based line of each key."""

    path: Path
    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(
                f"{loader.name}:{line}: duplicate key {key!r} (first set on line {seen[key]}); keep only one"
            )
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_recipe(path: str | Path) -> Recipe:
    """Load ``path`` as a YAML mapping; ``ConfigError`` (file:line) when it is missing, malformed or not a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"recipe not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read recipe ({err})") from err
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        node = loader.get_single_node()
        values = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {err.problem or err.context}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: malformed YAML: {err}") from None
    finally:
        loader.dispose()
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping of field: value, got {type(values).__name__}")
    lines = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
    bad = [k for k in values if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}:{lines.get(str(bad[0]), '?')}: recipe keys must be strings, got {bad[0]!r}")
    return Recipe(path, values, lines)
