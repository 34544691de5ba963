"""The bad-input battery: one test per CLI error class, each parametrised over the subcommands it applies to.

Every case runs ``rankrl`` in a separate process (real exit code, real stderr; forked from a pre-imported
interpreter, see ``reliability_support.ForkServer``) and asserts:
  * exit code 2 and a ``rankrl <cmd>: error: ...`` message naming the thing (file, line, field, name, fix);
  * no ``Traceback`` on stderr, while the same command with ``--debug`` prints one (argparse's own errors
    excepted: they happen before rankrl's handler and have no traceback to show);
  * nothing half-written: the folder the command ran in is unchanged afterwards, file by file (no output
    folder, no temporary file, an existing output untouched).

``train``/``sft``/``eval`` cases load a tiny model or TRL configs: marked slow (they still run in CI).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reliability_support import (
    REPO_ROOT,
    TINY_RECIPE,
    ForkServer,
    assert_clean_error,
    run_cli,
    tree,
    write_local_benchmark,
)

HEAVY = ("train", "sft", "eval")
SFT_RECIPE = REPO_ROOT / "rl" / "recipes" / "sft-tiny.yaml"


@dataclass
class Case:
    args: list[str]
    needles: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """What a case builder gets: the scratch folder (also the command's working directory) and lazy fixtures."""

    root: Path
    request: pytest.FixtureRequest
    rankrl: ForkServer

    def model(self) -> Path:
        return self.request.getfixturevalue("tiny_model")

    def bench(self, name: str = "bench", **kw) -> Path:
        return write_local_benchmark(self.root / name, **kw)

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def qrels(self) -> Path:
        return self.file("ok.qrels", "q1 0 d0 2\nq1 0 d1 0\n")

    def run(self) -> Path:
        return self.file("ok.run", "q1 Q0 d0 1 2.0 t\nq1 Q0 d1 2 1.0 t\n")

    def train(self, *extra: str) -> list[str]:
        return ["train", "--config", str(TINY_RECIPE), "--model_name_or_path", str(self.model()),
                "--output_dir", str(self.root / "train-out"), *extra]

    def traces(self, broken: bool = False) -> Path:
        """SFT traces: a well-formed setwise completion per line (line 2 cut short when ``broken``)."""
        record = {"query": "red cat", "passages": ["a red cat", "a blue dog"],
                  "completion": "<think>the first names it</think><answer>[1]</answer>"}
        lines = [json.dumps(record)] * 3
        if broken:
            lines[1] = lines[1][:25]
        return self.file("traces.jsonl", "\n".join(lines) + "\n")

    def sft(self, *extra: str, traces: Path | str | None = None) -> list[str]:
        return ["sft", "--config", str(SFT_RECIPE), "--model_name_or_path", str(self.model()),
                "--traces", str(traces or self.traces()), "--output_dir", str(self.root / "sft-out"), *extra]

    def eval(self, *extra: str, model: Path | None = None, bench: Path | None = None) -> list[str]:
        bench = bench or self.bench()
        return ["eval", "--model", str(model or self.model()), "--benchmark", f"local:{bench}",
                "--out", str(self.root / "eval-out"), "--top-k", "6", "--max-new-tokens", "8", "--no-progress",
                *extra]

    def build(self, *extra: str, source: tuple[str, str] | None = None) -> list[str]:
        source = source or ("benchmark", f"local:{self.bench()}")
        renamed = {"--qrels": "--rankgpt-qrels", "--run": "--first-stage-run", "--data-dir": "--benchmark-dir"}
        extra = tuple(renamed.get(a, a) for a in extra)
        return ["data", "build", "--data-source", f"{source[0]}:{source[1]}", "--paradigm", "setwise", "--group-size", "4",
                "--out", str(self.root / "rows-out"), "--no-progress", *extra]


Builder = Callable[[Ctx], Case]


def _params(table: dict, defects: dict[str, str] | None = None) -> list:
    """pytest params for a table of cases; train/sft/eval marked slow. ``defects`` maps a case to the reported
    defect (in code this battery's owner may not edit) that makes it fail today: strict xfail, so the fix turns
    the case into an unexpected pass that fails until the marker is removed."""
    defects = defects or {}
    return [pytest.param(key, id=key, marks=([pytest.mark.slow] if key.split("-")[0] in HEAVY else [])
                         + ([pytest.mark.xfail(strict=True, reason=defects[key])] if key in defects else []))
            for key in table]


def check(ctx: Ctx, case: Case) -> None:
    """The four assertions of the battery (see the module docstring)."""
    before = tree(ctx.root)
    result = ctx.rankrl.run(case.args, cwd=ctx.root, **case.env)
    assert_clean_error(result, *case.needles)
    assert tree(ctx.root) == before, f"the command wrote files although it failed\n{result}"
    debug = ctx.rankrl.run([*case.args, "--debug"], cwd=ctx.root, **case.env)
    assert debug.returncode == 2, str(debug)
    if "usage:" not in debug.stderr:  # argparse errors exit before rankrl's handler: no traceback to show
        assert "Traceback (most recent call last)" in debug.stderr, f"--debug showed no traceback\n{debug}"
    assert tree(ctx.root) == before, f"the --debug run wrote files although it failed\n{debug}"


@pytest.fixture
def ctx(tmp_path, request, rankrl) -> Ctx:
    return Ctx(tmp_path, request, rankrl)


# =========================================================================================== missing files

MISSING: dict[str, Builder] = {
    "score": lambda c: Case(["score", "nope.qrels", str(c.run())], ("nope.qrels", "not found")),
    "data-build": lambda c: Case(c.build("--qrels", str(c.qrels()), source=("rankgpt", "nope.json")),
                                 ("nope.json", "not found")),
    "data-build-local": lambda c: Case(c.build(source=("benchmark", "local:no-such-dir")),
                                       ("no-such-dir", "not found")),
    "train-recipe": lambda c: Case(["train", "--config", "no-such.yaml"], ("no-such.yaml", "not found")),
    "train-dataset": lambda c: Case(c.train("--data_source", "", "--dataset_dir", "no-rows"), ("no-rows",)),
    "sft-recipe": lambda c: Case(["sft", "--config", "no-such.yaml"], ("no-such.yaml", "not found")),
    "sft-traces": lambda c: Case(c.sft(traces="no-traces.jsonl"), ("no-traces.jsonl", "not found")),
    "eval-run": lambda c: Case(c.eval("--run", "no-such.run"), ("no-such.run", "not found")),
    "eval-model": lambda c: Case(c.eval("--paradigm", "setwise", model=c.root / "no" / "model"),
                                 ("model folder not found", "no/model")),
    "eval-model-no-paradigm": lambda c: Case(c.eval(model=c.root / "no" / "model"),
                                             ("model folder not found", "no/model")),
    "train-model": lambda c: Case([*c.train()[:3], "--model_name_or_path", str(c.root / "no" / "model"),
                                   "--output_dir", str(c.root / "train-out")], ("model folder not found", "no/model")),
}


@pytest.mark.parametrize("key", _params(MISSING))
def test_missing_file(key, ctx):
    check(ctx, MISSING[key](ctx))


# =========================================================================================== unreadable files


def _folder(ctx: Ctx, name: str) -> str:
    (ctx.root / name).mkdir()
    return name


UNREADABLE: dict[str, Builder] = {
    "score-folder": lambda c: Case(["score", _folder(c, "qrels-dir"), str(c.run())], ("qrels-dir", "folder")),
    "score-binary": lambda c: Case(["score", str(c.file("bin.qrels", b"q1 0 d0 1\n\xff\xfe\x00")), str(c.run())],
                                   ("bin.qrels:2", "UTF-8")),
    "data-build-folder": lambda c: Case(c.build("--run", _folder(c, "run-dir")), ("run-dir",)),
    "data-build-gzip": lambda c: Case(c.build("--run", str(c.file("cut.run.gz", b"\x1f\x8b\x08\x00garbage"))),
                                      ("cut.run.gz",)),
    "train": lambda c: Case(["train", "--config", _folder(c, "recipe-dir")], ("recipe-dir",)),
    "sft": lambda c: Case(["sft", "--config", _folder(c, "recipe-dir")], ("recipe-dir",)),
    "eval": lambda c: Case(c.eval("--run", _folder(c, "run-dir")), ("run-dir", "folder")),
}


@pytest.mark.parametrize("key", _params(UNREADABLE))
def test_unreadable_file(key, ctx):
    check(ctx, UNREADABLE[key](ctx))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permission bits do not stop root from reading a file (this run is root)")
def test_permission_denied(ctx):
    path = ctx.qrels()
    path.chmod(0)
    try:
        check(ctx, Case(["score", str(path), str(ctx.run())], ("ok.qrels", "cannot read")))
    finally:
        path.chmod(0o644)


# =========================================================================================== malformed data


def _broken_bench(ctx: Ctx, fname: str, line2: str) -> Path:
    """A valid local benchmark whose ``fname`` has its second line replaced."""
    folder = ctx.bench("broken")
    lines = (folder / fname).read_text(encoding="utf-8").splitlines()
    lines[1] = line2
    (folder / fname).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _broken_source(ctx: Ctx, fname: str, line2: str) -> tuple[str, str]:
    return ("benchmark", f"local:{_broken_bench(ctx, fname, line2)}")


def _trec_dl_folder(ctx: Ctx) -> Path:
    """A TREC DL 2019 folder in the local layout, written by hand, with a broken topics line 2."""
    folder = ctx.root / "dl19"
    folder.mkdir()
    (folder / "qrels.dl19-passage.txt").write_text("1 0 d0 2\n1 0 d1 0\n", encoding="utf-8")
    (folder / "topics.dl19-passage.txt").write_text("1\tred cat\n2 no tab here\n", encoding="utf-8")
    (folder / "bm25_trec_results_dl19_top100.txt").write_text("1 Q0 d0 1 2.0 t\n1 Q0 d1 2 1.0 t\n")
    return folder


MALFORMED: dict[str, Builder] = {
    "score-qrels": lambda c: Case(["score", str(c.file("b.qrels", "q1 0 d0 1\nq1 0 d1\n")), str(c.run())],
                                  ("b.qrels:2", "4 columns")),
    "score-run": lambda c: Case(["score", str(c.qrels()), str(c.file("b.run", "q1 Q0 d0 1 2 t\nq1 Q0 d1 x 1 t\n"))],
                                ("b.run:2", "rank 'x'")),
    "score-jsonl": lambda c: Case(["score", str(c.qrels()), str(c.run()), "--bright-examples",
                                   str(c.file("ex.jsonl", '{"id": "q1"}\n{"id": \n'))], ("ex.jsonl:",)),
    "data-build-queries": lambda c: Case(
        c.build(source=_broken_source(c, 'queries.jsonl', '{\"qid\": \"q2\", ')),
        ("queries.jsonl:2", "JSON")),
    "data-build-corpus": lambda c: Case(
        c.build(source=_broken_source(c, 'corpus.jsonl', '[1, 2]')),
        ("corpus.jsonl:2",)),
    "data-build-qrels": lambda c: Case(
        c.build(source=_broken_source(c, 'qrels.txt', 'q1 0 d1 high')),
        ("qrels.txt:2", "grade")),
    "data-build-run": lambda c: Case(
        c.build(source=_broken_source(c, 'run.trec', 'q1 Q0 d5 2 nan bm25')),
        ("run.trec:2", "score")),
    "data-build-topics": lambda c: Case(
        c.build("--data-dir", str(_trec_dl_folder(c)), source=("benchmark", "trec-dl-2019")),
        ("topics.dl19-passage.txt:2", "tab")),
    "data-build-rankgpt": lambda c: Case(
        c.build("--qrels", str(c.qrels()),
                source=("rankgpt", str(c.file("cands.json", '[{"query": "x", "hits": []},\n{"query": ')))),
        ("cands.json:2", "JSON")),
    "train": lambda c: Case(
        c.train("--data_source", f"benchmark:local:{_broken_bench(c, 'qrels.txt', 'q1 0 d1')}"),
        ("qrels.txt:2",)),
    "sft": lambda c: Case(c.sft(traces=c.traces(broken=True)), ("traces.jsonl:2", "JSON")),
    "eval": lambda c: Case(c.eval(bench=_broken_bench(c, "corpus.jsonl", '{"docid": "d1", "text": 7}')),
                           ("corpus.jsonl:2", "text")),
}


@pytest.mark.parametrize("key", _params(MALFORMED))
def test_malformed_data(key, ctx):
    check(ctx, MALFORMED[key](ctx))


# =========================================================================================== broken YAML

BROKEN_YAML = "paradigm: setwise\nrewards:\n  - {name: format, weight: 1\nlearning_rate: 1e-5\n"

YAML: dict[str, Builder] = {
    "train": lambda c: Case(["train", "--config", str(c.file("broken.yaml", BROKEN_YAML))], ("broken.yaml:4",)),
    "train-duplicate-key": lambda c: Case(
        ["train", "--config", str(c.file("dup.yaml", "paradigm: setwise\nmax_steps: 2\nparadigm: listwise\n"))],
        ("dup.yaml:3", "duplicate", "paradigm")),
    "train-not-a-mapping": lambda c: Case(["train", "--config", str(c.file("list.yaml", "- a\n- b\n"))],
                                          ("list.yaml", "mapping")),
    "sft": lambda c: Case(["sft", "--config", str(c.file("broken.yaml", BROKEN_YAML))], ("broken.yaml:4",)),
}


@pytest.mark.parametrize("key", _params(YAML))
def test_broken_yaml(key, ctx):
    check(ctx, YAML[key](ctx))


# =========================================================================================== unknown keys


def _recipe_with(ctx: Ctx, base: Path, extra: str, name: str = "recipe.yaml") -> str:
    return str(ctx.file(name, base.read_text(encoding="utf-8") + extra))


def _recipe_line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


UNKNOWN_KEY: dict[str, Builder] = {
    "score": lambda c: Case(["score", str(c.qrels()), str(c.run()), "--metrik", "AP"], ("--metrik",)),
    "data-build": lambda c: Case(c.build("--group-sise", "4"), ("--group-sise",)),
    "tiny-model": lambda c: Case(["tiny-model", str(c.root / "tm"), "--warmup_steps", "3"], ("--warmup_steps",)),
    "train-yaml": lambda c: Case(
        ["train", "--config", _recipe_with(c, TINY_RECIPE, "learning_rat: 1.0e-5\n")],
        (f"recipe.yaml:{_recipe_line_count(TINY_RECIPE) + 1}", "learning_rat", "learning_rate")),
    "train-flag": lambda c: Case(c.train("--num_generation", "4"), ("--num_generation",)),
    "sft-yaml": lambda c: Case(["sft", "--config", _recipe_with(c, SFT_RECIPE, "learning_rat: 1.0e-5\n")],
                               (f"recipe.yaml:{_recipe_line_count(SFT_RECIPE) + 1}", "learning_rat")),
    "sft-flag": lambda c: Case(c.sft("--completion_loss", "true"), ("--completion_loss",)),
    "eval": lambda c: Case(c.eval("--windw", "20"), ("--windw",)),
    # abbreviations of real flags are refused, not silently expanded
    "tiny-model-abbrev": lambda c: Case(["tiny-model", str(c.root / "tm"), "--warmup", "3"], ("--warmup",)),
    "train-abbrev": lambda c: Case(c.train("--learning_r", "1e-5"), ("--learning_r",)),
    "sft-abbrev": lambda c: Case(c.sft("--max_len", "64"), ("--max_len",)),
    "eval-abbrev": lambda c: Case(c.eval("--win", "5"), ("--win",)),
}


@pytest.mark.parametrize("key", _params(UNKNOWN_KEY))
def test_unknown_config_key(key, ctx):
    check(ctx, UNKNOWN_KEY[key](ctx))


# =========================================================================================== impossible arithmetic

ARITHMETIC: dict[str, Builder] = {
    "data-build": lambda c: Case(c.build("--top-n", "2"), ("top", "group")),
    "tiny-model": lambda c: Case(["tiny-model", str(c.root / "tm"), "--warmup-steps", "-1"],
                                 ("--warmup-steps", ">= 0")),
    "train-num-generations": lambda c: Case(
        c.train("--num_generations", "3"),
        ("num_generations (3)", "per_device_train_batch_size", "multiple of 3")),
    "train-processes": lambda c: Case(
        c.train("--num_generations", "8", "--per_device_train_batch_size", "4"),
        ("processes (3)", "num_generations (8)", "set per_device_train_batch_size to a multiple of 8"),
        env={"WORLD_SIZE": "3"}),
    "train-generation-batch": lambda c: Case(
        c.train("--generation_batch_size", "12"), ("generation_batch_size (12)", "per_device_train_batch_size")),
    "sft-max-length": lambda c: Case(c.sft("--max_prompt_tokens", "600"),
                                     ("max_prompt_tokens (600)", "max_length (512)")),
    "sft-batch": lambda c: Case(c.sft("--per_device_train_batch_size", "0"), ("per_device_train_batch_size",)),
    "eval-window": lambda c: Case(c.eval("--paradigm", "listwise", "--window", "5", "--stride", "10"),
                                  ("--stride", "window")),
    "eval-top-k": lambda c: Case(c.eval("--top-k", "0"), ("--top-k",)),
    "tiny-model-threads": lambda c: Case(["tiny-model", str(c.root / "tm"), "--threads", "0"],
                                         ("--threads", ">= 1")),
}


@pytest.mark.parametrize("key", _params(ARITHMETIC))
def test_impossible_arithmetic(key, ctx):
    check(ctx, ARITHMETIC[key](ctx))


# =========================================================================================== unknown names

UNKNOWN_NAME: dict[str, Builder] = {
    "score-metric": lambda c: Case(["score", str(c.qrels()), str(c.run()), "-m", "nDCG@ten"], ("nDCG@ten", "nDCG@k")),
    "data-build-paradigm": lambda c: Case(c.build("--paradigm", "pairwise"),
                                          ("pairwise", "setwise", "listwise", "pointwise", "groupwise")),
    "data-build-benchmark": lambda c: Case(c.build(source=("benchmark", "trec-dl-2021")),
                                           ("trec-dl-2021", "trec-dl-2019", "bright/")),
    "tiny-model-paradigm": lambda c: Case(["tiny-model", str(c.root / "tm"), "--paradigm", "pairwise"],
                                          ("pairwise", "setwise")),
    "train-paradigm": lambda c: Case(c.train("--paradigm", "pairwise"), ("pairwise", "listwise")),
    "train-reward": lambda c: Case(c.train("--rewards", "ndcg_at_10:1.0"), ("ndcg_at_10", "setwise_choice")),
    "train-data-source": lambda c: Case(c.train("--data_source", "msmarco:x"), ("msmarco", "synthetic")),
    "sft-paradigm": lambda c: Case(c.sft("--paradigm", "pairwise"), ("pairwise", "listwise")),
    "eval-benchmark": lambda c: Case(c.eval("--benchmark", "trec-dl-2021"), ("trec-dl-2021", "trec-dl-2019")),
    "eval-strategy": lambda c: Case(c.eval("--strategy", "pairwise"), ("pairwise", "setwise")),
    "eval-strategy-misfit": lambda c: Case(c.eval("--strategy", "listwise"), ("listwise", "setwise")),
    "eval-paradigm": lambda c: Case(c.eval("--paradigm", "pairwise"), ("pairwise", "groupwise")),
}


@pytest.mark.parametrize("key", _params(UNKNOWN_NAME))
def test_unknown_name(key, ctx):
    check(ctx, UNKNOWN_NAME[key](ctx))


# =========================================================================================== checkpoints


def _foreign_checkpoint(ctx: Ctx) -> Path:
    folder = ctx.root / "foreign-model"
    shutil.copytree(ctx.model(), folder)
    (folder / "rankrl.json").unlink()
    return folder


def _other_paradigm_run(ctx: Ctx) -> Path:
    """An output_dir holding a listwise checkpoint: resuming it as setwise would mix two tasks."""
    out = ctx.root / "train-out"
    (out / "checkpoint-1").mkdir(parents=True)
    (out / "checkpoint-1" / "rankrl.json").write_text(json.dumps({"schema": 1, "paradigm": "listwise"}))
    return out


CHECKPOINT: dict[str, Builder] = {
    "eval-no-metadata": lambda c: Case(c.eval(model=_foreign_checkpoint(c)),
                                       ("rankrl.json", "--paradigm", "--template")),
    "train-other-paradigm": lambda c: (_other_paradigm_run(c), Case(c.train(), ("checkpoint-1", "listwise")))[1],
}


@pytest.mark.parametrize("key", _params(CHECKPOINT))
def test_checkpoint_metadata(key, ctx):
    check(ctx, CHECKPOINT[key](ctx))


# =========================================================================================== existing outputs


def _existing(ctx: Ctx, name: str, content: str | None = None) -> Path:
    """An existing output (a file, or a non-empty folder) that a failed command must leave untouched."""
    path = ctx.root / name
    if content is not None:
        path.write_text(content)
    else:
        path.mkdir()
        (path / "keep.txt").write_text("precious")
    return path


EXISTING: dict[str, Builder] = {
    "data-build": lambda c: (_existing(c, "rows-out"), Case(c.build(), ("rows-out", "--overwrite")))[1],
    "data-build-overwrite-foreign": lambda c: (_existing(c, "rows-out"),
                                               Case(c.build("--overwrite"), ("refusing to replace", "rows-out")))[1],
    "tiny-model": lambda c: Case(["tiny-model", str(_existing(c, "tm")), "--warmup-steps", "0"], ("tm", "--overwrite")),
    "tiny-model-overwrite-foreign": lambda c: Case(
        ["tiny-model", str(_existing(c, "tm")), "--warmup-steps", "0", "--overwrite"],
        ("refusing to replace", "tm", "tiny_model.json")),
    "tiny-model-file": lambda c: Case(["tiny-model", str(_existing(c, "tm", "a file")), "--warmup-steps", "0"],
                                      ("tm", "is a file")),
    "train": lambda c: (_existing(c, "train-out", "a file"), Case(c.train(), ("train-out",)))[1],
    "sft": lambda c: (_existing(c, "sft-out", "a file"), Case(c.sft(), ("sft-out",)))[1],
    "eval": lambda c: (_existing(c, "eval-out", "a file"), Case(c.eval(), ("eval-out", "not a folder")))[1],
}


@pytest.mark.parametrize("key", _params(EXISTING))
def test_existing_output_untouched(key, ctx):
    check(ctx, EXISTING[key](ctx))


# =========================================================================================== unwritable outputs

UNWRITABLE_PARENT = "/proc/rankrl-reliability"  # exists nowhere and cannot be created, even by root


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux) for an uncreatable path")
@pytest.mark.parametrize("key", _params({
    "data-build": None, "tiny-model": None, "train": None, "sft": None, "eval": None,
}))
def test_unwritable_output(key, ctx):
    out = f"{UNWRITABLE_PARENT}/out"
    args = {
        "data-build": lambda: [*ctx.build()[:-3], "--out", out, "--no-progress"],
        "tiny-model": lambda: ["tiny-model", out, "--warmup-steps", "0"],
        "train": lambda: [*ctx.train()[:-2], "--output_dir", out, "--max_steps", "1"],
        "sft": lambda: [*ctx.sft()[:-2], "--output_dir", out, "--max_steps", "1"],
        "eval": lambda: [*ctx.eval()[:5], "--out", out, "--top-k", "6", "--max-new-tokens", "8", "--no-progress"],
    }[key]()
    check(ctx, Case(args, (UNWRITABLE_PARENT,)))


# =========================================================================================== the runner itself

FRESH: dict[str, Builder] = {
    "score": MISSING["score"],
    "data-build": MALFORMED["data-build-queries"],
    "tiny-model": UNKNOWN_NAME["tiny-model-paradigm"],
    "train": ARITHMETIC["train-num-generations"],
    "sft": YAML["sft"],
    "eval": UNKNOWN_NAME["eval-benchmark"],
}


@pytest.mark.parametrize("key", _params(FRESH))
def test_fork_server_matches_a_fresh_interpreter(key, ctx):
    """One case per command through a fresh ``python -m rankrl.core.cli``: same exit code, same message, no traceback."""
    case = FRESH[key](ctx)
    fresh = run_cli(case.args, cwd=ctx.root, **case.env)
    forked = ctx.rankrl.run(case.args, cwd=ctx.root, **case.env)
    assert_clean_error(fresh, *case.needles)
    assert fresh.returncode == forked.returncode
    assert [x for x in fresh.stderr.splitlines() if ": error: " in x] == \
        [x for x in forked.stderr.splitlines() if ": error: " in x]
