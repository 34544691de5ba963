"""``core.rng.StdlibGenerator`` draws a paradigm's random answers from a ``random.Random`` exactly as the code
before ``BaseParadigm.random_value`` did, so seeded tokenizer corpora and warm-ups are unchanged."""

from __future__ import annotations

import random

from rankrl.core.rng import StdlibGenerator
from rankrl.prompts import get_paradigm


def test_answers_consume_the_stdlib_stream_as_before():
    a, b = random.Random(7), random.Random(7)
    gen = StdlibGenerator(a)
    assert get_paradigm("setwise").random_value(5, gen) == b.randrange(5)
    assert get_paradigm("listwise").random_value(4, gen) == b.sample(range(4), 4)
    assert get_paradigm("pointwise").random_value(1, gen) == float(b.randint(0, 10))
    assert get_paradigm("pointwise", template="pointwise-binary").random_value(1, gen) == float(b.randint(0, 1))
    assert get_paradigm("groupwise").random_value(3, gen) == [float(b.randint(0, 10)) for _ in range(3)]
    assert a.random() == b.random()  # both streams are at the same place afterwards
