"""Untrusted data: model output, data files, model folders and checkpoints are data, never code or paths.

* Model output is parsed with string scanning and ``json`` under a length limit, never evaluated (a source
  guard over the package plus adversarial completions through every paradigm and reward).
* Weights are read and written as safetensors; the only pickles rankrl's runs contain are the trainer-state files
  of ``checkpoint-N`` folders, which transformers loads with ``torch.load(weights_only=True)`` on resume (a
  planted malicious pickle is refused, its code not run).
* ``trust_remote_code`` is off unless the user turns it on: a model folder carrying its own Python code
  (``auto_map``) is loaded without running it, by ``rankrl eval`` and ``rankrl train``.
* Query and document ids from data files never become paths: ids such as ``../../x`` or absolute paths make
  no command write outside its output folder, and ids or passages carrying HTML are escaped in ``traces.html``.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import REPO_ROOT, cli_env, run_cli, train_args, tree, write_local_benchmark

PACKAGES = ("rl", "data", "eval", "prompts", "rewards", "benchmarks")

# Calls that run code or unpickle data. The guard is a plain-text scan of the package sources (tests excluded).
FORBIDDEN: dict[str, str] = {
    "eval()": r"(?<![\w.])eval\s*\(",
    "exec()": r"(?<![\w.])exec\s*\(",
    "compile()": r"(?<![\w.])compile\s*\(",
    "__import__()": r"__import__\s*\(",
    "ast.literal_eval": r"literal_eval",
    "pickle": r"\b(c?pickle|dill|cloudpickle|joblib|marshal|shelve)\.(load|loads|Unpickler|open)\b",
    "torch.load": r"\btorch\.load\s*\(",
    "weights_only=False": r"weights_only\s*=\s*False",
    "numpy allow_pickle": r"allow_pickle\s*=\s*True",
    "yaml unsafe load": r"\byaml\.(load|unsafe_load|full_load|load_all)\s*\(",
    "trust_remote_code=True": r"trust_remote_code\s*=\s*True",
    "shell=True": r"shell\s*=\s*True",
    "os.system": r"\bos\.(system|popen)\s*\(",
}

# (path relative to the repository, pattern name) -> why it is acceptable. Keep it empty unless a use is needed;
# every entry must still match something (a stale entry fails the guard).
ALLOWED: dict[tuple[str, str], str] = {}


def scan(text: str) -> list[str]:
    """Names of the forbidden patterns found in ``text`` (comments and docstrings included: keep them out)."""
    return [name for name, pattern in FORBIDDEN.items() if re.search(pattern, text)]


def test_guard_detects_planted_calls():
    """The scanner is not blind: each planted call is found, ordinary look-alikes are not."""
    planted = {
        "eval()": "x = eval(completion)", "exec()": "exec(text)", "compile()": "code = compile(s, 'f', 'exec')",
        "__import__()": "__import__('os')", "ast.literal_eval": "ast.literal_eval(answer)",
        "pickle": "pickle.loads(blob)", "torch.load": "torch.load(path)",
        "weights_only=False": "torch.serialization.load(f, weights_only=False)",
        "numpy allow_pickle": "np.load(p, allow_pickle=True)", "yaml unsafe load": "yaml.load(text)",
        "trust_remote_code=True": "from_pretrained(m, trust_remote_code=True)", "shell=True": "run(c, shell=True)",
        "os.system": "os.system(cmd)",
    }
    assert planted.keys() == FORBIDDEN.keys()
    for name, line in planted.items():
        assert scan(line) == [name], line
    harmless = "model.eval()\nre.compile(r'x')\nyaml.safe_load(t)\njson.loads(s)\nself.evaluate(run)\n"
    assert scan(harmless) == []


def test_package_sources_never_evaluate_or_unpickle():
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for name in scan(path.read_text(encoding="utf-8")):
                found.add((str(path.relative_to(REPO_ROOT)), name))
    assert found - ALLOWED.keys() == set(), "code evaluation or unpickling in the package (see FORBIDDEN)"
    assert ALLOWED.keys() - found == set(), "stale ALLOWED entries: remove them"


# =========================================================================================== model output

HOSTILE_COMPLETIONS = (
    "<answer>__import__('os').system('touch {marker}')</answer>",
    "<answer>{{'[1]': __import__('os').mkdir('{marker}')}}</answer>",
    "<answer>[1] > eval(open('{marker}','w'))</answer>",
    '<answer>{{"[1]": 7, "[2]": {{"__class__": "os.system"}}}}</answer>',
    "<answer>" + "[" * 5000 + "]" * 5000 + "</answer>",
    "<answer>" + '{{"[1]": ' * 3000 + "1" + "}}" * 3000 + "</answer>",
    "<think>" + "a" * 1_000_000 + "</think><answer>[1]</answer>",
    "<answer>1e999999</answer>", "<answer>NaN</answer>", "<answer>-Infinity</answer>",
    "<answer>\x00\udcff\u202e[2]</answer>",
)


@pytest.mark.parametrize("paradigm", ["setwise", "listwise", "pointwise", "groupwise"])
def test_hostile_completions_are_failed_parses_not_code(paradigm, tmp_path):
    from rankrl import prompts
    from rankrl.core.errors import RankrlError
    from rankrl.rewards.registry import REWARDS, build_rewards

    marker = tmp_path / "ran"
    parser = prompts.get_paradigm(paradigm)
    texts = [t.format(marker=marker) for t in HOSTILE_COMPLETIONS]
    shown = 1 if paradigm == "pointwise" else 3  # a pointwise row shows one passage
    for text in texts:
        parsed = parser.parse(text, shown)  # never raises
        if parsed.ok and paradigm == "groupwise":
            assert all(isinstance(v, float) for v in parsed.value)
    names = [n for n in REWARDS if n in {"format", "setwise_choice", "listwise_ndcg", "pointwise_accuracy",
                                         "groupwise_ndcg", "distributional"}]
    funcs = []
    for name in names:
        try:
            funcs += build_rewards([{"name": name}], parser, "zero")[0]
        except RankrlError:  # a reward that does not apply to this paradigm
            continue
    assert funcs, f"no reward applies to {paradigm}"
    n = len(texts)
    for func in funcs:
        values = func(texts, relevance=[[2, 0, 1][:shown]] * n, docids=[["a", "b", "c"][:shown]] * n, qid=["q"] * n)
        assert len(values) == n
        assert all(v is None or (isinstance(v, float) and math.isfinite(v) and abs(v) < 1e6) for v in values), func.__name__
    assert not marker.exists(), "model output was executed"


# =========================================================================================== weights and pickles

PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy", ".joblib"}
# What HF Trainer puts in a checkpoint besides weights; read back on resume with torch.load(weights_only=True).
TRAINER_STATE_FILES = {"optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"}


def test_tiny_model_is_safetensors_only(tiny_model):
    files = {p.name for p in tiny_model.iterdir()}
    assert "model.safetensors" in files
    assert {f for f in files if Path(f).suffix in PICKLE_SUFFIXES} == set()


@pytest.mark.slow
def test_trained_model_and_checkpoints_hold_safetensors_weights(uninterrupted):
    final = {p.name for p in uninterrupted.iterdir() if p.is_file()}
    assert "model.safetensors" in final
    # the final model folder holds no pickled weights; training_args.bin (HF's record of the arguments) is
    # written by Trainer.save_model and never read by rankrl
    assert {f for f in final if Path(f).suffix in PICKLE_SUFFIXES} <= {"training_args.bin"}
    checkpoints = sorted(uninterrupted.glob("checkpoint-*"))
    assert checkpoints
    for checkpoint in checkpoints:
        files = {p.name for p in checkpoint.iterdir()}
        assert "model.safetensors" in files, checkpoint
        assert {f for f in files if Path(f).suffix in PICKLE_SUFFIXES} <= TRAINER_STATE_FILES, checkpoint


class _Plant:
    """Unpickling this runs ``os.mkdir(marker)``: what a hostile checkpoint file would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.mkdir, (self.marker,))


