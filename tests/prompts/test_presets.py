"""Published presets: each renders exactly what the published code builds for the same query and passages.

Fixtures are the published prompt strings, copied verbatim with their source (repository@commit:file); the
expected prompt is assembled the way that file assembles it. Queries and passages are new (not in any of the
repositories), and include the cases that tell formats apart: a title, a bracketed number, blank lines, an
``<answer>`` tag inside a passage and braces.
"""

from __future__ import annotations

import json
import re

import pytest

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.prompts import get_paradigm
from rankrl.prompts.render import prompt_text
from rankrl.prompts.template import (
    PRESET_DIR,
    available_presets,
    available_templates,
    load_template,
    read_template,
    template_from_dict,
)

PRESETS = ["erank", "grouprank", "rank-r1", "rank1", "rankgpt", "rankzephyr", "rearank", "reasonrank"]

QUERY = "how do {braces} and [7] tags behave in   glacier melt?"
PASSAGES = [
    {"docid": "n1", "title": "Glacier melt", "text": "Ice sheets lose mass [12] each summer.\n\nSee <answer>x</answer>."},
    {"docid": "n2", "title": "", "text": "  Meltwater pulses\nraise sea level by {2} mm.  "},
    {"docid": "n3", "title": "Albedo", "text": "Dark dust lowers albedo."},
]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """The tiny test model (``rankrl tiny-model``): a Qwen-style chat template and a real BPE tokenizer."""
    pytest.importorskip("transformers")
    from rankrl.core.cli import main

    folder = tmp_path_factory.mktemp("tiny") / "model"
    assert main(["tiny-model", str(folder), "--warmup-steps", "0", "--seed", "0"]) == 0
    return folder


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def test_every_preset_is_listed_loads_and_cites_its_source():
    assert available_presets() == PRESETS
    for name in PRESETS:
        t = read_template(name)
        assert t.name == name and t.is_preset
        assert t.source.repository and t.source.commit and t.source.files
        assert t.source.citation().startswith(t.source.repository + "@")
        assert t.defaults.given(), name  # every preset carries published inference settings
    assert not set(PRESETS) & set(available_templates())
    assert load_template("setwise", "rank-r1").paradigm == "setwise"
    with pytest.raises(RankrlError, match="is for paradigm 'setwise', not 'listwise'"):
        load_template("listwise", "rank-r1")


