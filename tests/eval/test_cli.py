"""``rankrl eval`` end to end with the tiny model (hf backend), and its refusals before creating --out."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rankrl.core.cli import main
from rankrl.data.bright import DOMAINS
from rankrl.data.trec import read_run

REPO = Path(__file__).resolve().parents[2]
FAST = ["--no-progress", "--max-new-tokens", "8", "--max-passage-chars", "60", "--batch-size", "16"]


def _pytrec(qrels_path: Path, run_path: Path, qids, measure="ndcg_cut_10", excluded=None):
    """pytrec_eval straight on the files (the reference the CLI's metrics.json must equal)."""
    import pytrec_eval

    qrels: dict = {}
    for line in qrels_path.read_text().splitlines():
        q, _, d, g = line.split()
        if q in qids:
            qrels.setdefault(q, {})[d] = int(g)
    run: dict = {}
    for line in run_path.read_text().splitlines():
        q, _, d, _, s, _ = line.split()
        if d not in (excluded or {}).get(q, ()):
            run.setdefault(q, {})[d] = float(s)
    values = pytrec_eval.RelevanceEvaluator(qrels, {measure}).evaluate(run)
    per_query = {q: values[q][measure] if q in values else 0.0 for q in qrels}
    return sum(per_query.values()) / len(per_query), per_query


def test_end_to_end_on_three_dl19_queries(tiny_checkpoints, shared_data, tmp_path, dl19):
    out = tmp_path / "out"
    code = main(["eval", "--model", str(tiny_checkpoints["listwise"]), "--benchmark", "trec-dl-2019",
                 "--data-dir", str(shared_data), "--out", str(out), "--max-queries", "3", "--top-k", "20",
                 "--backend", "hf", *FAST])
    assert code == 0
    for name in ("run.trec", "metrics.json", "traces.jsonl", "traces.html", "report.md",
                 "completions.cache.jsonl"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.png"))  # one benchmark: no chart
    run = read_run(out / "run.trec")
    qids = list(dl19.queries)[:3]
    assert sorted(run) == sorted(qids)
    for qid in qids:
        docids = [d for d, _ in run[qid]]
        assert sorted(docids) == sorted(d for d, _ in dl19.first_stage[qid])  # all 100 first-stage candidates
        scores = [s for _, s in run[qid]]
        assert all(a > b for a, b in itertools.pairwise(scores))
    metrics = json.loads((out / "metrics.json").read_text())
    mean, per_query = _pytrec(shared_data / "trec-dl" / "qrels.dl19-passage.txt", out / "run.trec", set(qids))
    assert abs(metrics["nDCG@10"] - mean) < 1e-9
    assert all(abs(metrics["per_query"][q]["nDCG@10"] - per_query[q]) < 1e-9 for q in qids)
    assert metrics["num_queries"] == 3 and metrics["rel_level"] == 2
    for key in ("nDCG@5", "nDCG@20", "RR@10", "R@10", "R@100", "AP"):
        assert key in metrics["metrics"]
    # 20 candidates, window 20: one prompt per query
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    assert [t["qid"] for t in traces] == qids
    for t in traces:
        assert {"prompt_id", "qid", "reasoning", "answer", "ok", "error", "completion"} <= set(t)
        assert len(t["docids"]) == 20 and t["completion_tokens"] <= 8
    cost = metrics["cost"]
    assert cost["prompts"] == 3 and cost["generated"] == 3 and cost["parse_failures"] == sum(
        1 for t in traces if not t["ok"])
    report = (out / "report.md").read_text()
    assert "| trec-dl-2019 | 3 |" in report and "LLM calls" in report and "parse failures" in report
    assert f"{metrics['nDCG@10']:.4f}" in report and "wall time" in report
    page = (out / "traces.html").read_text()
    assert dl19.queries[qids[0]].text in page and "<script>" in page and "http" not in page.split("<body>")[0]


STRATEGY_RUNS = [
    ("setwise", ["--num-child", "3", "--k", "2"]),
    ("setwise", ["--sort", "bubblesort", "--num-child", "3", "--k", "2"]),
    ("listwise", ["--window", "4", "--stride", "2"]),
    ("pointwise", []),
    ("groupwise", ["--group-size", "3", "--repeats", "2"]),
]


@pytest.mark.parametrize("paradigm, extra", STRATEGY_RUNS, ids=["heapsort", "bubblesort", "listwise", "pointwise",
                                                                "groupwise"])
def test_each_strategy_end_to_end(tiny_checkpoints, shared_data, tmp_path, paradigm, extra):
    out = tmp_path / "out"
    args = ["eval", "--model", str(tiny_checkpoints[paradigm]), "--benchmark", "trec-dl-2019", "--data-dir",
            str(shared_data), "--out", str(out), "--max-queries", "2", "--top-k", "6", *FAST, *extra]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["strategy"] == paradigm and metrics["cost"]["prompts"] > 0
    run = read_run(out / "run.trec")
    assert all(len(r) == 100 for r in run.values())
    mean, _ = _pytrec(shared_data / "trec-dl" / "qrels.dl19-passage.txt", out / "run.trec", set(run))
    assert abs(metrics["nDCG@10"] - mean) < 1e-9
    # a rerun finds every completion in the cache: nothing is generated, the run is identical
    before = (out / "run.trec").read_text()
    assert main(args) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["cost"]["generated"] == 0 and again["cost"]["cached"] == again["cost"]["prompts"]
    assert (out / "run.trec").read_text() == before


def test_checkpoint_without_rankrl_json_needs_a_paradigm_flag(tiny_model, shared_data, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["eval", "--model", str(tiny_model), "--benchmark", "trec-dl-2019", "--data-dir", str(shared_data),
            "--out", str(out), "--max-queries", "1", "--top-k", "4", *FAST]
    assert main(base) == 2
    assert "no rankrl.json" in capsys.readouterr().err and not out.exists()
    template = REPO / "prompts" / "templates" / "pointwise-binary.json"
    assert main([*base, "--template", str(template)]) == 0  # the template file names its paradigm
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["paradigm"] == "pointwise" and "pointwise-binary" in metrics["settings"]["template"]
    assert metrics["settings"]["paradigm_source"] == "command-line flags"


@pytest.mark.parametrize("extra, message", [
    (["--strategy", "pointwise"], "does not fit the 'listwise' paradigm"),
    (["--benchmark", "trec-dl-2021"], "unknown benchmark"),
    (["--top-k", "0"], "--top-k"),
    (["--stride", "20"], "--stride"),
    (["--fusion-weight", "2"], "--fusion-weight"),
    (["--metrics", "nDCG@10,bogus"], "unknown metric"),
    (["--chat-template-kwargs", "[1]"], "JSON object"),
    (["--benchmark", "bright/pony"], "have no text"),
    (["--paradigm", "ranking"], "unknown paradigm"),
])
def test_refusals_exit_2_before_creating_out(tiny_checkpoints, shared_data, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    args = ["eval", "--model", str(tiny_checkpoints["listwise"]), "--benchmark", "trec-dl-2019", "--data-dir",
            str(shared_data), "--out", str(out), *FAST, *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("extra", [[], ["--paradigm", "setwise"]])
@pytest.mark.parametrize("flag", ["--model", "--adapter"])
def test_a_missing_local_model_folder_is_named_at_once(tiny_model, shared_data, tmp_path, capsys, flag, extra):
    """Not "no rankrl.json" (without --paradigm), not a Hugging Face Hub lookup with retries (with it)."""
    out, missing = tmp_path / "out", tmp_path / "no" / "model"
    model = ["--model", str(tiny_model), "--adapter", str(missing)] if flag == "--adapter" else ["--model", str(missing)]
    assert main(["eval", *model, "--benchmark", "trec-dl-2019", "--data-dir", str(shared_data), "--out", str(out),
                 *FAST, *extra]) == 2
    err = capsys.readouterr().err
    assert f"model folder not found: {missing} ({flag})" in err and "rankrl.json" not in err
    assert not out.exists()


def test_an_org_name_model_that_is_not_a_local_folder_is_named_as_a_hub_id(shared_data, tmp_path, capsys,
                                                                           monkeypatch):
    """``runs/ckpt`` is a valid Hub id too: without rankrl.json the message says it was not found locally."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["eval", "--model", "runs/ckpt", "--benchmark", "trec-dl-2019", "--data-dir", str(shared_data),
                 "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "no rankrl.json" in err and f"runs/ckpt is not a folder under {tmp_path}" in err
    assert "Hugging Face Hub model id" in err and not out.exists()


@pytest.mark.parametrize(("out", "needle"), [
    ("a-file/out", "cannot be created: {tmp}/a-file is a file, not a folder"),
    ("/proc/rankrl-eval-test/out", "cannot be created in /proc"),
])
def test_an_out_that_cannot_be_created_is_refused_before_loading(tiny_checkpoints, shared_data, tmp_path, capsys,
                                                                 monkeypatch, out, needle):
    from rankrl.eval.backends import hf

    (tmp_path / "a-file").write_text("x")
    monkeypatch.setattr(hf, "HFBackend", lambda *a, **k: pytest.fail("the model was loaded"))
    target = out if out.startswith("/") else str(tmp_path / out)
    assert main(["eval", "--model", str(tiny_checkpoints["listwise"]), "--benchmark", "trec-dl-2019", "--data-dir",
                 str(shared_data), "--out", target, *FAST]) == 2
    err = capsys.readouterr().err
    assert f"--out {target} {needle.format(tmp=tmp_path)}" in err and "Traceback" not in err
    assert not Path(target).exists()


def test_abbreviated_flags_are_refused(tiny_checkpoints, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "--model", str(tiny_checkpoints["listwise"]), "--benchmark", "trec-dl-2019",
              "--out", str(tmp_path / "out"), "--win", "5"])
    assert exit_.value.code == 2 and "unrecognized arguments: --win 5" in capsys.readouterr().err


def test_new_weights_at_the_same_path_regenerate_and_say_so(tiny_checkpoints, shared_data, tmp_path, capsys):
    import shutil

    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(tiny_checkpoints["setwise"], model)
    out = tmp_path / "out"
    args = ["eval", "--model", str(model), "--benchmark", "trec-dl-2019", "--data-dir", str(shared_data),
            "--out", str(out), "--max-queries", "1", "--top-k", "4", *FAST]
    assert main(args) == 0
    first = json.loads((out / "metrics.json").read_text())["cost"]
    assert first["generated"] > 0 and first["cached"] == 0
    capsys.readouterr()
    assert main(args) == 0  # same weights: everything from the cache
    assert json.loads((out / "metrics.json").read_text())["cost"]["generated"] == 0
    assert "not reused" not in capsys.readouterr().err
    weights = load_file(str(model / "model.safetensors"))
    save_file({k: v * 0.5 for k, v in weights.items()}, str(model / "model.safetensors"), metadata={"format": "pt"})
    assert main(args) == 0
    err = capsys.readouterr().err
    again = json.loads((out / "metrics.json").read_text())["cost"]
    assert again["cached"] == 0 and again["generated"] == first["generated"]
    assert f"{first['generated']} cached completions" in err and f"the weights at {model.resolve()} changed" in err
    assert "resuming with" not in err
    stale = (out / "completions.cache.jsonl.stale").read_text().splitlines()
    assert len(stale) == first["generated"]


def test_vllm_backend_without_vllm_exits_2(tiny_checkpoints, shared_data, tmp_path, capsys):
    from rankrl.eval.backends.vllm import vllm_available

    if vllm_available():
        pytest.skip("vllm is installed")
    out = tmp_path / "out"
    assert main(["eval", "--model", str(tiny_checkpoints["listwise"]), "--benchmark", "trec-dl-2019",
                 "--data-dir", str(shared_data), "--out", str(out), "--backend", "vllm", *FAST]) == 2
    assert "pip install -e '.[vllm]'" in capsys.readouterr().err and not out.exists()


def _fake_bright(root: Path) -> Path:
    """All 12 BRIGHT domains in the local layout (examples/, runs/) with two queries each, plus corpora."""
    (root / "examples").mkdir(parents=True)
    (root / "runs").mkdir()
    (root / "corpus").mkdir()
    for n, domain in enumerate(DOMAINS):
        fdomain = domain.replace("_", "-")
        examples, run, corpus = [], [], []
        for q in range(2):
            docs = [f"{domain}/doc{q}_{i}.txt" for i in range(4)]
            excluded = [docs[0]] if q == 0 else ["N/A"]  # BRIGHT's excluded_ids: removed before scoring
            examples.append({"query": f"{domain} question {q} <b>bold</b>", "reasoning": "N/A", "id": str(q),
                             "excluded_ids": excluded, "gold_ids": [docs[(n + q) % 3 + 1]],
                             "gold_ids_long": [], "gold_answer": "N/A"})
            run += [f"{q} Q0 {d} {i + 1} {10 - i} bm25" for i, d in enumerate(docs)]
            corpus += [{"docid": d, "text": f"text of {d} about {domain}"} for d in docs]
        with gzip.open(root / "examples" / f"topics.bright-{fdomain}-original.jsonl.gz", "wt") as handle:
            handle.write("\n".join(json.dumps(e) for e in examples) + "\n")
        (root / "runs" / f"{domain}.bm25.txt").write_text("\n".join(run) + "\n")
        (root / "corpus" / f"{domain}.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    return root


def test_bright_runs_all_domains_with_the_average_and_a_chart(tiny_checkpoints, tmp_path):
    data = _fake_bright(tmp_path / "bright")
    out = tmp_path / "out"
    assert main(["eval", "--model", str(tiny_checkpoints["listwise"]), "--benchmark", "bright", "--data-dir",
                 str(data), "--corpus", str(data / "corpus" / "{domain}.jsonl"), "--out", str(out),
                 "--top-k", "4", "--window", "4", "--stride", "2", *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["domains"]) == 12
    domain_means = [d["nDCG@10"] for d in metrics["domains"].values()]
    assert metrics["nDCG@10"] == pytest.approx(sum(domain_means) / 12, abs=1e-12)
    for domain in DOMAINS:
        folder = out / f"bright-{domain}"
        for name in ("run.trec", "metrics.json", "traces.jsonl", "traces.html", "report.md"):
            assert (folder / name).is_file(), (domain, name)
        excluded = {"0": {f"{domain}/doc0_0.txt"}}
        qrels = tmp_path / f"qrels-{domain}.txt"
        with gzip.open(data / "examples" / f"topics.bright-{domain.replace('_', '-')}-original.jsonl.gz", "rt") as f:
            examples = [json.loads(line) for line in f]
        qrels.write_text("".join(f"{e['id']} 0 {e['gold_ids'][0]} 1\n" for e in examples))
        mean, _ = _pytrec(qrels, folder / "run.trec", {"0", "1"}, excluded=excluded)
        assert abs(metrics["domains"][f"bright/{domain}"]["nDCG@10"] - mean) < 1e-9
        page = (folder / "traces.html").read_text()
        assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    index = (out / "traces.html").read_text()
    assert all(f'href="bright-{d}/traces.html"' in index for d in DOMAINS)
    png = out / "ndcg10_by_benchmark.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "**average**" in report and "ndcg10_by_benchmark.png" in report
    assert all(f"bright/{d}" in report for d in DOMAINS)


@pytest.mark.slow
def test_kill_9_mid_evaluation_then_resume_gives_the_same_run(tiny_checkpoints, shared_data, tmp_path):
    """A real ``kill -9`` of a running evaluation: the rerun reuses the cache and writes the identical run."""
    common = ["--model", str(tiny_checkpoints["pointwise"]), "--benchmark", "trec-dl-2019", "--data-dir",
              str(shared_data), "--max-queries", "2", "--top-k", "30", "--no-progress", "--max-new-tokens", "24",
              "--max-passage-chars", "60", "--batch-size", "1"]
    reference = tmp_path / "reference"
    assert main(["eval", *common, "--out", str(reference)]) == 0
    ref_metrics = json.loads((reference / "metrics.json").read_text())
    unique = ref_metrics["cost"]["generated"]  # distinct prompts (identical passages give identical prompts)

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rankrl.core.cli", "eval", *common, "--out", str(out)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = out / "completions.cache.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if cache.is_file() and cache.read_text().count("\n") >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the evaluation finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with open(cache, "a") as handle:  # what a kill in the middle of a write leaves behind
        handle.write('{"key": "abc", "generation": {"te')
    done = cache.read_text().count("\n")
    assert 5 <= done < unique and not (out / "run.trec").exists()

    assert main(["eval", *common, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cost"]["generated"] == unique - done  # only what the killed run had not generated
    keys = [json.loads(line)["key"] for line in cache.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == unique  # no completion generated twice; the partial line is gone
    assert (out / "run.trec").read_text() == (reference / "run.trec").read_text()
    assert metrics["nDCG@10"] == ref_metrics["nDCG@10"]


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_backend_end_to_end(tiny_checkpoints, shared_data, tmp_path):
    pytest.importorskip("vllm", reason="vllm is not installed (optional extra; 'make test-vllm' runs this tier)")
    out = tmp_path / "out"
    args = ["eval", "--model", str(tiny_checkpoints["listwise"]), "--benchmark", "trec-dl-2019", "--data-dir",
            str(shared_data), "--out", str(out), "--max-queries", "2", "--top-k", "6", "--window", "4",
            "--stride", "2", "--backend", "vllm", "--gpu-memory-utilization", "0.2", "--max-model-len", "4096",
            "--enforce-eager", "--no-progress", "--max-new-tokens", "8", "--max-passage-chars", "60"]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["backend"] == "vllm" and metrics["cost"]["prompts"] == 2 * 2
    assert metrics["cost"]["backend_calls"] == metrics["cost"]["rounds"] == 2
    mean, _ = _pytrec(shared_data / "trec-dl" / "qrels.dl19-passage.txt", out / "run.trec", set(read_run(
        out / "run.trec")))
    assert abs(metrics["nDCG@10"] - mean) < 1e-9
