"""Training rows: group rules, determinism, prompts, truncation, statistics, and the dataset on disk."""

from __future__ import annotations

import json

import pytest

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.core.fields import FieldError
from rankrl.data.records import Benchmark, Passage, Query
from rankrl.data.rows import (
    ROW_COLUMNS,
    RowsConfig,
    load_rows,
    rows_from_benchmark,
    rows_from_rankgpt,
    rows_to_dataset,
    save_rows,
)
from rankrl.prompts import count_prompt_tokens, get_paradigm

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def tiny_tokenizer():
    """A byte-level BPE tokenizer trained offline on a few sentences, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|eos|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(
        ["how long is the life cycle of a flea", "the passage answers the query"] * 5, trainer
    )
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|eos|>")
    hf.chat_template = CHAT_TEMPLATE
    return hf


@pytest.fixture(scope="module")
def dl19_files(shared_data):
    folder = shared_data / "trec-dl"
    return folder / "bm25_retrieve_results_dl19_top100.json", folder / "qrels.dl19-passage.txt"


@pytest.fixture(scope="module")
def dl19(dl19_files):
    from rankrl.data.rows import rankgpt_benchmark

    return rankgpt_benchmark(*dl19_files)


@pytest.fixture(scope="module")
def listwise_rows(dl19):
    return rows_from_benchmark(dl19, RowsConfig("listwise", group_size=20, top_n=100, seed=0))


def _all_relevant_queries(benchmark, top_n=100, threshold=1):
    out = set()
    for qid, ranking in benchmark.first_stage.items():
        grades = [benchmark.qrels.get(qid, {}).get(d, 0) for d, _ in ranking[:top_n]]
        if all(g >= threshold for g in grades):
            out.add(qid)
    return out


def test_dl19_groups_follow_the_rules(dl19, listwise_rows):
    rows, stats = listwise_rows.rows, listwise_rows.stats
    assert stats["queries"] == 43
    no_negative = _all_relevant_queries(dl19)
    assert stats["skipped"] == ({"no_non_relevant_in_top_n": len(no_negative)} if no_negative else {})
    assert stats["queries_used"] == 43 - len(no_negative) == len(rows) == stats["groups"] == stats["rows"]
    assert stats["degenerate_groups"] == 0 and stats["degenerate_group_fraction"] == 0.0
    shown_first_stage = 0
    for row in rows:
        qid, docids, grades = row["qid"], row["docids"], row["relevance"]
        assert len(docids) == 20 and len(set(docids)) == 20
        top100 = [d for d, _ in dl19.first_stage[qid][:100]]
        assert set(docids) <= set(top100)
        assert grades == [dl19.qrels[qid].get(d, 0) for d in docids]
        assert all(isinstance(g, int) for g in grades)
        assert any(g >= 1 for g in grades) and any(g < 1 for g in grades)
        assert row["paradigm"] == "listwise" and row["group"] == f"{qid}#0"
        shown_first_stage += docids == sorted(docids, key=top100.index)
    # Shuffled: the first-stage order is (almost surely) not the shown order.
    assert shown_first_stage == 0


def test_prompt_is_the_paradigms_messages_in_shown_order(dl19, listwise_rows):
    paradigm = get_paradigm("listwise")
    for row in listwise_rows.rows[:5]:
        texts = [dl19.passages[d].render() for d in row["docids"]]
        assert row["prompt"] == paradigm.messages(dl19.queries[row["qid"]].text, texts)
    assert listwise_rows.stats["truncation_rate"] == 0.0
    lengths = listwise_rows.stats["prompt_length"]
    expected = sorted(sum(len(m["content"]) for m in r["prompt"]) for r in listwise_rows.rows)
    assert lengths["unit"] == "chars"
    assert lengths["max"] == expected[-1] and lengths["min"] == expected[0]
    assert lengths["p50"] <= lengths["p90"] <= lengths["p99"] <= lengths["max"]


def test_same_seed_same_rows_other_seed_other_rows(dl19, listwise_rows):
    again = rows_from_benchmark(dl19, RowsConfig("listwise", group_size=20, top_n=100, seed=0))
    assert again.rows == listwise_rows.rows
    other = rows_from_benchmark(dl19, RowsConfig("listwise", group_size=20, top_n=100, seed=1))
    differing = sum(a["docids"] != b["docids"] for a, b in zip(other.rows, listwise_rows.rows))
    assert differing == len(other.rows)


def test_rel_threshold_two(dl19):
    result = rows_from_benchmark(dl19, RowsConfig("setwise", group_size=10, top_n=50, rel_threshold=2, seed=3))
    for row in result.rows:
        assert any(g >= 2 for g in row["relevance"]) and any(g < 2 for g in row["relevance"])
    assert result.stats["queries_used"] + result.stats["queries_skipped"] == 43
    assert result.stats["queries_skipped"] >= 1  # some DL19 queries have no grade >= 2 in their top 50


def test_several_groups_per_query_start_from_different_relevant_passages(dl19):
    result = rows_from_benchmark(dl19, RowsConfig("listwise", group_size=5, top_n=100, groups_per_query=3, seed=0))
    by_query: dict[str, list[dict]] = {}
    for row in result.rows:
        by_query.setdefault(row["qid"], []).append(row)
    assert all(len(rows) == 3 for rows in by_query.values())
    assert result.stats["groups"] == 3 * result.stats["queries_used"]
    for qid, rows in by_query.items():
        assert [r["group"] for r in rows] == [f"{qid}#0", f"{qid}#1", f"{qid}#2"]
        relevant = {d for d, g in dl19.qrels[qid].items() if g >= 1} & {d for d, _ in dl19.first_stage[qid]}
        if len(relevant) >= 3:
            assert len({frozenset(r["docids"]) for r in rows}) == 3


def test_pointwise_rows_are_one_passage_each_grouped_by_group_id(dl19):
    result = rows_from_benchmark(dl19, RowsConfig("pointwise", group_size=4, top_n=20, seed=0))
    rows, stats = result.rows, result.stats
    assert stats["rows"] == 4 * stats["groups"] == len(rows)
    paradigm = get_paradigm("pointwise")
    for start in range(0, len(rows), 4):
        group = rows[start : start + 4]
        assert len({r["group"] for r in group}) == 1 and len({r["qid"] for r in group}) == 1
        grades = [r["relevance"][0] for r in group]
        assert any(g >= 1 for g in grades) and any(g < 1 for g in grades)
        for r in group:
            assert len(r["docids"]) == 1 and len(r["relevance"]) == 1
            text = dl19.passages[r["docids"][0]].render()
            assert r["prompt"] == paradigm.messages(dl19.queries[r["qid"]].text, [text])


def test_allowing_groups_without_negative_reports_degenerate_groups():
    queries = {"q1": Query("q1", "alpha"), "q2": Query("q2", "beta")}
    passages = {f"d{i}": Passage(f"d{i}", f"text {i}") for i in range(6)}
    qrels = {"q1": {"d0": 1, "d1": 1, "d2": 1}, "q2": {"d3": 2, "d4": 0}}
    run = {"q1": [("d0", 3.0), ("d1", 2.0), ("d2", 1.0)], "q2": [("d3", 3.0), ("d4", 2.0), ("d5", 1.0)]}
    bench = Benchmark("toy", queries, passages, qrels, run)
    strict = rows_from_benchmark(bench, RowsConfig("listwise", group_size=3, top_n=3))
    assert strict.stats["skipped"] == {"no_non_relevant_in_top_n": 1}
    assert strict.stats["degenerate_group_fraction"] == 0.0
    loose = rows_from_benchmark(bench, RowsConfig("listwise", group_size=3, top_n=3, require_negative=False))
    assert loose.stats["groups"] == 2 and loose.stats["degenerate_groups"] == 1
    assert loose.stats["degenerate_group_fraction"] == 0.5
    # d5 is not in the qrels: unjudged, shown as grade 0 and counted.
    q2 = next(r for r in loose.rows if r["qid"] == "q2")
    assert dict(zip(q2["docids"], q2["relevance"]))["d5"] == 0
    assert loose.stats["unjudged_fraction_shown"] == pytest.approx(1 / 6)


def test_skip_reasons_and_excluded_ids():
    queries = {q: Query(q, f"query {q}") for q in ("judged", "unjudged", "empty", "norel", "short")}
    passages = {f"d{i}": Passage(f"d{i}", f"text {i}") for i in range(5)}
    qrels = {
        "judged": {"d0": 1, "d1": 0},
        "empty": {"d0": 1},
        "norel": {"d0": 0},
        "short": {"d0": 1, "d1": 0},
    }
    run = {
        "judged": [("d4", 9.0), ("d0", 3.0), ("d1", 2.0), ("d2", 1.0)],
        "unjudged": [("d0", 1.0)],
        "norel": [("d0", 2.0), ("d1", 1.0), ("d2", 0.5)],
        "short": [("d0", 2.0), ("d1", 1.0)],
    }
    bench = Benchmark("toy", queries, passages, qrels, run, excluded={"judged": {"d4"}})
    result = rows_from_benchmark(bench, RowsConfig("groupwise", group_size=3, top_n=3))
    assert result.stats["skipped"] == {
        "not_judged": 1,
        "no_candidates": 1,
        "no_relevant_in_top_n": 1,
        "too_few_candidates": 1,
    }
    (row,) = result.rows
    assert row["qid"] == "judged" and sorted(row["docids"]) == ["d0", "d1", "d2"]  # d4 excluded


def test_missing_passage_text_is_a_user_error():
    bench = Benchmark(
        "toy",
        {"q": Query("q", "x")},
        {"d0": Passage("d0", "t")},
        {"q": {"d0": 1}},
        {"q": [("d0", 2), ("d9", 1)]},
    )
    with pytest.raises(RankrlError, match="'d9'"):
        rows_from_benchmark(bench, RowsConfig("listwise", group_size=2, top_n=2))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"paradigm": "pairwise"}, RankrlError, "unknown paradigm 'pairwise'"),
        ({"group_size": 1}, FieldError, "^group_size must be >= 2"),
        ({"group_size": 30, "top_n": 20}, FieldError, r"^top_n \(20\) must be >= group_size \(30\)"),
        ({"groups_per_query": 0}, FieldError, "^groups_per_query must be >= 1"),
        ({"max_prompt_tokens": 100}, FieldError, "^max_prompt_tokens needs a tokenizer"),
    ],
)
def test_bad_configuration(dl19, kwargs, error, message):
    options = {"paradigm": "listwise", **kwargs}
    paradigm = options.pop("paradigm")
    with pytest.raises(error, match=message):
        rows_from_benchmark(dl19, RowsConfig(paradigm, **options))


def test_passage_character_budget_truncates_every_row(dl19):
    result = rows_from_benchmark(dl19, RowsConfig("setwise", group_size=5, top_n=20, max_passage_chars=40))
    assert result.stats["truncation_rate"] == 1.0 and result.stats["truncated_rows"] == len(result.rows)
    assert result.stats["paradigm"]["truncation"]["max_passage_chars"] == 40


def test_prompt_token_budget_with_a_tiny_tokenizer(dl19):
    tokenizer = tiny_tokenizer()
    full = rows_from_benchmark(dl19, RowsConfig("listwise", group_size=10, top_n=50, seed=2), tokenizer=tokenizer)
    assert full.stats["prompt_length"]["unit"] == "tokens"
    assert full.stats["truncation_rate"] == 0.0
    sizes = [count_prompt_tokens(tokenizer, r["prompt"]) for r in full.rows]
    assert full.stats["prompt_length"]["max"] == max(sizes)
    budget = sorted(sizes)[len(sizes) // 2]  # the median: about half the prompts must be cut
    cut = rows_from_benchmark(dl19, RowsConfig("listwise", group_size=10, top_n=50, seed=2, max_prompt_tokens=budget), tokenizer=tokenizer)
    over = sum(s > budget for s in sizes)
    assert 0 < over < len(sizes)
    assert cut.stats["truncated_rows"] == over
    assert cut.stats["truncation_rate"] == pytest.approx(over / len(sizes))
    assert cut.stats["prompt_length"]["max"] <= budget
    for before, after in zip(full.rows, cut.rows):
        assert after["docids"] == before["docids"]  # truncation never changes the group
        assert count_prompt_tokens(tokenizer, after["prompt"]) <= budget


def test_rankgpt_source_matches_benchmark_source(dl19_files, dl19, listwise_rows):
    result = rows_from_rankgpt(*dl19_files, RowsConfig("listwise", group_size=20, top_n=100, seed=0))
    assert result.rows == listwise_rows.rows
    assert result.stats["source"]["kind"] == "rankgpt"


def test_dataset_round_trip(tmp_path, listwise_rows):
    import datasets

    dataset = rows_to_dataset(listwise_rows.rows)
    assert dataset.column_names == list(ROW_COLUMNS)
    assert dataset.features["relevance"].feature.dtype == "int64"
    out = save_rows(dataset, tmp_path / "rows", {"stats": {"groups": len(dataset)}})
    assert json.loads((out / "build.json").read_text())["stats"]["groups"] == len(dataset)
    loaded = load_rows(out)
    assert isinstance(loaded, datasets.Dataset) and len(loaded) == len(listwise_rows.rows)
    assert loaded[0] == {c: listwise_rows.rows[0][c] for c in ROW_COLUMNS}
    assert [p.name for p in tmp_path.iterdir()] == ["rows"]  # no temporary folder left behind


def test_save_refuses_existing_folder_unless_overwrite(tmp_path, listwise_rows):
    dataset = rows_to_dataset(listwise_rows.rows[:3])
    out = tmp_path / "rows"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "build.json").write_text("{}")  # an earlier `rankrl data build` output: --overwrite may replace it
    with pytest.raises(RankrlError, match="already exists"):
        save_rows(dataset, out, {})
    assert (out / "keep.txt").read_text() == "mine"
    save_rows(dataset, out, {}, overwrite=True)
    assert not (out / "keep.txt").exists() and len(load_rows(out)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows"]


def test_load_rows_errors(tmp_path):
    with pytest.raises(RankrlError, match="not a folder"):
        load_rows(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("x")
    with pytest.raises(RankrlError, match="not a dataset saved by `rankrl data build`"):
        load_rows(tmp_path / "plain")


def test_rows_to_dataset_rejects_empty_input():
    with pytest.raises(RankrlError, match="no training rows"):
        rows_to_dataset([])


def test_worker_processes_give_the_same_rows_and_stats(dl19):
    one = rows_from_benchmark(dl19, RowsConfig("pointwise", group_size=4, top_n=20, groups_per_query=2, seed=4))
    two = rows_from_benchmark(dl19, RowsConfig("pointwise", group_size=4, top_n=20, groups_per_query=2, seed=4), num_proc=2)
    assert len(one.rows) > 64  # more than one render chunk, so chunks really travel to the workers
    assert two.rows == one.rows and two.stats == one.stats
    with pytest.raises(ConfigError, match="num_proc must be >= 1"):
        rows_from_benchmark(dl19, RowsConfig("pointwise", group_size=4, top_n=20), num_proc=0)


def test_as_dataset_streams_the_same_rows_and_stats_into_arrow(dl19, monkeypatch):
    """``as_dataset=True`` (what `rankrl data build` and `rankrl train` use) converts rows to Arrow a chunk at a
    time; with chunks smaller than the build, the dataset still equals the list path's rows, in order."""
    import rankrl.data.rows as rows_module

    listed = rows_from_benchmark(dl19, RowsConfig("pointwise", group_size=4, top_n=20, groups_per_query=2, seed=4))
    monkeypatch.setattr(rows_module, "_CHUNK", 7)  # several chunks, the last one short
    streamed = rows_from_benchmark(dl19, RowsConfig("pointwise", group_size=4, top_n=20, groups_per_query=2, seed=4), as_dataset=True)
    assert streamed.rows is None and streamed.stats == listed.stats
    assert len(listed.rows) % 7 != 0 and len(streamed.dataset) == len(listed.rows) == streamed.stats["rows"]
    assert streamed.dataset.to_list() == [{c: r[c] for c in ROW_COLUMNS} for r in listed.rows]


