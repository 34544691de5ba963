"""``rankrl train --help`` / ``rankrl sft --help`` in well under 2 s: rankrl's fields first, TRL's condensed.

Building TRL's parser means importing TRL, torch and transformers (20-30 s on a busy machine) and lists ~200
fields in 1,400 lines, so the help is rendered here instead: rankrl's own fields come from its dataclass (no
heavy import), TRL's from ``rl/trl_fields.py``, a snapshot of the dataclass fields of TRL's ``GRPOConfig``,
``SFTConfig`` and ``ModelConfig`` for the pinned TRL version (regenerate with
``python -m rankrl.rl.train_help --regenerate``; tests/rl/test_train_help.py fails when it is stale).

``--debug`` has one meaning: rankrl's "show the traceback" flag (the dispatcher takes it before any parser sees
it). Hugging Face's ``TrainingArguments.debug`` (underflow/overflow detection) is hidden from the help and can
only be set in a recipe as ``debug: underflow_overflow``.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HIDDEN = {"debug"}
"""TRL/HF fields left out of the help: ``--debug`` is rankrl's traceback flag."""

COMMON = {
    "GRPOConfig": ["output_dir", "learning_rate", "num_generations", "per_device_train_batch_size",
                   "gradient_accumulation_steps", "max_steps", "max_completion_length", "beta", "loss_type",
                   "temperature", "use_vllm", "vllm_mode", "save_steps", "logging_steps", "report_to", "bf16",
                   "use_cpu", "seed"],
    "SFTConfig": ["output_dir", "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                  "gradient_accumulation_steps", "max_length", "save_steps", "logging_steps", "report_to", "bf16",
                  "use_cpu", "seed"],
    "ModelConfig": ["model_name_or_path", "dtype", "use_peft", "lora_r", "lora_alpha"],
}
"""The TRL fields a recipe usually sets, shown with their help in the short listing."""

DESCRIPTIONS = {
    "train": "GRPO training of a reasoning reranker from a YAML recipe (see rl/recipes/, e.g. rl/recipes/tiny.yaml).",
    "sft": "Cold-start supervised fine-tuning on reasoning traces from a YAML recipe (e.g. rl/recipes/sft-tiny.yaml).",
}


def help_mode(argv: Sequence[str]) -> str | None:
    """``"all"`` for ``--help-all``, ``"short"`` for ``-h``/``--help``, else None."""
    if "--help-all" in argv:
        return "all"
    if "-h" in argv or "--help" in argv:
        return "short"
    return None


def no_config_error(command: str, example: str) -> Exception:
    """What a bare ``rankrl train``/``sft`` says: the recipe flag, an example, where the fields are listed."""
    from rankrl.core.errors import ConfigError

    return ConfigError(f"pass a recipe: rankrl {command} --config RECIPE.yaml (e.g. --config {example}); "
                       f"rankrl {command} --help lists its fields")


def _wrap(text: str, indent: int, width: int) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width=max(40, width - indent), initial_indent="",
                         subsequent_indent="") or [""]


def _entry(name: str, type_: str, default: str, help_: str, width: int, limit: int | None = None,
           one_line: bool = False) -> list[str]:
    """``  --name TYPE   help (default: x)`` wrapped under a 32-column flag column."""
    flag = f"  --{name} {type_}".rstrip()
    text = " ".join(help_.split())
    if limit and len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0]
        text = cut + " …"
    if default not in ("None", "''", "MISSING", ""):
        text = f"{text} (default: {default})" if text else f"(default: {default})"
    room = max(40, width - 34)
    if one_line and len(text) > room:
        text = text[:room - 2].rsplit(" ", 1)[0] + " …"
    body = _wrap(text, 34, width)
    if len(flag) > 32:
        return [flag] + [" " * 34 + line for line in body]
    return [f"{flag:<34}{body[0]}"] + [" " * 34 + line for line in body[1:]]


def _type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    text = text.replace("typing.", "").replace("Optional[", "").replace("NoneType", "None")
    simple = text.split("|")[0].strip().rstrip("]")
    return {"str": "STR", "int": "INT", "float": "FLOAT", "bool": "BOOL"}.get(simple, "VALUE")


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default) if isinstance(f.default, str) else str(f.default)
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return str(f.default_factory())  # type: ignore[misc]
    return "MISSING"


def own_fields(script_type: type) -> list[tuple[str, str, str, str]]:
    """(name, TYPE, default, help) of rankrl's dataclass."""
    from rankrl.core.fields import declared_type

    return [(f.name, _type_name(declared_type(script_type, f.name)), _default_text(f), f.metadata.get("help", ""))
            for f in dataclasses.fields(script_type) if f.init]


