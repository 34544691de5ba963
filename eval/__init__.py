"""rankrl.eval: rerank benchmarks with a checkpoint (``evaluate``) and score runs (``score``).

``evaluate(EvalConfig(...)) -> EvalResult`` is what ``rankrl eval`` runs; ``score(ScoreConfig(...)) -> Evaluation``
what ``rankrl score`` runs. Importing this package is cheap: torch, transformers and vLLM load only when a
backend is built.
"""

from rankrl.eval.api import EvalResult, evaluate
from rankrl.eval.config import EvalConfig
from rankrl.eval.metrics import Evaluation
from rankrl.eval.score import ScoreConfig, score

__all__ = ["EvalConfig", "EvalResult", "Evaluation", "ScoreConfig", "evaluate", "score"]