@pytest.mark.parametrize(("patch", "message"), [
    ({"colour": 1}, "unknown template field(s) ['colour']"),
    ({"passages": {"label": "[{i}]", "labels": "x"}}, "unknown 'passages' field(s) ['labels']"),
    ({"passages": {"neutralise": "some"}}, "passages.neutralise must be one of"),
    ({"passages": {"label": "[n]"}}, "passages.label must contain {i}"),
    ({"defaults": {"max_new_token": 5}}, "unknown 'defaults' field(s) ['max_new_token']"),
    ({"defaults": {"max_new_tokens": "5"}}, "defaults.max_new_tokens must be int"),
    ({"defaults": {"temperature": True}}, "defaults.temperature must be int or float"),
    ({"source": {"repo": "x"}}, "unknown 'source' field(s) ['repo']"),
    ({"judge": {"yes": " y"}}, "unknown 'judge' field(s) ['yes']"),
    ({"layout": "chat"}, "template field 'layout' must be one of"),
    ({"scoring": "logits"}, "template field 'scoring' must be one of"),
    ({"layout": "raw"}, "template field 'text' is missing (layout 'raw' needs it)"),
    ({"layout": "user"}, "template field 'system' does not apply to layout 'user'"),
    ({"scoring": "true-false"}, "needs a pointwise template"),
])
def test_template_loading_is_strict_and_names_the_field(tmp_path, patch, message):
    raw = json.loads((PRESET_DIR / "rank-r1.json").read_text(encoding="utf-8"))
    raw.update(patch)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        read_template(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_multi_turn_needs_well_formed_turns():
    base = {"name": "m", "version": "1", "paradigm": "listwise", "layout": "multi-turn"}
    with pytest.raises(DataFormatError, match=r"turns\[0\].role must be system, user or assistant"):
        template_from_dict({**base, "turns": [{"role": "tool", "content": "{query} {passages}"}]}, "x")
    with pytest.raises(DataFormatError, match=r"unknown turns\[1\] field\(s\) \['role'\]; allowed: \['each_passage'\]"):
        template_from_dict({**base, "turns": [{"role": "user", "content": "{query}"},
                                              {"role": "user", "each_passage": []}]}, "x")
    ok = template_from_dict({**base, "turns": [{"role": "user", "content": "{query}"},
                                               {"each_passage": [{"role": "user", "content": "{label} {text}"}]}]},
                            "x")
    msgs = ok.render("q", "unused", 2, [("[1]", "a"), ("[2]", "b")])
    assert msgs == [{"role": "user", "content": "q"}, {"role": "user", "content": "[1] a"},
                    {"role": "user", "content": "[2] b"}]


def test_preset_hashes_are_stable_and_legacy_hashes_unchanged():
    # a template written before the new fields existed keeps its hash (checkpoints store it in rankrl.json)
    legacy = load_template("setwise")
    assert "layout" not in legacy.to_dict() and "passages" not in legacy.to_dict()
    t = read_template("rank-r1")
    assert template_from_dict(t.to_dict(), "roundtrip") == t and len(t.sha256) == 64


# --- Rank-R1 ------------------------------------------------------------------------------------------------
# ielab/llm-rankers @3b988fa918b6d6eabfc5e12e88e56b9ce2e86c04, Rank-R1/prompts/prompt_setwise-R1.toml
R1_SYSTEM = ("A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
             "assistant first thinks about the reasoning process in the mind and then provides the user with the "
             "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
             "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.")
R1_USER = ('Given the query: "{query}", which of the following documents is most relevant?\n{docs}\nAfter completing '
           "the reasoning process, please provide only the label of the most relevant document to the query, "
           "enclosed in square brackets, within the answer tags. For example, if the third document is the most "
           "relevant, the answer should be: <think> reasoning process here </think> <answer>[3]</answer>.")


def r1_published(query, passages, tokenizer=None, query_length=None, passage_length=None):
    """What Rank-R1/run_setwise.py builds: load_run_file writes 'title text' and truncates it with
    SetwiseLlmRanker.truncate (convert_tokens_to_string(tokenize(text)[:n])), the query likewise;
    R1SetwiseLlmRanker.compare joins '[i] text' with '\\n' and formats prompt_user (shuffling off: shown order)."""
    def truncate(text, n):
        return tokenizer.convert_tokens_to_string(tokenizer.tokenize(text)[:n]) if tokenizer else text

    texts = []
    for p in passages:
        text = f"{p['title']} {p['text']}" if p["title"] else p["text"]
        texts.append(truncate(text, passage_length))
    docs = "\n".join(f"[{i + 1}] {t}" for i, t in enumerate(texts))
    return [{"role": "system", "content": R1_SYSTEM},
            {"role": "user", "content": R1_USER.format(query=truncate(query, query_length), docs=docs)}]


def test_rank_r1_messages_equal_the_published_construction():
    got = get_paradigm("setwise", template="rank-r1").messages(QUERY, PASSAGES)
    assert got == r1_published(QUERY, PASSAGES)


def test_rank_r1_with_the_published_truncation(tiny_tokenizer):
    from rankrl.prompts.fit import fit_messages

    paradigm = get_paradigm("setwise", template="rank-r1", max_passage_tokens=7)
    got = fit_messages(paradigm, QUERY, PASSAGES, tokenizer=tiny_tokenizer, max_query_tokens=5).messages
    expected = r1_published(QUERY, PASSAGES, tiny_tokenizer, query_length=5, passage_length=7)
    assert got == expected
    assert got != r1_published(QUERY, PASSAGES)  # the budgets did cut


def _render_cli(capsys, tmp_path, *args):
    from rankrl.core.cli import main

    path = tmp_path / "passages.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PASSAGES), encoding="utf-8")
    capsys.readouterr()
    assert main(["prompts", "render", "--passages", str(path), "--query", QUERY, *args]) == 0
    return capsys.readouterr().out


def test_rank_r1_render_is_byte_identical_with_and_without_a_chat_template(capsys, tmp_path, tiny_model_dir,
                                                                          tiny_tokenizer):
    # without a tokenizer: the messages (the published code hands these to vLLM's LLM.chat)
    out = _render_cli(capsys, tmp_path, "--template", "rank-r1", "--messages", "--max-passage-tokens", "100000",
                      "--max-query-tokens", "100000")
    assert json.loads(out) == r1_published(QUERY, PASSAGES)
    # with the tiny model's chat template: exactly apply_chat_template(published messages), generation prompt on
    out = _render_cli(capsys, tmp_path, "--template", "rank-r1", "--tokenizer", str(tiny_model_dir))
    expected = tiny_tokenizer.apply_chat_template(
        r1_published(QUERY, PASSAGES, tiny_tokenizer, query_length=32, passage_length=512),
        add_generation_prompt=True, tokenize=False)
    assert out == expected and out.endswith(tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False).split("x")[-1])


