"""Published evaluation protocols: Rank1's true/false probability, FIRST and ERank scoring, shuffled setwise
comparisons, BRIGHT's exclusions before reranking, preset defaults under flags, loud parse failures."""

from __future__ import annotations

import gzip
import json
import math
import random
from dataclasses import replace

import pytest

from rankrl.eval.backends.base import Generation, Prompt, Sampling
from rankrl.eval.backends.protocols import clean_for_forcing, cut_at_stop, forced_prompt, judge_token_ids
from rankrl.eval.config import EvalConfig
from rankrl.eval.engine import Response
from rankrl.eval.fusion import Merged, fuse
from rankrl.eval.protocol import given_fields, rerank_candidates, with_template_defaults
from rankrl.eval.strategies import SetwiseHeapsort
from rankrl.eval.strategies.listwise import first_token_order
from rankrl.eval.strategies.pointwise import expected_score, score_probability
from rankrl.eval.strategies.setwise import vote
from rankrl.prompts import get_paradigm
from rankrl.prompts.base import Parsed
from rankrl.prompts.template import read_template

JUDGE = ("</think>", " true", " false")


# --- Rank1 -------------------------------------------------------------------------------------------------

def test_rank1_cleaning_and_forced_prompt_follow_the_published_rules():
    # orionw/rank1 rank1.py _fix_incomplete_responses
    assert clean_for_forcing("It fits. But then the") == "It fits."
    assert clean_for_forcing("Done!  ") == "Done!"
    assert clean_for_forcing("no punctuation at all ") == "no punctuation at all"
    assert forced_prompt("P<think>", "A. b", "</think>") == "P<think>\nA.\n</think>"
    assert cut_at_stop("x</think> false y</think> true", ["</think> true", "</think> false"]) == \
        ("x", "</think> false")
    assert cut_at_stop("none", ["</think> true"]) == ("none", None)


def test_judge_tokens_must_differ():
    class Same:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [7, len(text)]}

    with pytest.raises(Exception, match="same token"):
        judge_token_ids(Same(), JUDGE)


def test_rank1_probability_on_the_tiny_model_equals_a_hand_computation(tiny_model):
    """The backend's score (forced </think>, as the tiny model never writes it) equals p(true)/(p(true)+p(false))
    computed here from the model's logits on the forced prompt."""
    import torch

    from rankrl.eval.backends.hf import HFBackend

    paradigm = get_paradigm("pointwise", template="rank1")
    backend = HFBackend(tiny_model, batch_size=4, device="cpu")
    texts = ["Glaciers lose mass every summer.", "A recipe for bread."]
    prompts = [Prompt.build(f"p{i}", "q", paradigm.messages("why do glaciers melt?", [t]), [f"d{i}"])
               for i, t in enumerate(texts)]
    sampling = Sampling(max_new_tokens=6, logprobs=20, judge=JUDGE)
    generations = backend.generate(prompts, sampling)
    tok = backend.tokenizer
    true_id = tok(" true", add_special_tokens=False)["input_ids"][0]
    false_id = tok(" false", add_special_tokens=False)["input_ids"][0]
    for prompt, gen in zip(prompts, generations):
        assert gen.meta["judge"] == "forced"
        body = gen.text.rsplit("\n</think>", 1)[0]
        forced = backend.render(prompt) + "\n" + clean_for_forcing(body) + "\n</think>"
        ids = tok(forced, return_tensors="pt", add_special_tokens=True)
        with torch.inference_mode():
            logits = backend.model(**ids).logits[0, -1].float()
        p = torch.softmax(logits, dim=-1)
        expected = float(p[true_id] / (p[true_id] + p[false_id]))
        score = expected_score(gen.answer_logprobs, 0.0, 1.0)
        assert score == pytest.approx(expected, abs=1e-5)
        assert 0.0 < score < 1.0
        parsed = paradigm.parse(gen.text, 1)
        assert parsed.ok and parsed.value == (1.0 if expected >= 0.5 else 0.0)


def _eval_config(tmp_path, **kw):
    base = {"model": "scripted", "benchmark": "trec-dl-2019", "data_dir": str(_shared()), "out": None,
            "max_queries": 2, "top_k": 5, "no_progress": True}
    base.update(kw)
    return EvalConfig(**base)


def _shared():
    from pathlib import Path

    path = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip(f"real benchmark slices not found at {path}")
    return path


