"""A small real tokenizer built offline with the ``tokenizers`` library (no hub access), with a chat template."""

from __future__ import annotations

import pytest

# A Qwen3-like template: ChatML turns, and the generation prompt pre-fills "<think>\n".
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"
)

_CORPUS = [
    "The capital of France is Paris. Berlin is the capital of Germany.",
    "Search query: which passage answers the question best? Passages are labelled [1], [2], [3].",
    "You judge how well text passages answer a search query. Think first, then answer.",
    "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
    "0 1 2 3 4 5 6 7 8 9 10 true false > < / { } : , \" ' ( ) [ ] think answer",
] * 20


@pytest.fixture(scope="session")
def tokenizer():
    """A byte-level BPE tokenizer (exact decode round trip) wrapped as a transformers fast tokenizer."""
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    return build_tokenizer()


def build_tokenizer():
    import tokenizers
    import transformers
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|im_start|>", "<|im_end|>", "<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast
