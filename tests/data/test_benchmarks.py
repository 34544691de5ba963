"""Benchmarks by name: DL19/DL20 and BRIGHT from the real local files, local:<dir> round trips, network loaders'
behaviour when their packages are absent, and the ir_datasets/Hub adapters' mapping."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data import bright
from rankrl.data.benchmarks import (
    BENCHMARK_NAMES,
    BenchmarkOptions,
    expand_benchmark_names,
    load_benchmark,
    write_local_benchmark,
)
from rankrl.data.records import Benchmark, Passage, Query
from rankrl.data.trec import read_qrels
from rankrl.eval.metrics import evaluate


def test_names() -> None:
    assert len(BENCHMARK_NAMES) == 14 and BENCHMARK_NAMES[:2] == ("trec-dl-2019", "trec-dl-2020")
    assert expand_benchmark_names("bright") == [f"bright/{d}" for d in bright.DOMAINS]
    assert expand_benchmark_names("trec-dl") == ["trec-dl-2019", "trec-dl-2020"]
    assert expand_benchmark_names("bright/earth-science") == ["bright/earth_science"]
    assert expand_benchmark_names("local:/x") == ["local:/x"]
    with pytest.raises(RankrlError, match="unknown benchmark 'msmarco'.*trec-dl-2019"):
        expand_benchmark_names("msmarco")
    with pytest.raises(RankrlError, match="unknown BRIGHT domain"):
        load_benchmark("bright/chemistry", data_dir="/nowhere")


@pytest.mark.parametrize("sub", ["", "trec-dl"])
def test_dl19_loads_43_queries_with_100_candidates_and_texts(shared_data: Path, sub: str) -> None:
    bench = load_benchmark("trec-dl-2019", data_dir=shared_data / sub if sub else shared_data)
    assert bench.name == "trec-dl-2019"
    assert len(bench.queries) == 43 and set(bench.queries) == set(bench.qrels)
    assert all(len(r) == 100 for r in bench.first_stage.values()) and len(bench.first_stage) == 43
    assert bench.missing_passages() == []
    assert all(bench.passages[d].text.strip() for r in bench.first_stage.values() for d, _ in r)
    assert bench.excluded == {}
    assert bench.provenance["passages"] == "complete"
    assert bench.provenance["first_stage"]["path"].endswith("bm25_trec_results_dl19_top100.txt")
    bench.require_passages()
    assert round(evaluate(bench.qrels, bench.first_stage, ["nDCG@10"]).mean["nDCG@10"], 4) == 0.5058


def test_dl19_depth_and_unknown_options(shared_data: Path) -> None:
    bench = load_benchmark("trec-dl-2019", data_dir=shared_data, options=BenchmarkOptions(depth=20))
    assert all(len(r) == 20 for r in bench.first_stage.values()) and bench.provenance["depth"] == 20
    with pytest.raises(RankrlError, match="option.s. qrels do not apply to it"):
        load_benchmark("trec-dl-2019", data_dir=shared_data, options=BenchmarkOptions(qrels="fixed"))
    with pytest.raises(RankrlError, match="unknown benchmark option.s. dpeth; valid options: run"):
        BenchmarkOptions.from_mapping({"dpeth": 20})
    with pytest.raises(RankrlError, match="must be BenchmarkOptions"):
        load_benchmark("trec-dl-2019", shared_data, {"depth": 20})  # type: ignore[arg-type]
    with pytest.raises(RankrlError, match="depth must be a positive integer"):
        load_benchmark("trec-dl-2019", data_dir=shared_data, options=BenchmarkOptions(depth=0))


def test_dl20_without_run_says_what_is_missing_and_how_to_get_it(shared_data: Path) -> None:
    with pytest.raises(RankrlError) as info:
        load_benchmark("trec-dl-2020", data_dir=shared_data)
    message = str(info.value)
    for words in ("bm25_trec_results_dl20_top100.txt", "bm25_retrieve_results_dl20_top100.json",
                  "retrieve_results_dl20_top100.jsonl", "rank_llm_data", "run=PATH", "corpus=PATH", "ir_datasets", "pyserini"):
        assert words in message


def test_dl20_with_a_given_run_scores_but_cannot_rerank(shared_data: Path, tmp_path: Path) -> None:
    qrels = read_qrels(shared_data / "trec-dl" / "qrels.dl20-passage.txt")
    run_path = tmp_path / "dl20.trec"
    run_path.write_text("".join(f"{q} Q0 {d} {i + 1} {100 - i} mine\n"
                                for q, judged in qrels.items() for i, d in enumerate(sorted(judged)[:30])))
    bench = load_benchmark("trec-dl-2020", data_dir=shared_data, options=BenchmarkOptions(run=str(run_path)))
    assert len(bench.queries) == 54  # topics.dl20.txt has 200 queries; only the judged ones are kept
    assert bench.passages == {} and bench.provenance["passages"].startswith("missing")
    assert bench.provenance["first_stage"] == {"kind": "run", "path": str(run_path)}
    with pytest.raises(RankrlError, match="can be scored but not reranked"):
        bench.require_passages()


def test_dl20_from_rank_llm_jsonl_candidates(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trec-dl"
    folder.mkdir()
    for name in ("qrels.dl20-passage.txt", "topics.dl20.txt"):
        (folder / name).write_bytes((shared_data / "trec-dl" / name).read_bytes())
    qrels = read_qrels(folder / "qrels.dl20-passage.txt")
    with (folder / "retrieve_results_dl20_top100.jsonl").open("w") as handle:
        for qid, judged in qrels.items():
            cands = [{"docid": d, "score": 10.0 - i, "doc": {"contents": f"text of {d}"}}
                     for i, d in enumerate(sorted(judged)[:5])]
            handle.write(json.dumps({"query": {"text": f"query {qid}", "qid": int(qid)}, "candidates": cands}) + "\n")
    bench = load_benchmark("trec-dl-2020", data_dir=tmp_path)
    assert len(bench.queries) == 54 and bench.missing_passages() == []
    assert bench.provenance["first_stage"]["path"].endswith("retrieve_results_dl20_top100.jsonl")
    assert bench.queries["23849"].text != "query 23849"  # query texts come from the topics file


def test_dl20_with_a_corpus_computes_bm25(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("bm25s")
    qrels = read_qrels(shared_data / "trec-dl" / "qrels.dl20-passage.txt")
    topics = {line.split("\t")[0]: line.split("\t")[1] for line in
              (shared_data / "trec-dl" / "topics.dl20.txt").read_text().splitlines()}
    corpus = tmp_path / "corpus.jsonl"
    docs = sorted({d for judged in qrels.values() for d in judged})[:300]
    corpus.write_text("".join(json.dumps({"docid": d, "text": f"passage {d} about {topics[q]}"}) + "\n"
                              for q, d in zip(list(qrels)[:5], docs[:5])) +
                      "".join(json.dumps({"docid": d, "text": f"filler text number {d}"}) + "\n" for d in docs[5:]))
    bench = load_benchmark("trec-dl-2020", data_dir=shared_data, options=BenchmarkOptions(corpus=str(corpus), depth=10))
    assert bench.provenance["first_stage"]["kind"] == "bm25"
    assert all(len(r) <= 10 for r in bench.first_stage.values())
    assert bench.missing_passages() == []


def test_bright_local_loads_queries_qrels_run_and_records_the_protocol(shared_data: Path) -> None:
    bench = load_benchmark("bright/pony", data_dir=shared_data)
    assert len(bench.queries) == 112 and len(bench.first_stage) == 112
    assert bench.qrels == read_qrels(shared_data / "bright" / "qrels" / "qrels.bright-pony.txt")
    assert bench.passages == {} and "Hugging Face" in bench.provenance["passages"]
    assert bench.provenance["qrels_variant"] == "original"
    assert bench.provenance["first_stage"]["path"].endswith("pony.reasonir_gpt4cot_top100.txt")
    assert "excluded_ids" in bench.provenance["protocol"]
    with pytest.raises(RankrlError, match="not reranked"):
        bench.require_passages()
    score = evaluate(bench.qrels, bench.first_stage, ["nDCG@10"], excluded=bench.excluded).mean["nDCG@10"]
    assert round(100 * score, 2) == 19.55

    fixed = load_benchmark("bright/pony", data_dir=shared_data / "bright", options=BenchmarkOptions(qrels="fixed"))
    assert fixed.qrels == read_qrels(shared_data / "bright" / "qrels" / "qrels.bright-pony.fixed.txt")
    assert fixed.provenance["qrels_variant"] == "fixed" and fixed.provenance["qrels"].endswith(".fixed.txt")


def test_bright_local_without_run_and_with_excluded_ids(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(RankrlError, match="no first-stage run for leetcode.*run=PATH"):
        load_benchmark("bright/leetcode", data_dir=shared_data)
    examples = bright.read_examples(shared_data / "bright" / "examples" / "topics.bright-leetcode-original.jsonl.gz")
    run_path = tmp_path / "leetcode.trec"
    run_path.write_text("".join(f"{ex.qid} Q0 {d} {i + 1} {50 - i} x\n" for ex in examples
                                for i, d in enumerate(sorted(ex.excluded)[:20] + list(ex.gold_ids))))
    bench = load_benchmark("bright/leetcode", data_dir=shared_data, options=BenchmarkOptions(run=str(run_path)))
    assert len(bench.excluded) == 142 and all(bench.excluded.values())
    result = evaluate(bench.qrels, bench.first_stage, ["R@100"], excluded=bench.excluded)
    assert result.mean["R@100"] == 1.0
    with pytest.raises(RankrlError, match="needs document texts"):
        load_benchmark("bright/leetcode", data_dir=shared_data, options=BenchmarkOptions(first_stage="bm25"))


def _small_benchmark() -> Benchmark:
    queries = {"1": Query("1", "first query"), "2": Query("2", "second query")}
    passages = {f"d{i}": Passage(f"d{i}", f"text {i}", "T" if i % 2 else "") for i in range(6)}
    qrels = {"1": {"d0": 2, "d1": 0}, "2": {"d3": 1}}
    run = {"1": [("d0", 3.0), ("d1", 3.0), ("d2", 1.0)], "2": [("d3", 0.5), ("d4", 0.25)]}
    return Benchmark("small", queries, passages, qrels, run, {"2": {"d4"}}, {"note": "test"})


def test_local_benchmark_round_trip(tmp_path: Path) -> None:
    bench = _small_benchmark()
    folder = write_local_benchmark(bench, tmp_path / "bench")
    assert sorted(p.name for p in folder.iterdir()) == ["benchmark.json", "corpus.jsonl", "excluded.jsonl",
                                                        "qrels.txt", "queries.jsonl", "run.trec"]
    back = load_benchmark(f"local:{folder}")
    assert back.name == f"local:{folder}"
    assert back.queries == bench.queries and back.qrels == bench.qrels and back.excluded == bench.excluded
    assert {d: back.passages[d] for d in ("d0", "d1", "d2", "d3", "d4")} == \
        {d: bench.passages[d] for d in ("d0", "d1", "d2", "d3", "d4")}
    # Tied scores in query 1 were rewritten n..1 in list order; query 2 kept its own scores.
    assert back.first_stage == {"1": [("d0", 3.0), ("d1", 2.0), ("d2", 1.0)], "2": [("d3", 0.5), ("d4", 0.25)]}
    assert back.provenance["origin"] == {"name": "small", "provenance": {"note": "test"}}


def test_local_benchmark_real_dl19_round_trip(shared_data: Path, tmp_path: Path) -> None:
    bench = load_benchmark("trec-dl-2019", data_dir=shared_data, options=BenchmarkOptions(depth=30))
    back = load_benchmark(f"local:{write_local_benchmark(bench, tmp_path / 'dl19')}")
    assert back.queries == bench.queries and back.qrels == bench.qrels
    assert {q: [d for d, _ in r] for q, r in back.first_stage.items()} == \
        {q: [d for d, _ in r] for q, r in bench.first_stage.items()}
    assert evaluate(back.qrels, back.first_stage).mean == pytest.approx(
        evaluate(bench.qrels, bench.first_stage).mean, abs=1e-12)


def test_local_benchmark_validation(tmp_path: Path) -> None:
    folder = write_local_benchmark(_small_benchmark(), tmp_path / "b")
    (folder / "run.trec").write_text("1 Q0 d0 1 2.0 x\n1 Q0 nowhere 2 1.0 x\n")
    with pytest.raises(RankrlError, match="1 run documents are not in .*corpus.jsonl.*nowhere"):
        load_benchmark(f"local:{folder}")
    (folder / "run.trec").write_text("1 Q0 d0 1 2.0 x\n1 Q0 d1 2 1.0\n")
    with pytest.raises(DataFormatError, match=r"run.trec:2: expected 6 columns"):
        load_benchmark(f"local:{folder}")
    (folder / "run.trec").write_text("1 Q0 d0 1 2.0 x\n")
    (folder / "excluded.jsonl").write_text('{"qid": "1", "docids": "d0"}\n')
    with pytest.raises(DataFormatError, match=r"excluded.jsonl:1: field 'docids' must be a list"):
        load_benchmark(f"local:{folder}")
    (folder / "corpus.jsonl").unlink()
    with pytest.raises(RankrlError, match="missing corpus.jsonl"):
        load_benchmark(f"local:{folder}")
    with pytest.raises(RankrlError, match="folder not found"):
        load_benchmark(f"local:{tmp_path / 'absent'}")


def test_local_benchmark_without_run_uses_bm25(tmp_path: Path) -> None:
    pytest.importorskip("bm25s")
    folder = write_local_benchmark(_small_benchmark(), tmp_path / "b")
    (folder / "run.trec").unlink()
    bench = load_benchmark(f"local:{folder}", options=BenchmarkOptions(depth=2))
    assert bench.provenance["first_stage"]["kind"] == "bm25"
    assert all(len(r) <= 2 for r in bench.first_stage.values())


def test_write_local_refuses_benchmarks_without_texts(shared_data: Path, tmp_path: Path) -> None:
    bench = load_benchmark("bright/pony", data_dir=shared_data)
    with pytest.raises(RankrlError, match="have no text"):
        write_local_benchmark(bench, tmp_path / "pony")
    assert not (tmp_path / "pony").exists()


@pytest.mark.parametrize(("name", "options", "words"), [
    ("trec-dl-2019", {"source": "ir_datasets"}, "pip install -e '.[ir]'"),
    ("trec-dl-2020", {}, "pip install -e '.[ir]'"),  # no data_dir: ir_datasets is the default
    ("trec-dl-2019", {"source": "pyserini"}, "pip install pyserini"),
])
def test_network_loaders_fail_clearly_when_not_installed(monkeypatch, name, options, words) -> None:
    for module in ("ir_datasets", "pyserini", "pyserini.search", "pyserini.search.lucene"):
        monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(RankrlError, match="not installed") as info:
        load_benchmark(name, options=BenchmarkOptions(**options))
    assert words in str(info.value)


def test_bright_from_the_hub_needs_an_explicit_first_stage() -> None:
    with pytest.raises(RankrlError, match="explicit first stage.*bm25-reasoning"):
        load_benchmark("bright/biology")
    with pytest.raises(RankrlError, match="Hub has BRIGHT's original qrels only"):
        load_benchmark("bright/biology", options=BenchmarkOptions(first_stage="bm25", qrels="fixed"))


def _fake_ir_datasets() -> types.ModuleType:
    nt = types.SimpleNamespace
    dataset = types.SimpleNamespace(
        queries_iter=lambda: iter([nt(query_id="1", text="one"), nt(query_id="2", text="two"),
                                   nt(query_id="3", text="unjudged")]),
        qrels_iter=lambda: iter([nt(query_id="1", doc_id="a", relevance=2), nt(query_id="2", doc_id="c", relevance=0)]),
        scoreddocs_iter=lambda: iter([nt(query_id="1", doc_id="b", score=1.0), nt(query_id="1", doc_id="a", score=5.0),
                                      nt(query_id="1", doc_id="c", score=0.5), nt(query_id="2", doc_id="c", score=2.0),
                                      nt(query_id="3", doc_id="a", score=2.0)]),
        docs_store=lambda: types.SimpleNamespace(
            get_many=lambda ids: {d: nt(doc_id=d, text=f"text {d}") for d in ids}),
    )
    module = types.ModuleType("ir_datasets")
    module.loaded = []
    module.load = lambda ds_id: module.loaded.append(ds_id) or dataset
    return module


def test_ir_datasets_adapter_maps_queries_qrels_scoreddocs_and_texts(monkeypatch) -> None:
    fake = _fake_ir_datasets()
    monkeypatch.setitem(sys.modules, "ir_datasets", fake)
    bench = load_benchmark("trec-dl-2019", options=BenchmarkOptions(source="ir_datasets", depth=2))
    assert fake.loaded == ["msmarco-passage/trec-dl-2019/judged"]
    assert set(bench.queries) == {"1", "2"}  # judged only
    assert bench.first_stage == {"1": [("a", 5.0), ("b", 1.0)], "2": [("c", 2.0)]}
    assert bench.passages["b"].text == "text b" and bench.missing_passages() == []
    assert bench.provenance["source"] == "ir_datasets" and "scoreddocs" in bench.provenance["first_stage"]["path"]


def test_ir_datasets_errors_become_rankrl_errors(monkeypatch) -> None:
    module = types.ModuleType("ir_datasets")

    def load(ds_id):
        raise ConnectionError("network unreachable")

    module.load = load
    monkeypatch.setitem(sys.modules, "ir_datasets", module)
    with pytest.raises(RankrlError, match="could not load msmarco-passage/trec-dl-2020/judged.*network unreachable"):
        load_benchmark("trec-dl-2020", options=BenchmarkOptions(source="ir_datasets"))


def test_bright_hub_adapter_records_the_first_stage(monkeypatch, tmp_path: Path) -> None:
    import datasets

    calls = []
    tables = {
        "examples": [{"id": "0", "query": "q zero", "reasoning": "N/A", "excluded_ids": ["x"], "gold_ids": ["a"]},
                     {"id": "1", "query": "q one", "reasoning": "N/A", "excluded_ids": ["N/A"], "gold_ids": ["b"]}],
        "documents": [{"id": d, "content": f"content {d}"} for d in ("a", "b", "x")],
    }

    def load_dataset(repo, config, split, revision, cache_dir):
        calls.append((config, split, revision))
        return tables[config]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    run_path = tmp_path / "run.trec"
    run_path.write_text("0 Q0 x 1 3.0 r\n0 Q0 a 2 2.0 r\n1 Q0 b 1 1.0 r\n")
    bench = load_benchmark("bright/biology", options=BenchmarkOptions(first_stage="run", run=str(run_path), revision="abc123"))
    assert calls == [("examples", "biology", "abc123"), ("documents", "biology", "abc123")]
    assert bench.excluded == {"0": {"x"}} and bench.qrels == {"0": {"a": 1}, "1": {"b": 1}}
    assert bench.provenance["revision"] == "abc123"
    assert bench.provenance["first_stage"] == {"kind": "run", "path": str(run_path)}
    assert bench.missing_passages() == []
    assert evaluate(bench.qrels, bench.first_stage, ["nDCG@10"], excluded=bench.excluded).mean["nDCG@10"] == 1.0


def test_bright_hub_bm25_on_the_reasoning_query(monkeypatch) -> None:
    import datasets

    tables = {
        "examples": [{"id": "0", "query": "zebra question", "excluded_ids": ["N/A"], "gold_ids": ["b"]},
                     {"id": "1", "query": "apple question", "excluded_ids": ["N/A"], "gold_ids": ["a"]}],
        "gpt4_reason": [{"id": "0", "query": "reasoning about mango", "excluded_ids": ["N/A"], "gold_ids": ["b"]},
                        {"id": "1", "query": "reasoning about apple", "excluded_ids": ["N/A"], "gold_ids": ["a"]}],
        "documents": [{"id": "a", "content": "apple pie recipe"}, {"id": "b", "content": "mango smoothie"},
                      {"id": "c", "content": "zebra stripes"}],
    }
    monkeypatch.setattr(datasets, "load_dataset", lambda repo, config, split, revision, cache_dir: tables[config])
    plain = load_benchmark("bright/pony", options=BenchmarkOptions(first_stage="bm25", depth=1))
    reasoned = load_benchmark("bright/pony", options=BenchmarkOptions(first_stage="bm25-reasoning", depth=1))
    assert plain.first_stage["0"][0][0] == "c" and reasoned.first_stage["0"][0][0] == "b"
    assert reasoned.queries["0"].text == "zebra question"  # the reranker still sees the original query
    assert plain.provenance["first_stage"]["kind"] == "bm25" and plain.provenance["first_stage"]["query"] == "original query"
    assert reasoned.provenance["first_stage"]["query"] == "gpt4_reason query"
    assert reasoned.provenance["revision"] == bright.HF_REVISION
