"""Library errors name fields (``source='hf'``, ``corpus=PATH``); a command-line user typed flags. This rewrites
the ``field=value`` spans of a message into the flags of the command that failed (``--source hf``, ``--corpus
PATH``), so ``rankrl eval`` speaks in flags while the library API keeps speaking in fields.

Only names the parser knows are rewritten, and only in the ``name=value`` form library messages use for a setting;
free text is left alone.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping

from rankrl.core.errors import ConfigError, RankrlError

_ASSIGN = re.compile(r"(?<![\w\-.])(?P<name>[a-z][a-z0-9_]*)=(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;)]+)")


def flag_map(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``name -> --flag`` for every long flag: by its ``dest`` and by its own spelling with underscores."""
    names: dict[str, str] = {}
    for action in parser._actions:  # argparse has no public accessor for its actions
        longs = [s for s in action.option_strings if s.startswith("--")]
        if not longs:
            continue
        names.setdefault(action.dest, longs[0])
        for spelling in longs:
            names.setdefault(spelling[2:].replace("-", "_"), longs[0])
    return names


def fields_to_flags(message: str, flags: Mapping[str, str]) -> str:
    """``"needs source='hf' or corpus=PATH"`` -> ``"needs --source hf or --corpus PATH"`` for known names."""

    def replace(match: re.Match[str]) -> str:
        flag = flags.get(match.group("name"))
        if flag is None:
            return match.group(0)
        value = match.group("value")
        if value[:1] in "'\"" and value[-1:] == value[:1]:
            value = value[1:-1]
        return f"{flag} {value}"

    return _ASSIGN.sub(replace, message)


def as_flag_message(err: RankrlError, flags: Mapping[str, str]) -> RankrlError:
    """The same error in flag terms (plain ``RankrlError``/``ConfigError`` only; other kinds are returned as is,
    since their messages name files and lines, not settings)."""
    if type(err) not in (RankrlError, ConfigError):
        return err
    text = fields_to_flags(str(err), flags)
    return err if text == str(err) else type(err)(text)
