"""The reward wrapper every rankrl reward shares: TRL's signature, the format gate, one finite value per row.

A reward is an instance of a module-level class (so it pickles for multi-process training), called as
``reward(completions, **columns)`` exactly like TRL 1.16 calls it (``prompts``, ``completion_ids``,
``trainer_state``, ``log_extra``, ``log_metric`` and any other keyword are accepted and ignored unless used).
Its ``__name__`` is the metric name TRL logs.

Subclasses implement ``score(rows)``: the values for the rows whose parse is usable. The wrapper does the rest:
extract texts, parse them once, validate columns, apply the format gate, and guarantee the output contract.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rankrl.core.errors import RankrlError, unknown_name
from rankrl.prompts import get_paradigm
from rankrl.prompts.base import Parsed
from rankrl.rewards.columns import check_docids, column, completion_text, plain_int_rows, row_grades

FORMAT_GATES = ("none", "zero", "minus_one")
_INTS = frozenset({int})


def failure_value(format_gate: str) -> float:
    """What a gated reward returns for an unusable completion: -1 under ``minus_one``, else 0."""
    return -1.0 if format_gate == "minus_one" else 0.0


def check_format_gate(format_gate: str) -> str:
    if format_gate not in FORMAT_GATES:
        raise unknown_name("format_gate", format_gate, FORMAT_GATES)
    return format_gate


def resolve_paradigm(paradigm: Any) -> Any:
    """A paradigm object from a name (``prompts.get_paradigm``) or an object that already has ``parse``."""
    if isinstance(paradigm, str):
        return get_paradigm(paradigm)
    if not callable(getattr(paradigm, "parse", None)) or not isinstance(getattr(paradigm, "name", None), str):
        raise RankrlError(f"paradigm must be a name or a prompts paradigm object, got {paradigm!r}")
    return paradigm


class CachedParser:
    """Parses each (text, n) once for all the rewards built together (``build_rewards`` shares one instance).

    TRL calls every reward function on the same completions; with a format reward, nDCG and recall that would
    parse each completion three times. A lookup costs ~0.2 µs and a miss adds ~0.5-1 µs (hashing the text) to a
    ~10 µs parse, so the cache pays for itself from the second reader on. It is bounded: cleared when it holds
    ``max_entries`` parses, or the size of the largest batch a reward announced (:meth:`expect`) if that is more —
    clearing in the middle of a batch would make every later reward parse the whole batch again, plus the
    cache's overhead. It is never pickled.
    """

    def __init__(self, paradigm: Any, max_entries: int = 4096):
        self.paradigm = paradigm
        self.max_entries = max_entries
        self._limit = max_entries
        self._cache: dict[tuple[str, int], Parsed] = {}

    def expect(self, batch_size: int) -> None:
        """Make room for a batch of ``batch_size`` completions (called by each reward with its batch)."""
        self._limit = max(self._limit, batch_size)

    def parse(self, text: str, n: int) -> Parsed:
        key = (text, n)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= self._limit:
                self._cache.clear()
            hit = self._cache[key] = self.paradigm.parse(text, n)
        return hit

    def __getstate__(self) -> dict[str, Any]:
        return {"paradigm": self.paradigm, "max_entries": self.max_entries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["paradigm"], state["max_entries"])


@dataclass(slots=True)
class Row:
    """One completion as a reward sees it.

    index:  position in the batch.  n: passages shown.  grades: the row's ``relevance``.
    parsed: the paradigm's parse.   usable: the value may be scored under the format gate.
    """

    index: int
    n: int
    grades: list
    parsed: Parsed
    usable: bool


class Reward:
    """Base class: subclasses set ``name``, ``paradigms`` and implement :meth:`score`."""

    name: ClassVar[str] = ""
    paradigms: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, paradigm: Any = "listwise", format_gate: str = "zero", parser: CachedParser | None = None
    ):
        self.paradigm = resolve_paradigm(paradigm)
        if self.paradigm.name not in self.paradigms:
            raise RankrlError(
                f"reward {self.name!r} does not apply to the {self.paradigm.name} paradigm "
                f"(it applies to: {', '.join(self.paradigms)})"
            )
        self.format_gate = check_format_gate(format_gate)
        # A shared parse cache only when it belongs to this very paradigm object.
        self.parser = parser if parser is not None and parser.paradigm is self.paradigm else None
        self.__name__ = self.name

    # -- what subclasses provide ------------------------------------------------------------------------------
    def score(
        self, rows: list[Row], kwargs: dict[str, Any]
    ) -> dict[int, float]:  # pragma: no cover - abstract
        """Values for the usable rows, keyed by ``Row.index``."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The reward's parameters (for logs and metadata)."""
        return {}

    # -- the wrapper ------------------------------------------------------------------------------------------
    @property
    def single_passage(self) -> bool:
        return bool(self.paradigm.one_passage_per_prompt)

    def _parse(self, text: str, n: int) -> Parsed:
        if self.parser is not None:
            return self.parser.parse(text, n)
        return self.paradigm.parse(text, n)

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        num = len(completions)
        name = self.name
        grades_col = column(kwargs, "relevance", num, name)
        docids_col = kwargs.get("docids")
        if docids_col is not None:
            docids_col = column(kwargs, "docids", num, name)
        single = self.single_passage
        if self.parser is not None:
            self.parser.expect(num)
        parse = self.parser.parse if self.parser is not None else self.paradigm.parse
        any_format = self.format_gate == "none"
        # A column of non-empty plain-int lists (what datasets gives back) is checked once, in C-level passes;
        # otherwise each row is checked (and a bad one raises) as it comes.
        checked = not single and plain_int_rows(grades_col)
        labelled: list[int] = []  # rows with labels: each gets a value
        usable: list[Row] = []  # rows whose parse may be scored under the format gate
        # The hot loop (one pass per completion): no per-row work beyond the parse for a clean batch.
        for i, (completion, grades) in enumerate(zip(completions, grades_col)):
            if not checked and (
                single or type(grades) is not list or not grades or not _INTS.issuperset(map(type, grades))
            ):
                grades = row_grades(grades, i, name, single)
                if grades is None:
                    continue  # no labels for this row: "no reward" (TRL skips it)
            n = len(grades)
            if docids_col is not None:
                docids = docids_col[i]
                if type(docids) is not list or len(docids) != n:
                    check_docids(docids, n, i, name)
            parsed = parse(completion if type(completion) is str else completion_text(completion), n)
            labelled.append(i)
            if parsed.ok and (any_format or parsed.format_ok):
                usable.append(Row(i, n, grades, parsed, True))
        values = self.score(usable, kwargs) if usable else {}
        fail = failure_value(self.format_gate)
        out: list[float | None] = [None] * num
        for i in labelled:
            out[i] = fail
        unusable = len(labelled)
        isfinite = math.isfinite
        for r in usable:
            v = values.get(r.index)
            if v is not None and isfinite(v):
                out[r.index] = float(v)
                unusable -= 1
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and labelled:
            log_metric(f"{name}/unusable", unusable / len(labelled))
        return out

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return (
            f"{type(self).__name__}({params}{', ' if params else ''}paradigm={self.paradigm.name!r}, "
            f"format_gate={self.format_gate!r})"
        )


def check_value_length(row: Row, size: int, reward: str) -> None:
    """A parsed value must cover exactly the passages the row's ``relevance`` describes."""
    if size != row.n:
        raise RankrlError(
            f"reward {reward!r}: row {row.index} has {row.n} grades in column 'relevance' but the parsed answer "
            f"covers {size} passages; 'relevance' must be aligned with the passages shown in the prompt"
        )