def render_help(command: str, script_type: type, config_name: str, mode: str = "short",
                width: int | None = None) -> str:
    """The help text of ``rankrl <command>``: usage, --config, rankrl's fields, then TRL's (condensed or all)."""
    from rankrl.rl.trl_fields import FIELDS, TRL_VERSION

    width = width or min(110, max(80, shutil.get_terminal_size((100, 24)).columns))
    lines = [f"usage: rankrl {command} --config RECIPE.yaml [--FIELD VALUE ...]", "",
             DESCRIPTIONS.get(command, ""),
             "Every field can be set in the recipe (field: value) or overridden on the command line (--field value).",
             "", "required:"]
    lines += _entry("config", "RECIPE.yaml", "", "the YAML recipe (fields below; unknown keys are errors)", width)
    lines += ["", f"rankrl's fields ({script_type.__name__}):"]
    for name, type_, default, help_ in own_fields(script_type):  # one line each unless --help-all
        lines += _entry(name, type_, default, help_, width, one_line=mode != "all")
    lines += ["", "general:"]
    lines += _entry("debug", "", "", "show the traceback with an error (rankrl's flag; Hugging Face's "
                    "TrainingArguments.debug is set only in a recipe, as debug: underflow_overflow)", width)
    lines += _entry("help", "", "", "this help; --help-all explains every TRL field too", width)
    groups = [config_name, "ModelConfig", "TrainingArguments"]
    by_owner: dict[str, list[dict[str, str]]] = {g: [] for g in groups}
    for item in FIELDS[config_name] + FIELDS["ModelConfig"]:
        if item["name"] not in HIDDEN:
            by_owner.setdefault(item["owner"], []).append(item)
    if mode == "all":
        lines += ["", f"TRL {TRL_VERSION} fields:"]
        for owner in groups:
            lines += ["", f"{owner}:"]
            for item in by_owner[owner]:
                lines += _entry(item["name"], item["type"], item["default"], item["help"], width)
        return "\n".join(lines) + "\n"
    common = {n for g in (config_name, "ModelConfig") for n in COMMON.get(g, [])}
    lines += ["", f"TRL {TRL_VERSION}: the fields a recipe usually sets:"]
    for item in FIELDS[config_name] + FIELDS["ModelConfig"]:
        if item["name"] in common:
            lines += _entry(item["name"], item["type"], item["default"], item["help"], width, limit=110)
    lines += ["", f"TRL's other fields, by name (rankrl {command} --help-all explains each):"]
    for owner in groups:
        names = [i["name"] for i in by_owner[owner] if i["name"] not in common]
        wrapped = textwrap.wrap(", ".join(names), width=width - 4)
        lines += [f"  {owner} ({len(names)}):"] + [f"    {line}" for line in wrapped]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- regeneration


def snapshot_trl_fields() -> tuple[str, dict[str, list[dict[str, str]]]]:
    """The current TRL version and (name, owner, type, default, help) of every init field of its configs."""
    import trl
    from trl import GRPOConfig, ModelConfig, SFTConfig

    from rankrl.core.fields import declared_type

    out: dict[str, list[dict[str, str]]] = {}
    for cls in (GRPOConfig, SFTConfig, ModelConfig):
        items = []
        for f in dataclasses.fields(cls):
            if not f.init or f.name.startswith("_"):
                continue
            owner = next(c.__name__ for c in reversed(cls.__mro__)
                         if f.name in getattr(c, "__dataclass_fields__", {}))
            owner = owner if owner in ("GRPOConfig", "SFTConfig", "ModelConfig") else "TrainingArguments"
            items.append({"name": f.name, "owner": owner, "type": _type_name(declared_type(cls, f.name)),
                          "default": _default_text(f), "help": " ".join(str(f.metadata.get("help", "")).split())})
        out[cls.__name__] = items
    return trl.__version__, out


def write_snapshot(path: Path) -> None:
    version, fields = snapshot_trl_fields()
    text = ('"""Snapshot of TRL\'s config fields for the fast ``--help`` (generated by\n'
            '``python -m rankrl.rl.train_help --regenerate``; do not edit)."""\n\n'
            f"TRL_VERSION = {version!r}\n\nFIELDS = {fields!r}\n")
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        write_snapshot(Path(__file__).with_name("trl_fields.py"))
    else:
        print("usage: python -m rankrl.rl.train_help --regenerate", file=sys.stderr)
        sys.exit(2)
