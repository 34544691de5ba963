"""rankrl.rl: GRPO training (``train``) and supervised fine-tuning (``sft``) of reasoning rerankers.

``train(TrainConfig.from_recipe("rl/recipes/tiny.yaml", {...}))`` is what ``rankrl train`` runs. ``train`` and
``sft`` here are the functions of ``rl/api.py``; the command modules ``rankrl.rl.train`` and ``rankrl.rl.sft``
are imported first, so that these names, bound after them, are the functions (import the modules'
own contents with ``from rankrl.rl.train import ...``). Importing this package does not import torch or TRL.
"""

import rankrl.rl.sft
import rankrl.rl.train  # noqa: F401
from rankrl.rl.api import SFTRunConfig, TrainConfig, TrainResult, sft, train

__all__ = ["SFTRunConfig", "TrainConfig", "TrainResult", "sft", "train"]