@pytest.mark.slow
def test_eval_template_rank1_gives_every_passage_a_probability(tiny_model, tmp_path, capsys):
    """`rankrl eval --template rank1` on the tiny model: the preset picks Rank1's protocol with no other flag;
    every passage gets a probability in (0, 1) and no answer falls back."""
    from rankrl.core.cli import main
    from rankrl.eval.api import evaluate

    out = tmp_path / "out"
    code = main(["eval", "--model", str(tiny_model), "--template", "rank1", "--benchmark", "trec-dl-2019",
                 "--data-dir", str(_shared()), "--max-queries", "2", "--top-k", "3", "--max-new-tokens", "6",
                 "--device", "cpu", "--batch-size", "8", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "0.0% of answers (0/6) failed to parse" in err
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["scoring"] == "true-false" and settings["sampling"]["judge"] == list(JUDGE)
    assert settings["template_source"].startswith("orionw/rank1@30585c2")
    result = evaluate(_eval_config(tmp_path, model=str(tiny_model), template="rank1", top_k=3,
                                   max_new_tokens=6, device="cpu"))
    bench = result.benchmarks[0]
    assert bench.stats.parse_failures == 0 and bench.stats.prompts == 6
    for merged in bench.merged.values():
        assert len(merged.scores) == 3
        assert all(0.0 < s < 1.0 for s in merged.scores.values()), merged.scores


# --- FIRST and ERank ----------------------------------------------------------------------------------------

def test_first_token_order_reads_the_first_identifier_position():
    positions = [("[", {"[": -0.1}), ("2", {"2": -0.5, "3": -0.9, "1": -2.0, " 2": -0.7, "x": -0.1}),
                 ("]", {"]": 0.0})]
    assert first_token_order(positions, 4) == [1, 2, 0, 3]  # 2, 3, 1 by logit, then the missing 4
    assert first_token_order([("[", {})], 3) is None
    assert first_token_order(None, 3) is None


def test_erank_score_is_s_times_p_s():
    lp = [(" ", {" ": -0.01}), ("7", {"7": math.log(0.6), "8": math.log(0.3), "x": math.log(0.1)})]
    assert score_probability(lp, 7.0) == pytest.approx(7 * 0.6)
    ten = [("1", {"1": math.log(0.5), "9": math.log(0.4)}), ("0", {"0": math.log(0.8), "1": math.log(0.1)})]
    assert score_probability(ten, 10.0) == pytest.approx(10 * 0.5 * 0.8)
    assert score_probability(lp, 5.0) is None
    # wherever the score appears in the answer: "<answer>Score: 7</answer>"
    later = [("Score", {"Score": -0.1}), (":", {":": 0.0}), (" 7", {" 7": math.log(0.5), " 6": math.log(0.5)})]
    assert score_probability(later, 7.0) == pytest.approx(3.5)
    assert expected_score(later, 0.0, 10.0) == pytest.approx(6.5)


def test_fusion_raw_interpolates_without_normalising():
    merged = Merged(order=["a", "b"], scores={"a": 10.0, "b": 5.0})
    fused = fuse(merged, {"a": 0.1, "b": 3.0}, ["a", "b"], "raw", 3 / 23)
    # GroupRank: 0.6 * s/10 + 0.4 * r has the same order as (3/23) * s + (20/23) * r
    assert fused.order == ["b", "a"]
    assert fused.scores["a"] == pytest.approx((0.6 * 1.0 + 0.4 * 0.1) / 0.46)


# --- setwise shuffles ---------------------------------------------------------------------------------------

def _drive(strategy, docids, judge, qid="q1"):
    """Run a setwise strategy with a judge (shown docids -> 0-based pick or None); returns (ranking, prompts)."""
    from rankrl.eval.strategies.base import PromptMaker

    maker = PromptMaker(qid, "query", {d: d for d in docids}, lambda q, texts: [{"role": "user", "content": "x"}],
                        prior={d: i for i, d in enumerate(docids)})
    machine = strategy.run(maker, list(docids))
    shown = []
    try:
        prompts = next(machine)
        while True:
            shown.append([list(p.docids) for p in prompts])
            responses = []
            for p in prompts:
                pick = judge(list(p.docids))
                parsed = Parsed(ok=pick is not None, value=pick)
                responses.append(Response(p, Generation("", 0, 0), parsed))
            prompts = machine.send(responses)
    except StopIteration as stop:
        return stop.value, shown


def _best(docids):
    return max(range(len(docids)), key=lambda i: int(docids[i][1:]))  # docid "d17" -> 17


def test_setwise_shuffles_are_reproducible_by_seed_and_keep_the_sort():
    docids = [f"d{i}" for i in range(30)]
    random.Random(3).shuffle(docids)
    plain, plain_calls = _drive(SetwiseHeapsort(num_child=3, k=5), docids, _best)
    a, calls_a = _drive(SetwiseHeapsort(num_child=3, k=5, shuffle=True, seed=1), docids, _best)
    b, calls_b = _drive(SetwiseHeapsort(num_child=3, k=5, shuffle=True, seed=1), docids, _best)
    c, calls_c = _drive(SetwiseHeapsort(num_child=3, k=5, shuffle=True, seed=2), docids, _best)
    assert calls_a == calls_b and calls_a != calls_c and calls_a != plain_calls
    # a judge that always finds the best one sorts the same whatever the shown order
    assert a.order[:5] == b.order[:5] == c.order[:5] == plain.order[:5] == [f"d{i}" for i in range(29, 24, -1)]
    # the same comparisons, only shown in another order
    assert [sorted(g) for r in calls_a for g in r] == [sorted(g) for r in plain_calls for g in r]


def test_setwise_permutations_vote_in_one_round():
    docids = [f"d{i}" for i in range(10)]
    strategy = SetwiseHeapsort(num_child=9, k=1, shuffle=True, permutations=5, seed=0)
    ranking, calls = _drive(strategy, docids, _best)
    assert len(calls[0]) == 5 and len({tuple(g) for g in calls[0]}) > 1  # 5 shuffled prompts, one round
    assert ranking.order[0] == "d9"
    with pytest.raises(Exception, match="shuffle_comparisons"):
        SetwiseHeapsort(permutations=3)


def test_vote_breaks_ties_like_llm_rankers():
    assert vote([2, 1, 2, None], random.Random(0)) == 2
    assert vote([None, None], random.Random(0)) is None
    rng, ref = random.Random(5), random.Random(5)
    assert vote([3, 1, 1, 3], rng) == ref.choice([3, 1])  # tied, in the order of their first vote


# --- preset defaults under flags ----------------------------------------------------------------------------

def test_preset_defaults_fill_what_the_flags_leave():
    from rankrl.eval.cli import build_parser

    argv = ["--model", "m", "--benchmark", "b", "--out", "o", "--template", "rank1", "--max-new-tokens", "1024"]
    given = given_fields(build_parser(), argv)
    assert set(given) == {"model", "benchmark", "out", "template", "max_new_tokens"}
    config = EvalConfig(model="m", benchmark="b", template="rank1", max_new_tokens=1024, explicit=given)
    filled, applied = with_template_defaults(config, read_template("rank1"))
    assert filled.max_new_tokens == 1024  # the flag, even though it equals rankrl's default
    assert filled.strategy == "pointwise" and "max_new_tokens" not in applied
    library = EvalConfig(model="m", benchmark="b", template="grouprank")
    filled, applied = with_template_defaults(library, read_template("grouprank"))
    assert (filled.group_size, filled.repeats, filled.temperature, filled.top_p) == (10, 2, 0.3, 0.8)
    assert filled.fusion == "raw" and filled.max_passage_chars == 3000 and filled.max_new_tokens == 8000
    mine = replace(library, group_size=4)
    assert with_template_defaults(mine, read_template("grouprank"))[0].group_size == 4


# --- BRIGHT: excluded ids leave before reranking -----------------------------------------------------------

def _leetcode_fixture(tmp_path, shared):
    """Two leetcode queries, a local first-stage run that interleaves excluded ids with other documents, and a
    corpus generated for every docid of the run."""
    path = shared / "bright" / "examples" / "topics.bright-leetcode-original.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        examples = [json.loads(line) for _, line in zip(range(2), handle)]
    run_lines, corpus = [], {}
    for ex in examples:
        excluded = [d for d in ex["excluded_ids"] if d != "N/A"][:6]
        gold = list(ex["gold_ids"])[:2]
        others = [f"other-{ex['id']}-{i}" for i in range(14)]
        ranking = []
        for i in range(6):  # excluded ids take top positions
            ranking += [excluded[i], others[i]]
        ranking += gold + others[6:]
        for rank, docid in enumerate(ranking, start=1):
            run_lines.append(f"{ex['id']} Q0 {docid} {rank} {100 - rank} test")
            corpus[docid] = {"docid": docid, "text": f"text of {docid}"}
    (tmp_path / "run.txt").write_text("\n".join(run_lines) + "\n", encoding="utf-8")
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus.values()),
                                           encoding="utf-8")
    return examples