@pytest.mark.slow
def test_resume_refuses_a_hostile_pickle_in_a_checkpoint(tiny_model, uninterrupted, tmp_path):
    """Optimizer, scheduler and RNG files of a checkpoint replaced by pickles that run code when loaded: resuming
    must not run it (transformers loads them with ``weights_only=True``)."""
    out = tmp_path / "out"
    shutil.copytree(uninterrupted / "checkpoint-2", out / "checkpoint-2")
    marker = tmp_path / "code-ran"
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (out / "checkpoint-2" / name).write_bytes(pickle.dumps(_Plant(marker)))
    with pytest.raises(OSError):  # the plant works: plain pickle.loads runs it (and the marker then exists)
        pickle.loads(pickle.dumps(_Plant(tmp_path)))
    result = run_cli(train_args(tiny_model, out), cwd=tmp_path, timeout=600)
    assert not marker.exists(), f"a checkpoint's pickle ran code on resume\n{result}"
    assert result.returncode != 0, str(result)


@pytest.mark.slow
def test_resume_reports_an_unloadable_checkpoint_cleanly(tiny_model, uninterrupted, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(uninterrupted / "checkpoint-2", out / "checkpoint-2")
    optimizer = out / "checkpoint-2" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])
    result = run_cli(train_args(tiny_model, out), cwd=tmp_path, timeout=600)
    assert result.returncode == 2 and "Traceback" not in result.stderr, str(result)
    assert "optimizer.pt" in result.stderr
    assert f"Delete the folder {out / 'checkpoint-2'}" in result.stderr and "resume_from_checkpoint" in result.stderr


