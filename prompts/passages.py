"""Passage text as the model sees it: title, whitespace, truncation, neutralisation, labels and separators.

Every published prompt writes passages its own way (Rank-R1: ``[1] title text`` joined by one newline;
REARANK: ``Title: t Content: x`` cut at 400 characters; GroupRank: ``[1]. text`` followed by a blank line;
ReasonRank: ``[1] x`` with bracketed numbers in the text rewritten). A template's ``passages`` object
(``PassageFormat``) says which, and the steps always run in this order, the order of the published code:

1. title: a passage with a non-empty title is written with ``title`` (``{title}: {text}`` by default);
2. whitespace: ``keep``, ``strip``, ``collapse`` (every run of whitespace becomes one space, ends stripped) or
   ``newlines`` (runs of newlines become one space);
3. truncation to the budget (``max_passage_chars``/``_words``/``_tokens``): characters cut at a word boundary
   (``cut: word``, rankrl's default) or exactly (``exact``: Python slicing, as REARANK and GroupRank do); words
   as ``" ".join(text.split()[:n])`` (rank_llm); tokens with the tokenizer's ``tokenize`` and
   ``convert_tokens_to_string`` (``cut: tokens``: llm-rankers and ReasonRank cut every passage this way, even
   short ones) or by decoding the first n token ids (``word``/``exact``);
4. neutralisation: ``labels-and-tags`` (rankrl's default: a passage that itself contains ``[3]`` would look like a
   label, and one that contains ``</answer>`` could close the answer early, so ``[3]`` → ``(3)`` and
   ``<answer>`` → ``(answer)``), ``labels`` (only ``[3]`` → ``(3)``, rank_llm's ``_replace_number``) or ``none``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from rankrl.core.errors import DataFormatError, RankrlError

_BRACKETED_INT = re.compile(r"\[\s*(\d+)\s*\]")
_PLAIN_BRACKETED_INT = re.compile(r"\[(\d+)\]")
_TAG = re.compile(r"<(/?)(think|answer)>", re.IGNORECASE)
_NEWLINES = re.compile(r"\n+")
_FIELD = re.compile(r"\{(label|i|text|title)\}")

NEUTRALISE = ("labels-and-tags", "labels", "none")
WHITESPACE = ("keep", "strip", "collapse", "newlines")
CUTS = ("word", "exact", "tokens")


@dataclass(frozen=True)
class PassageFormat:
    label: str = "[{i}]"
    entry: str = "{label} {text}"
    separator: str = "\n\n"
    title: str = "{title}: {text}"
    whitespace: str = "keep"
    neutralise: str = "labels-and-tags"
    cut: str = "word"


@dataclass(frozen=True)
class QueryFormat:
    neutralise: str = "labels-and-tags"
    whitespace: str = "keep"


def _format_from_dict(cls: type, raw: Any, source: str, where: str) -> Any:
    if not isinstance(raw, dict):
        raise DataFormatError(source, None, f"template field {where!r} must be a JSON object")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise DataFormatError(source, None, f"unknown '{where}' field(s) {unknown}; allowed: {names}")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise DataFormatError(source, None, f"{where}.{key} must be a string")
    choices = {"neutralise": NEUTRALISE, "whitespace": WHITESPACE, "cut": CUTS}
    for key, allowed in choices.items():
        if key in raw and raw[key] not in allowed:
            raise DataFormatError(source, None, f"{where}.{key} must be one of {list(allowed)}, got {raw[key]!r}")
    return cls(**raw)


def passage_format_from_dict(raw: Any, source: str) -> PassageFormat:
    fmt = _format_from_dict(PassageFormat, raw, source, "passages")
    if "{i}" not in fmt.label:
        raise DataFormatError(source, None, "passages.label must contain {i}")
    if "{text}" not in fmt.entry:
        raise DataFormatError(source, None, "passages.entry must contain {text}")
    if "{text}" not in fmt.title or "{title}" not in fmt.title:
        raise DataFormatError(source, None, "passages.title must contain {title} and {text}")
    return fmt


def query_format_from_dict(raw: Any, source: str) -> QueryFormat:
    return _format_from_dict(QueryFormat, raw, source, "query")


# --- the steps -----------------------------------------------------------------------------------------------

def neutralise(text: str, mode: str = "labels-and-tags") -> str:
    """Make label-like ``[n]`` (and, by default, structural tags) inside passage/query text harmless."""
    if mode == "none":
        return text
    if mode == "labels":
        return _PLAIN_BRACKETED_INT.sub(r"(\1)", text)
    text = _BRACKETED_INT.sub(r"(\1)", text)
    return _TAG.sub(r"(\1\2)", text)


def fill(pattern: str, **values: str) -> str:
    """One-pass substitution of ``{label}``, ``{i}``, ``{text}``, ``{title}`` (braces in values stay as they are)."""
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)


def text_and_title(passage: Any) -> tuple[str, str]:
    """(text, title) of a passage given as a string, a mapping with ``text``/``title`` or an object with those
    attributes (``rankrl.data.records.Passage``)."""
    if isinstance(passage, str):
        return passage, ""
    if isinstance(passage, Mapping):
        text, title = passage.get("text"), passage.get("title") or ""
    else:
        text, title = getattr(passage, "text", None), getattr(passage, "title", "") or ""
    if not isinstance(text, str) or not isinstance(title, str):
        raise RankrlError(f"passages must be strings or have a string text (and title), got {type(passage).__name__}")
    return text, title


def with_title(passage: Any, fmt: PassageFormat) -> str:
    text, title = text_and_title(passage)
    return fill(fmt.title, title=title, text=text) if title else text


def normalise_whitespace(text: str, mode: str) -> str:
    if mode == "strip":
        return text.strip()
    if mode == "collapse":
        return " ".join(text.split())
    if mode == "newlines":
        return _NEWLINES.sub(" ", text)
    return text


def truncate_chars(text: str, max_chars: int | None, exact: bool = False) -> tuple[str, bool]:
    """Keep at most ``max_chars`` characters: exactly (slicing), or cut back to the last whitespace when one is
    near (then trailing whitespace is dropped)."""
    if max_chars is None or len(text) <= max_chars:
        return text, False
    if exact:
        return text[:max_chars], True
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars * 0.8:
        cut = cut[:space]
    return cut.rstrip(), True


def truncate_words(text: str, max_words: int | None) -> tuple[str, bool]:
    """rank_llm's cut: ``" ".join(text.split()[:n])`` (it also collapses whitespace)."""
    if max_words is None:
        return text, False
    words = text.split()
    return " ".join(words[:max_words]), len(words) > max_words


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids without special tokens; works for a transformers tokenizer and a raw ``tokenizers.Tokenizer``."""
    out = tokenizer.encode(text, add_special_tokens=False)
    return list(getattr(out, "ids", out))


def decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=True)


def truncate_tokens(text: str, tokenizer: Any, max_tokens: int | None) -> tuple[str, bool]:
    """Keep the first ``max_tokens`` tokens of ``text`` under ``tokenizer`` (decoded, trailing space dropped)."""
    if max_tokens is None:
        return text, False
    ids = encode(tokenizer, text)
    if len(ids) <= max_tokens:
        return text, False
    return decode(tokenizer, ids[: max(max_tokens, 0)]).rstrip(), True


def truncate_tokens_published(text: str, tokenizer: Any, max_tokens: int | None) -> tuple[str, bool]:
    """``tokenizer.convert_tokens_to_string(tokenizer.tokenize(text)[:n])``, applied to every text as
    llm-rankers (``SetwiseLlmRanker.truncate``) and ReasonRank (``convert_doc_to_prompt_content``) do: the round
    trip can change a text that is not cut (e.g. Unicode normalisation), so it is not skipped for short ones."""
    if max_tokens is None:
        return text, False
    if not (hasattr(tokenizer, "tokenize") and hasattr(tokenizer, "convert_tokens_to_string")):
        return truncate_tokens(text, tokenizer, max_tokens)
    tokens = tokenizer.tokenize(text)
    return tokenizer.convert_tokens_to_string(tokens[:max_tokens]), len(tokens) > max_tokens


CHARS_PER_TOKEN = 4
"""Without a tokenizer a token budget is approximated as this many characters per token."""


@dataclass(frozen=True)
class Budgets:
    """Truncation budgets of one prompt (None: no limit)."""

    max_passage_chars: int | None = None
    max_passage_words: int | None = None
    max_passage_tokens: int | None = None
    max_query_tokens: int | None = None


def cut_passage(text: str, fmt: PassageFormat, budgets: Budgets, tokenizer: Any = None) -> tuple[str, bool]:
    """Step 3: the budgets in the order characters, words, tokens."""
    text, cut_c = truncate_chars(text, budgets.max_passage_chars, exact=fmt.cut == "exact")
    text, cut_w = truncate_words(text, budgets.max_passage_words)
    cut_t = False
    if budgets.max_passage_tokens is not None:
        if tokenizer is None:
            text, cut_t = truncate_chars(text, budgets.max_passage_tokens * CHARS_PER_TOKEN, exact=fmt.cut == "exact")
        elif fmt.cut == "tokens":
            text, cut_t = truncate_tokens_published(text, tokenizer, budgets.max_passage_tokens)
        else:
            text, cut_t = truncate_tokens(text, tokenizer, budgets.max_passage_tokens)
    return text, cut_c or cut_w or cut_t


def prepare_passage(passage: Any, fmt: PassageFormat, budgets: Budgets, tokenizer: Any = None) -> tuple[str, bool]:
    """Steps 1–4 for one passage: (text as shown, whether it was truncated)."""
    text = normalise_whitespace(with_title(passage, fmt), fmt.whitespace)
    text, cut = cut_passage(text, fmt, budgets, tokenizer)
    return neutralise(text, fmt.neutralise), cut


def prepare_query(query: str, fmt: QueryFormat, budgets: Budgets, tokenizer: Any = None,
                  cut: str = "word") -> str:
    """The query as shown: whitespace, token budget (as the passages are cut), neutralisation."""
    if not isinstance(query, str):
        raise RankrlError(f"query must be a string, got {type(query).__name__}")
    text = normalise_whitespace(query, fmt.whitespace)
    if budgets.max_query_tokens is not None and tokenizer is not None:
        if cut == "tokens":
            text = truncate_tokens_published(text, tokenizer, budgets.max_query_tokens)[0]
        else:
            text = truncate_tokens(text, tokenizer, budgets.max_query_tokens)[0]
    return neutralise(text, fmt.neutralise)


def entries(prepared: Sequence[str], fmt: PassageFormat) -> list[tuple[str, str]]:
    """(label, text) per prepared passage, labels numbered from 1."""
    return [(fill(fmt.label, i=str(i)), text) for i, text in enumerate(prepared, start=1)]


def labelled_block(passages: Sequence[str], fmt: PassageFormat | None = None) -> str:
    """The passages block: one ``entry`` per passage joined by ``separator`` (default ``[1] text`` paragraphs)."""
    fmt = fmt or PassageFormat()
    return fmt.separator.join(fill(fmt.entry, label=label, i=str(i), text=text)
                              for i, (label, text) in enumerate(entries(passages, fmt), start=1))
