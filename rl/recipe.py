"""Reading a YAML recipe strictly: errors name the file and line.

TRL's ``TrlParser`` would surface PyYAML's raw traceback for a malformed file and silently keep the last of two
duplicate keys. rankrl reads the file itself first so both become a ``ConfigError`` naming the file and line,
and remembers the line of every top-level key so an unknown key can be reported where it is.
"""

from __future__ import annotations

import enum
import types
import typing
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
    own = [(k, v) for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"]
    if len(own) != len(node.value):  # `<<: *defaults`: merged keys come first and the mapping's own keys win
        loader.flatten_mapping(node)
    for key_node, _ in own:
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
    if values is None or values == {}:
        raise ConfigError(f"{path}: the recipe is empty: a recipe is a YAML mapping of field: value (start from "
                          "rl/recipes/tiny.yaml)")
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping of field: value, got {type(values).__name__}")
    lines = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
    bad = [k for k in values if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"{path}:{lines.get(str(bad[0]), '?')}: recipe keys must be strings, got {bad[0]!r}")
    # top-level `x-...` keys hold YAML anchors for `<<: *name` merges (the docker-compose convention), not fields
    values = {k: v for k, v in values.items() if not k.startswith(ANCHOR_PREFIX)}
    return Recipe(path, values, lines)


ANCHOR_PREFIX = "x-"


# ----------------------------------------------------------------------------------------------- value types


def _accepts(tp: Any, value: Any) -> bool:
    """Whether a YAML ``value`` can become a field of type ``tp``. Strings are accepted for scalar fields: TRL's
    parser converts string defaults like a flag (and reports a bad one); anything else must already have the type."""
    if tp is Any or tp is object:
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set):
        return isinstance(value, list) and all(not isinstance(v, list) for v in value)
    if origin is dict or tp is dict:
        return isinstance(value, dict)
    if tp is bool:
        return isinstance(value, bool) or (isinstance(value, str) and value.lower() in _BOOL_WORDS)
    if tp is int:
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    if tp is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)) or isinstance(value, str)
    if tp is str or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    return True  # a type rankrl does not know: left to the library


_BOOL_WORDS = ("true", "false", "yes", "no", "1", "0")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if origin is not None:
        return {list: "a list", dict: "a mapping", tuple: "a list"}.get(origin, str(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "a string"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, getattr(tp, "__name__", str(tp)))


def check_types(recipe: Recipe, dataclass_types: Any) -> None:
    """Every recipe value must fit its field's declared type: ``rewards: 5``, ``paradigm: [pointwise]``, a mapping
    under ``report_to`` or ``max_steps: 1.5`` is a ``ConfigError`` naming the line, before any model is loaded
    (TRL would take the value as the field's default unchecked and fail later, or not at all)."""
    hints: dict[str, Any] = {}
    for cls in dataclass_types:
        try:
            hints.update({k: v for k, v in typing.get_type_hints(cls).items() if k not in hints})
        except Exception:  # noqa: BLE001, S112 - an unresolvable annotation: that class's fields go unchecked
            continue
    problems = []
    for key, value in recipe.values.items():
        tp = hints.get(key)
        if tp is None or _accepts(tp, value):
            continue
        if tp is int or (typing.get_origin(tp) in (typing.Union, types.UnionType) and int in typing.get_args(tp)
                         and isinstance(value, float)):
            detail = "a whole number" if isinstance(value, float) else _type_name(tp)
        else:
            detail = _type_name(tp)
        problems.append(f"{recipe.where(key)}: {key} must be {detail}, got {value!r} ({type(value).__name__})")
    if problems:
        raise ConfigError("wrong value type(s) in recipe:\n  - " + "\n  - ".join(problems))
