"""``StdlibGenerator``: the two ``numpy.random.Generator`` methods paradigms draw random answers with
(``integers``, ``permutation``), served by a ``random.Random``.

Why: ``BaseParadigm.random_value`` takes a numpy Generator, but the tiny model's tokenizer corpus and format
warm-up, and the demo's warm-up, were seeded with ``random.Random`` streams whose results are recorded
(docs/findings.md). Drawing through this adapter consumes the ``random.Random`` stream exactly as the code did
before the answers moved onto the paradigm (``randrange``/``randint``/``sample``), so those runs stay identical.
"""

from __future__ import annotations

import random
from typing import Any


class StdlibGenerator:
    """``integers`` and ``permutation`` with numpy's signatures (high exclusive), drawn from ``rng``."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def integers(self, low: int, high: int | None = None, size: int | None = None) -> Any:
        if high is None:
            low, high = 0, low
        if size is None:
            return self.rng.randrange(low, high)
        return [self.rng.randrange(low, high) for _ in range(size)]

    def permutation(self, n: int) -> list[int]:
        return self.rng.sample(range(n), n)
