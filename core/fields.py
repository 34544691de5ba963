"""Typed options: build a dataclass from a mapping, refusing unknown keys, and errors that name a field.

Library code speaks in field names ("window must be >= 2"); only a CLI knows which flag or recipe key a field came
from, so it translates a ``FieldError`` with ``as_flag_error``. ``from_mapping`` is the one place that turns loose
options (a recipe section, a settings dict) into a typed dataclass: a misspelt option is an error naming the
field and listing the valid ones, never silently dropped.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from rankrl.core.errors import ConfigError

T = TypeVar("T")


class FieldError(ConfigError):
    """A configuration value that is wrong; ``field`` is the dataclass field, ``problem`` the rest of the sentence
    (message: ``"<field> <problem>"``). ``template``: a whole message with ``{field}`` where the name goes, for
    sentences that do not start with it ("model folder not found: x ({field})")."""

    def __init__(self, field: str, problem: str = "", *, template: str | None = None):
        self.field, self.problem, self.template = field, problem, template
        super().__init__(self.naming(field))

    def naming(self, name: str) -> str:
        """The message with ``name`` (a field, flag or recipe key) for the field."""
        return self.template.replace("{field}", name) if self.template else f"{name} {self.problem}"


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def from_mapping(cls: type[T], options: Mapping[str, Any], what: str | None = None) -> T:
    """``cls(**options)``, but an unknown key is a ``ConfigError`` naming it and the valid fields."""
    names = field_names(cls)
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(f"unknown {what or cls.__name__} option(s) {', '.join(unknown)}; valid options: "
                          f"{', '.join(names)}")
    return cls(**options)


def from_namespace(cls: type[T], args: argparse.Namespace) -> T:
    """A config dataclass from parsed flags, field by field (a flag's ``dest`` is the field's name). Flags with no
    field are ignored here; tests check that every flag of a command has its field."""
    values = vars(args)
    return cls(**{name: values[name] for name in field_names(cls) if name in values})


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest -> --flag`` for every optional flag of ``parser`` (its first long spelling)."""
    names: dict[str, str] = {}
    for action in parser._actions:  # argparse has no public accessor for its actions
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs and action.dest not in names:
            names[action.dest] = longs[0]
    return names


def as_flag_error(err: FieldError, flags: Mapping[str, str] | Callable[[str], str]) -> ConfigError:
    """The same error, naming the flag (or recipe key) the field came from."""
    name = flags(err.field) if callable(flags) else flags.get(err.field, "--" + err.field.replace("_", "-"))
    return ConfigError(err.naming(name))


@contextmanager
def fields_as_flags(flags: Mapping[str, str] | Callable[[str], str]) -> Iterator[None]:
    """Re-raise a ``FieldError`` raised inside as a ``ConfigError`` naming the flag."""
    try:
        yield
    except FieldError as err:
        raise as_flag_error(err, flags) from err


def check_positive(config: Any, names: tuple[str, ...], *, optional: bool = False) -> None:
    """Every named field is a positive integer (or None when ``optional``)."""
    for name in names:
        value = getattr(config, name)
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FieldError(name, f"must be a positive integer, got {value!r}")


def declared_type(cls: type, name: str) -> Any:
    """The annotation of field ``name`` as its class declares it (a string under ``from __future__ import
    annotations``). Not ``Field.type``: ``HfArgumentParser`` (TRL's parser) resolves that in place, so what it holds
    depends on whether a parser was built for the class earlier in the process; help and docs must not."""
    for klass in cls.__mro__:
        annotations = inspect.get_annotations(klass)  # this class's own, unevaluated
        if name in annotations:
            return annotations[name]
    return next(f.type for f in dataclasses.fields(cls) if f.name == name)