@pytest.mark.parametrize("template", ["rank-r1", "reasonrank"])
def test_bright_excluded_ids_never_reach_a_prompt(tmp_path, template):
    from rankrl.eval.api import evaluate
    from rankrl.eval.backends.oracle import OracleBackend

    shared = _shared()
    examples = _leetcode_fixture(tmp_path, shared)
    paradigm = read_template(template).paradigm
    config = EvalConfig(model="oracle", benchmark="bright/leetcode", data_dir=str(shared),
                        first_stage_run=str(tmp_path / "run.txt"), corpus=str(tmp_path / "corpus.jsonl"),
                        template=template, top_k=10, depth=10, max_queries=2, num_child=3, k=3, window=4,
                        stride=2, no_progress=True, out=None)
    from rankrl.data.benchmarks import BenchmarkOptions, load_benchmark

    bench = load_benchmark("bright/leetcode", str(shared), BenchmarkOptions(
        run=str(tmp_path / "run.txt"), corpus=str(tmp_path / "corpus.jsonl"), depth=100))
    oracle = OracleBackend(bench.qrels, get_paradigm(paradigm, template=template))
    result = evaluate(config, backend=oracle)
    qids = {ex["id"] for ex in examples}
    traces = result.benchmarks[0].traces
    assert traces and {t["qid"] for t in traces} == qids
    for t in traces:
        assert not set(t["docids"]) & bench.excluded[t["qid"]], t["docids"]
    for qid in qids:
        expected = rerank_candidates(bench, qid, 10)
        assert len(expected) == 10 and not set(expected) & bench.excluded[qid]
        shown = {d for t in traces if t["qid"] == qid for d in t["docids"]}
        assert shown == set(expected)  # read past depth 10: the 6 excluded ids were replaced by real candidates
        ranked = [d for d, _ in result.benchmarks[0].run[qid]]
        assert set(ranked[:10]) == set(expected) and not set(ranked) & bench.excluded[qid]