def test_as_dataset_with_every_query_skipped_is_empty_with_the_row_schema(dl19):
    result = rows_from_benchmark(dl19, RowsConfig("listwise", group_size=20, top_n=20, seed=0, rel_threshold=99), as_dataset=True)
    assert result.stats["rows"] == 0 and len(result.dataset) == 0
    assert result.dataset.column_names == list(ROW_COLUMNS)


def test_worker_processes_with_a_tokenizer_and_a_budget_give_the_same_rows(dl19):
    """Workers get the tokenizer once, through their initializer; token counts and truncation match one process."""
    tokenizer = tiny_tokenizer()
    options = {"group_size": 5, "top_n": 20, "groups_per_query": 2, "seed": 1}
    median = rows_from_benchmark(dl19, RowsConfig("setwise", **options), tokenizer=tokenizer).stats[
        "prompt_length"]["p50"]
    options["max_prompt_tokens"] = int(median)  # about half the prompts must be cut
    one = rows_from_benchmark(dl19, RowsConfig("setwise", **options), tokenizer=tokenizer)
    two = rows_from_benchmark(dl19, RowsConfig("setwise", **options), tokenizer=tokenizer, num_proc=2,
                              as_dataset=True)
    assert one.stats["rows"] > 64 and 0 < one.stats["truncation_rate"] < 1  # several chunks; the budget cuts some
    assert two.stats == one.stats
    assert two.dataset.to_list() == [{c: r[c] for c in ROW_COLUMNS} for r in one.rows]