# --- Rank1 --------------------------------------------------------------------------------------------------
def rank1_published(query, passage):
    """orionw/rank1 @30585c2f3166b3df03e3b8f2d496d6dc5db68a9b, rank1.py: predict() writes 'title text' for a
    passage with a title, return_prompt() builds the raw prompt ending in '<think>'."""
    doc = f"{passage['title']} {passage['text']}" if passage.get("title") else passage["text"]
    return ("Determine if the following passage is relevant to the query. "
            "Answer only with 'true' or 'false'.\n"
            f"Query: {query}\n"
            f"Passage: {doc}\n"
            "<think>")


@pytest.mark.parametrize("docid", ["n1", "n2"])
def test_rank1_render_is_byte_identical_with_and_without_a_tokenizer(capsys, tmp_path, tiny_model_dir, docid):
    passage = next(p for p in PASSAGES if p["docid"] == docid)
    expected = rank1_published(QUERY, passage)
    assert _render_cli(capsys, tmp_path, "--template", "rank1", "--docid", docid) == expected
    # a raw template ignores the chat template: same bytes with the tiny model's tokenizer
    assert _render_cli(capsys, tmp_path, "--template", "rank1", "--docid", docid,
                       "--tokenizer", str(tiny_model_dir)) == expected
    messages = get_paradigm("pointwise", template="rank1").messages(QUERY, [passage])
    assert prompt_text(messages) == expected


def test_render_errors_name_the_flag(capsys, tmp_path):
    from rankrl.core.cli import main

    path = tmp_path / "p.jsonl"
    path.write_text('{"docid": "a", "text": "x"}\n{"docid": "b", "txt": "y"}\n', encoding="utf-8")
    assert main(["prompts", "render", "--template", "rank-r1", "--query", "q", "--passages", str(path)]) == 2
    assert f"{path}:2" in capsys.readouterr().err
    path.write_text('{"docid": "a", "text": "x"}\n{"docid": "b", "text": "y"}\n', encoding="utf-8")
    assert main(["prompts", "render", "--template", "rank1", "--query", "q", "--passages", str(path)]) == 2
    assert "choose one with --docid" in capsys.readouterr().err
    assert main(["prompts", "render", "--template", "rank-r1", "--query", "q", "--passages", str(path)]) == 2
    assert "needs a tokenizer with a chat template (pass --tokenizer DIR)" in capsys.readouterr().err
    assert main(["prompts", "render", "--template", "rank-r1", "--paradigm", "listwise", "--query", "q",
                 "--passages", str(path)]) == 2
    assert "is for paradigm 'setwise', not --paradigm 'listwise'" in capsys.readouterr().err