@pytest.mark.slow
def test_resume_reports_an_optimizer_state_that_does_not_fit_cleanly(tiny_model, uninterrupted, tmp_path):
    """A whole, loadable optimizer.pt that does not fit the model (another run's, a changed setting): the
    Trainer's own loading fails; that failure too is a clean error naming the files, not a traceback."""
    import torch

    out = tmp_path / "out"
    shutil.copytree(uninterrupted / "checkpoint-2", out / "checkpoint-2")
    torch.save({"state": {}, "param_groups": [{"params": [0], "lr": 0.1}]}, out / "checkpoint-2" / "optimizer.pt")
    result = run_cli(train_args(tiny_model, out), cwd=tmp_path, timeout=600)
    assert result.returncode == 2 and "Traceback" not in result.stderr, str(result)
    assert f"optimizer.pt or scheduler.pt in {out / 'checkpoint-2'}" in result.stderr, str(result)
    assert not (out / "model.safetensors").exists()


# =========================================================================================== trust_remote_code


def test_trust_remote_code_defaults_off():
    import inspect

    from trl import GRPOConfig

    from rankrl.eval.backends.hf import HFBackend
    from rankrl.eval.backends.vllm import VLLMBackend
    from rankrl.rl.recipe import read_recipe

    assert GRPOConfig.__dataclass_fields__["trust_remote_code"].default is False
    for backend in (HFBackend, VLLMBackend):
        assert inspect.signature(backend.__init__).parameters["trust_remote_code"].default is False
    recipes = sorted((REPO_ROOT / "rl" / "recipes").glob("*.yaml"))
    assert recipes
    for recipe in recipes:  # no shipped recipe turns it on (GPU recipes cannot build a GRPOConfig on CPU)
        assert read_recipe(recipe).values.get("trust_remote_code", False) is False, recipe
    from rankrl.eval.cli import build_parser

    eval_args = build_parser().parse_args(["--model", "m", "--benchmark", "trec-dl-2019", "--out", "o"])
    assert getattr(eval_args, "trust_remote_code", False) is False  # off unless a flag turns it on


REMOTE_CODE = '''
import os, pathlib
pathlib.Path(os.environ["RANKRL_TEST_MARKER"]).write_text("the model folder's code ran")
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM


class HostileConfig(Qwen3Config):
    pass


class HostileModel(Qwen3ForCausalLM):
    config_class = HostileConfig


class HostileTokenizer(PreTrainedTokenizerFast):
    pass
'''


@pytest.fixture
def hostile_model(tiny_model, tmp_path) -> Path:
    """The tiny model with an ``auto_map`` pointing its config, model and tokenizer at code in the folder."""
    folder = tmp_path / "hostile-model"
    shutil.copytree(tiny_model, folder)
    (folder / "hostile.py").write_text(REMOTE_CODE, encoding="utf-8")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "hostile.HostileConfig", "AutoModelForCausalLM": "hostile.HostileModel"}
    (folder / "config.json").write_text(json.dumps(config))
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    tok["auto_map"] = {"AutoTokenizer": ["hostile.HostileTokenizer", "hostile.HostileTokenizer"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))
    return folder