# --- parse failures are loud -------------------------------------------------------------------------------

def test_unparsed_answers_warn_and_fail_the_command(tiny_model, tmp_path, capsys):
    from rankrl.core.cli import main

    args = ["eval", "--model", str(tiny_model), "--paradigm", "setwise", "--benchmark", "trec-dl-2019",
            "--data-dir", str(_shared()), "--max-queries", "1", "--top-k", "4", "--num-child", "3", "--k", "1",
            "--max-new-tokens", "3", "--device", "cpu", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "warning: trec-dl-2019:" in err and "failed to parse, more than 10%" in err
    assert "First error (19335#0/0): no <answer>…</answer> block" in err
    assert "100.0% of answers" in err and "fell back to the first-stage order" in err
    assert main([*args, "--out", str(tmp_path / "b"), "--max-unparsed", "0.5"]) == 3
    err = capsys.readouterr().err
    assert "more than --max-unparsed 0.5" in err
    assert (tmp_path / "b" / "run.trec").is_file()  # outputs are written before the non-zero exit
    assert main([*args, "--out", str(tmp_path / "c"), "--warn-unparsed", "1"]) == 0
    assert "warning:" not in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "d"), "--max-unparsed", "2"]) == 2
    assert "--max-unparsed must be a fraction in [0, 1]" in capsys.readouterr().err


# --- the vLLM backend's side of the protocol, with a stand-in engine (vLLM needs a GPU) ----------------------

class _LP:
    def __init__(self, logprob, decoded_token=None):
        self.logprob, self.decoded_token = logprob, decoded_token


class _Completion:
    def __init__(self, text, token_ids, logprobs, finish_reason, stop_reason=None):
        self.text, self.token_ids, self.logprobs = text, token_ids, logprobs
        self.finish_reason, self.stop_reason = finish_reason, stop_reason


class _Out:
    def __init__(self, completion, prompt_token_ids, prompt_logprobs=None):
        self.outputs, self.prompt_token_ids, self.prompt_logprobs = [completion], prompt_token_ids, prompt_logprobs


class _Params:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class _FakeLLM:
    """Answers prompt A as stopped on '</think> true' with both tokens in its last step, prompt B unfinished;
    the forced requests get fixed prompt log-probabilities."""

    def __init__(self, true_id, false_id):
        self.true_id, self.false_id = true_id, false_id
        self.calls = []

    def chat(self, *args, **kwargs):  # pragma: no cover - raw prompts must not go through chat
        raise AssertionError("raw prompts are sent as token ids")

    def generate(self, prompts, params, **call):
        self.calls.append((prompts, params))
        if isinstance(params, list):  # the generation call
            last = {self.true_id: _LP(-0.2), self.false_id: _LP(-1.9)}
            return [_Out(_Completion("It fits.", [5, 6, self.true_id], [{5: _LP(0.0)}, {6: _LP(0.0)}, last],
                                     "stop", "</think> true"), prompts[0]["prompt_token_ids"]),
                    _Out(_Completion("Some reasoning. Then", [7, 8], [{7: _LP(0.0)}, {8: _LP(0.0)}], "length"),
                         prompts[1]["prompt_token_ids"])]
        lp = {self.true_id: -3.0, self.false_id: -0.5}
        return [_Out(_Completion("", [], None, "length"), p["prompt_token_ids"],
                     [None] * (len(p["prompt_token_ids"]) - 1) + [{p["prompt_token_ids"][-1]: _LP(
                         lp[p["prompt_token_ids"][-1]])}]) for p in prompts]