def test_prompts_list_shows_presets_with_their_source(capsys):
    from rankrl.core.cli import main

    assert main(["prompts", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"rank-r1\s+preset\s+setwise\s+system\+user\s+parse\s+ielab/llm-rankers@3b988fa:", out)
    assert re.search(r"rank1\s+preset\s+pointwise\s+raw \+prefill\s+true-false\s+orionw/rank1@30585c2", out)
    assert main(["prompts", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    grouprank = next(r for r in rows if r["name"] == "grouprank")
    assert grouprank["defaults"]["group_size"] == 10 and grouprank["defaults"]["repeats"] == 2
    assert grouprank["defaults"]["temperature"] == 0.3


# --- the other presets: messages equal the published construction --------------------------------------------
def test_rearank_multi_turn_messages():
    """lezhang7/Rearank @abb4bd0, rank_gpt.py: run_retriever writes 'Title: t Content: x' and collapses whitespace;
    create_permutation_instruction_rearank strips 'Title: Content: ', cuts content[:400] and builds the turns."""
    query = QUERY
    hits = []
    for p in PASSAGES:
        content = ("Title: " + p["title"] + " " + "Content: " + p["text"]) if p["title"] is not None else p["text"]
        hits.append(" ".join(content.split()))
    num = len(hits)
    instruction = (
        "I will provide you with passages, each indicated by number identifier []. Rank the passages based on "
        "their relevance to the search query."
        f"Search Query: {query}. \nRank the {num} passages above based on their relevance to the search query."
        "The passages should be listed in descending order using identifiers. The most relevant passages should "
        "be listed first. The output format should be <answer> [] > [] </answer>, e.g., <answer> [1] > [2] "
        "</answer>.")
    expected = [
        {"role": "system", "content": "You are DeepRerank, an intelligent assistant that can rank passages based on "
                                      "their relevancy to the search query. You first thinks about the reasoning "
                                      "process in the mind and then provides the user with the answer."},
        {"role": "user", "content": instruction},
        {"role": "assistant", "content": "Okay, please provide the passages."}]
    for rank, content in enumerate(hits, start=1):
        content = " ".join(content.replace("Title: Content: ", "").strip().split())
        expected.append({"role": "user", "content": f"[{rank}] {content[:400]}"})
        expected.append({"role": "assistant", "content": f"Received passage [{rank}]."})
    expected.append({"role": "user", "content": f"""Please rank these passages according to their relevance to the search query: "{query}"
            Follow these steps exactly:
            1. First, within <think> tags, analyze EACH passage individually:
            - Evaluate how well it addresses the query
            - Note specific relevant information or keywords

            2. Then, within <answer> tags, provide ONLY the final ranking in descending order of relevance using the format: [X] > [Y] > [Z]"""})
    long = [{"docid": "L", "title": "", "text": "word " * 200}]
    assert get_paradigm("listwise", template="rearank").messages(query, PASSAGES) == expected
    cut = get_paradigm("listwise", template="rearank", max_passage_chars=400).messages(query, long)
    assert cut[3]["content"] == "[1] " + (" ".join(("word " * 200).split()))[:400]


def _replace_number(s):
    return re.sub(r"\[(\d+)\]", r"(\1)", s)


def test_reasonrank_messages():
    """8421BCD/ReasonRank @06721fd: listwise_prompt_r1.toml system_prompt_reasoning; utils.add_prefix_prompt /
    add_post_prompt (rank_GPT_reasoning); convert_doc_to_prompt_content (title, strip, replace_number)."""
    system = ("You are RankLLM, an intelligent assistant that can rank passages based on their relevance to the "
              "query. Given a query and a passage list, you first thinks about the reasoning process in the mind and "
              "then provides the answer (i.e., the reranked passage list). The reasoning process and answer are "
              "enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning "
              "process here </think> <answer> answer here </answer>.")
    query = _replace_number(QUERY).strip()
    num = len(PASSAGES)
    context = (f"I will provide you with {num} passages, each indicated by a numerical identifier []. Rank the "
               f"passages based on their relevance to the search query: {query}.\n") + "\n"
    for rank, p in enumerate(PASSAGES, start=1):
        content = p["text"]
        if p["title"]:
            content = "Title: " + p["title"] + " " + "Content: " + content
        context += f"[{rank}] {_replace_number(content.strip())}\n"
    context += (f"Search Query: {query}.\nRank the {num} passages above based on their relevance to the search "
                "query. All the passages should be included and listed using identifiers, in descending order of "
                "relevance. The format of the answer should be [] > [], e.g., [2] > [1].")
    got = get_paradigm("listwise", template="reasonrank").messages(QUERY, PASSAGES)
    assert got == [{"role": "system", "content": system}, {"role": "user", "content": context}]


def test_grouprank_messages():
    """AQ-MedAI/Diver @95b111b, Reranker/rerank_groupwise.py: prepare_groups_one_epoch and the two prompts."""
    from rankrl.prompts.template import read_template

    t = read_template("grouprank")
    assert t.system.startswith("Your task is to evaluate and rank documents based on how well they help answer")
    assert t.system.endswith("- 0: Not helpful at all, cannot assist with answering the query\n")
    texts = [re.sub("\n+", " ", p["text"])[:3000] for p in PASSAGES]
    docs = "".join("[{}]. {}\n\n".format(i + 1, x) for i, x in enumerate(texts))  # noqa: UP032 - as published
    user = ("I will provide you {TOPK} documents, each indicated by a numerical identifier []. Score these documents "
            "based on their Usefulness and Relevance to the query.\nQuery:\n{QUERY}\n\nDocuments:\n{PASSAGES}\n\n"
            "## Final Output Format\nYou must structure your response in exactly two parts: provide your brief "
            "reasoning process first, then output final scores in JSON format like below, with document IDs as "
            "string keys and integer scores as values for all {TOPK} documents. \nThe reasoning process and answer "
            "are enclosed within <reason> </reason> and <answer> </answer> tags, respectively. Do NOT output "
            "anything outside the specified tags. Follow this exact format:\n<reason> \n[Analyze each document's "
            "usefulness and relevance to the query, explaining your scoring rationale]\n</reason>\n<answer> \n"
            "```json\n{{\"[1]\": 5, \"[2]\": 3, \"[3]\": 8}}\n``` \n</answer>\n")
    untitled = [{**p, "title": ""} for p in PASSAGES]  # BRIGHT documents have no titles
    got = get_paradigm("groupwise", template="grouprank").messages(QUERY, untitled)
    assert got[1]["content"] == user.format(QUERY=QUERY, PASSAGES=docs, TOPK=len(texts))
    parsed = get_paradigm("groupwise", template="grouprank").parse(
        '<reason>\nx\n</reason>\n\n<answer>\n```json\n{\n  "[1]": 1,\n  "[2]": 10,\n  "[3]": 7\n}\n```\n</answer>', 3)
    assert parsed.ok and parsed.value == [1.0, 10.0, 7.0]


def _rank_llm_content(p, max_words=300):
    """castorini/rank_llm @1b3cabb, inference_handler._convert_doc_to_prompt_content (ftfy aside)."""
    content = p["text"]
    if p["title"]:
        content = "Title: " + p["title"] + " " + "Content: " + content
    content = " ".join(content.strip().split()[:max_words])
    return _replace_number(content)


def test_rankgpt_and_rankzephyr_messages():
    query = _replace_number(QUERY)
    num = len(PASSAGES)
    # rank_gpt_template.yaml (multiturn_listwise)
    expected = [
        {"role": "system", "content": "You are RankGPT, an intelligent assistant that can rank passages based on "
                                      "their relevancy to the query."},
        {"role": "user", "content": f"I will provide you with {num} passages, each indicated by number identifier "
                                    f"[].\nRank the passages based on their relevance to query: {query}."},
        {"role": "assistant", "content": "Okay, please provide the passages."}]
    for rank, p in enumerate(PASSAGES, start=1):
        expected += [{"role": "user", "content": f"[{rank}] {_rank_llm_content(p)}"},
                     {"role": "assistant", "content": f"Received passage [{rank}]."}]
    expected.append({"role": "user", "content": (
        f"Search Query: {query}.\nRank the {num} passages above based on their relevance to the search query. The "
        "passages should be listed in descending order using identifiers. The most relevant passages should be "
        "listed first. The output format should be [] > [], e.g., [1] > [2]. Only response the ranking results, "
        "do not say any word or explain.")})
    assert get_paradigm("listwise", template="rankgpt").messages(QUERY, PASSAGES) == expected
    # rank_zephyr_template.yaml (singleturn_listwise): prefix + '[rank] candidate\n' per passage + suffix
    prefix = (f"I will provide you with {num} passages, each indicated by a numerical identifier []. Rank the "
              f"passages based on their relevance to the search query: {query}.\n")
    body = "".join(f"[{rank}] {_rank_llm_content(p)}\n" for rank, p in enumerate(PASSAGES, start=1))
    suffix = (f"Search Query: {query}.\nRank the {num} passages above based on their relevance to the search query. "
              "All the passages should be included and listed using identifiers, in descending order of relevance. "
              "The output format should be [] > [], e.g., [2] > [1], Answer concisely and directly and only respond "
              "with the ranking results, do not say any word or explain.")
    got = get_paradigm("listwise", template="rankzephyr").messages(QUERY, PASSAGES)
    assert got == [{"role": "system", "content": "You are RankLLM, an intelligent assistant that can rank passages "
                                                 "based on their relevancy to the query"},
                   {"role": "user", "content": prefix + body + suffix}]
    # no <answer> tags: the whole completion is the ranking
    parsed = get_paradigm("listwise", template="rankzephyr").parse("[2] > [3] > [1]", 3)
    assert parsed.ok and parsed.value == [1, 2, 0]


def test_erank_is_user_only_and_reads_an_integer_answer():
    got = get_paradigm("pointwise", template="erank").messages("q?", ["doc"])
    assert [m["role"] for m in got] == ["user"]  # no system message at all
    content = got[0]["content"]
    assert "Here is the query: q?\nHere is the document: doc\n" in content
    assert content.startswith("Given a query and a document, please give a relevance score of 0 to 10.")
    parsed = get_paradigm("pointwise", template="erank").parse("<think> hmm </think><answer> 7 </answer>", 1)
    assert parsed.ok and parsed.value == 7.0
