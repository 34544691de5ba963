"""Training rows for the elimination paradigm (IRanker): a ranked group becomes its n-1 elimination steps.

A group of n passages with grades is ranked ideally by eliminating, n-1 times, the least relevant passage still
shown (lowest grade; among equal grades the one shown last, so ties keep their shown order — the same choice as
``prompts.elimination.Elimination.gold_value``). Step s shows the n-s passages that remain after s such
eliminations, in the group's shown order, so a model trained on the steps sees every candidate-set size the
``elimination`` evaluation strategy will show it (n, n-1, ..., 2). Each step is one GRPO row with the grades of
the passages it shows; the published reward (``iranker_elimination``) reads the grades to know which passage
must not be eliminated.

IRanker builds its steps differently (ulab-uiuc/IRanker@f32eb9eec753b69f4ba915a9dd9832601d5949b4:examples/
data_preprocess/dataset/data_ms_marco/process_passage.py:process_list): for a query with one selected passage and
n-1 others it makes, for k = 1..n-1, a set of the selected passage plus k others drawn at random (each set drawn
afresh, the selected passage inserted at a random position). Both give one step per set size from 2 to n with
the relevant passage always present; rankrl's sets are nested (each step is the previous minus its least
relevant passage) and work for graded groups with several relevant passages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def elimination_order(grades: Sequence[int]) -> list[int]:
    """Positions in the order an ideal eliminator removes them (the last remaining passage is not included)."""
    remaining = list(range(len(grades)))
    order = []
    while len(remaining) > 1:
        drop = min(remaining, key=lambda i: (grades[i], -i))
        remaining.remove(drop)
        order.append(drop)
    return order


def elimination_steps(items: Sequence[T], grades: Sequence[int]) -> list[tuple[T, ...]]:
    """The n-1 candidate sets of a group's ideal elimination, largest first, each in the group's shown order."""
    if len(items) != len(grades):
        raise ValueError(f"{len(items)} items but {len(grades)} grades")
    if len(items) < 2:
        return []
    gone: set[int] = set()
    steps = []
    for drop in elimination_order(grades):
        steps.append(tuple(item for i, item in enumerate(items) if i not in gone))
        gone.add(drop)
    return steps