def test_vllm_backend_runs_rank1_protocol(tiny_model):
    from transformers import AutoTokenizer

    from rankrl.eval.backends.vllm import VLLMBackend

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    true_id, false_id = judge_token_ids(tok, JUDGE)
    backend = object.__new__(VLLMBackend)  # the engine itself needs a GPU: stand in for it
    backend.batch_size, backend.chat_template_kwargs, backend.lora_request = 8, {}, None
    backend.model_id, backend.tokenizer, backend._SamplingParams = "fake", tok, _Params
    backend.llm = _FakeLLM(true_id, false_id)
    paradigm = get_paradigm("pointwise", template="rank1")
    prompts = [Prompt.build(f"p{i}", "q", paradigm.messages("q?", [t]), [f"d{i}"]) for i, t in enumerate("ab")]
    gens = backend.generate(prompts, Sampling(max_new_tokens=50, logprobs=20, judge=JUDGE))
    sent, params = backend.llm.calls[0]
    raw = paradigm.messages("q?", ["a"])
    from rankrl.prompts.render import prompt_text

    assert sent[0]["prompt_token_ids"] == tok(prompt_text(raw))["input_ids"]
    assert params[0].kwargs["stop"] == ["</think> true", "</think> false"] and params[0].kwargs["logprobs"] == 20
    assert gens[0].meta["judge"] == "generated" and gens[0].text == "It fits.</think> true"
    assert expected_score(gens[0].answer_logprobs, 0, 1) == pytest.approx(
        math.exp(-0.2) / (math.exp(-0.2) + math.exp(-1.9)))
    forced, forced_params = backend.llm.calls[1]
    base = tok(prompt_text(paradigm.messages("q?", ["b"])) + "\nSome reasoning.\n</think>")["input_ids"]
    assert [f["prompt_token_ids"] for f in forced] == [base + [true_id], base + [false_id]]
    assert forced_params.kwargs["prompt_logprobs"] == 1 and forced_params.kwargs["max_tokens"] == 1
    assert gens[1].meta["judge"] == "forced" and gens[1].text == "Some reasoning. Then\n</think> false"
    assert expected_score(gens[1].answer_logprobs, 0, 1) == pytest.approx(
        math.exp(-3.0) / (math.exp(-3.0) + math.exp(-0.5)))


def test_hf_backend_scores_a_generated_verdict_at_its_last_step():
    """The transformers side of step 2: stopped on '</think> true' with both tokens in the last step's top-k, the
    recorded log-probabilities of that step are the score; missing either, the generation waits to be forced."""
    import torch

    from rankrl.eval.backends.hf import HFBackend, _TopLogprobs

    backend = object.__new__(HFBackend)
    recorder = _TopLogprobs(3, watch=(11, 12))
    scores = torch.full((1, 20), -10.0)
    scores[0, 5] = 0.0
    recorder(None, scores)  # step 0
    scores = torch.full((1, 20), -10.0)
    scores[0, 11], scores[0, 12], scores[0, 3] = 2.0, 1.0, 1.5
    recorder(None, scores)  # step 1: the verdict, both judge tokens in the top 3
    logp = torch.log_softmax(scores.float(), dim=-1)[0]
    sampling = Sampling(logprobs=3, judge=JUDGE)
    gen = backend._judge_in_place(Generation("ok.", 5, 2), recorder, 0, 2, "</think> true", (11, 12), sampling)
    assert gen.meta["judge"] == "generated" and gen.text == "ok.</think> true"
    assert expected_score(gen.answer_logprobs, 0, 1) == pytest.approx(
        float(torch.exp(logp[11]) / (torch.exp(logp[11]) + torch.exp(logp[12]))))
    narrow = Sampling(logprobs=1, judge=JUDGE)  # the false token is not in the top 1: force, as Rank1 does
    assert backend._judge_in_place(Generation("ok.", 5, 2), recorder, 0, 2, "</think> true", (11, 12),
                                   narrow).meta == {"judge": "pending"}
    assert backend._judge_in_place(Generation("ok.", 5, 2), recorder, 0, 2, None, (11, 12),
                                   sampling).meta == {"judge": "pending"}