@pytest.mark.slow
def test_model_folder_code_is_not_run(hostile_model, bench, tmp_path):
    marker = tmp_path / "code-ran"
    env = {"RANKRL_TEST_MARKER": str(marker), "HF_MODULES_CACHE": str(tmp_path / "hf-modules")}
    # control: the trap is real — with trust_remote_code=True transformers runs the folder's code
    control = subprocess.run(
        [sys.executable, "-c", ("import sys; from transformers import AutoConfig; "
                                "AutoConfig.from_pretrained(sys.argv[1], trust_remote_code=True)"), str(hostile_model)],
        env=cli_env(**env), capture_output=True, text=True, timeout=300, check=False)
    assert marker.exists(), control.stderr
    marker.unlink()

    evaluated = run_cli(["eval", "--model", hostile_model, "--benchmark", f"local:{bench}", "--out", tmp_path / "ev",
                         "--top-k", "3", "--max-queries", "1", "--max-new-tokens", "4", "--no-progress"],
                        cwd=tmp_path, **env)
    assert evaluated.returncode == 0, str(evaluated)
    assert not marker.exists(), "rankrl eval ran the model folder's code"
    trained = run_cli(["train", "--config", REPO_ROOT / "rl/recipes/tiny.yaml", "--model_name_or_path", hostile_model,
                       "--output_dir", tmp_path / "tr", "--dry_run", "true"], cwd=tmp_path, **env)
    assert trained.returncode == 0, str(trained)
    assert not marker.exists(), "rankrl train ran the model folder's code"


# =========================================================================================== ids are not paths

HTML = "<script>alert(1)</script>"


def hostile_bench(root: Path) -> Path:
    """Ids that would escape a folder if used as paths (relative, absolute) or inject HTML; a passage with HTML."""
    absolute = str(root / "ABSOLUTE-ESCAPE")
    folder = write_local_benchmark(root / "bench", qids=("../../escape-q", "q2", '"><img/src=x/onerror=alert(1)>'),
                                   ndocs=6, extra_docids=("../../../escape-d", absolute))
    corpus = (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    corpus[0] = json.dumps({"docid": "d0", "text": f"red cat {HTML} passage"})
    (folder / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    return folder


def _command(kind: str, model: Path | None, bench: Path, out: Path) -> list:
    if kind == "data-build":
        return ["data", "build", "--data-source", f"benchmark:local:{bench}", "--paradigm", "setwise", "--group-size",
                "4", "--out", out, "--no-progress"]
    if kind == "eval":
        return ["eval", "--model", model, "--benchmark", f"local:{bench}", "--out", out, "--top-k", "8",
                "--max-new-tokens", "8", "--no-progress"]
    return [*train_args(model, out)[:-6], "--data_source", f"benchmark:local:{bench}", "--max_steps", "1",
            "--save_steps", "1", "--samples_per_step", "8"]


@pytest.mark.parametrize("kind", ["data-build", pytest.param("eval", marks=pytest.mark.slow),
                                  pytest.param("train", marks=pytest.mark.slow)])
def test_ids_from_data_files_never_become_paths(kind, request, tmp_path):
    work = tmp_path / "work" / "deep" / "er"  # '../..' from here stays inside tmp_path, where it is visible
    work.mkdir(parents=True)
    bench = hostile_bench(tmp_path)
    model = request.getfixturevalue("tiny_model") if kind != "data-build" else None
    out = work / "out"
    before = tree(tmp_path)
    result = run_cli(_command(kind, model, bench, out), cwd=work)
    assert result.returncode == 0, str(result)
    new = set(tree(tmp_path)) - set(before)
    outside = sorted(p for p in new if not (tmp_path / p).resolve().is_relative_to(out.resolve()))
    assert outside == [], f"{kind} wrote outside its output folder: {outside}"
    assert not (tmp_path / "ABSOLUTE-ESCAPE").exists()
    if kind == "eval":
        run = (out / "run.trec").read_text(encoding="utf-8")
        assert "../../escape-q Q0 ../../../escape-d " in run  # ids are kept verbatim, as data
        page = (out / "traces.html").read_text(encoding="utf-8")
        assert HTML not in page and "<img/src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
