"""``rankrl tiny-model``: an offline Qwen3-config model whose tokenizer keeps the answer tags, and its warm-up."""

from __future__ import annotations

import json

import pytest
import torch

from rankrl.core.errors import RankrlError
from rankrl.rl.tiny_model import EOS_TOKEN, PAD_TOKEN, build_tiny_model, main
from rankrl.rl.tokens import ANSWER_TAGS


@pytest.fixture(scope="module")
def cold_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-cold") / "model"
    build_tiny_model(folder, seed=0, warmup_steps=0, log=lambda *_: None)
    return folder


def test_saves_a_qwen3_model_with_head_dim_32_in_safetensors(cold_model):
    from transformers import AutoConfig, AutoModelForCausalLM

    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "tiny_model.json"):
        assert (cold_model / name).is_file(), name
    config = AutoConfig.from_pretrained(cold_model)
    assert config.model_type == "qwen3" and config.head_dim == 32 and config.tie_word_embeddings
    model = AutoModelForCausalLM.from_pretrained(cold_model)
    info = json.loads((cold_model / "tiny_model.json").read_text())
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert "warmup" not in info and not (cold_model / "rankrl.json").exists()


def test_answer_tags_are_ordinary_single_tokens_kept_by_skip_special_decode(cold_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(cold_model)
    assert tok.eos_token == EOS_TOKEN and tok.pad_token == PAD_TOKEN and tok.pad_token_id != tok.eos_token_id
    for tag in ANSWER_TAGS:
        ids = tok(tag, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, tag
        assert tag not in tok.all_special_tokens
    text = "<think> the second passage names the river </think> <answer>[2] > [1]</answer>"
    ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_chat_template_renders_roles_and_generation_prompt(cold_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(cold_model)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"


def test_same_seed_gives_the_same_model_and_another_seed_does_not(cold_model, tmp_path):
    from safetensors.torch import load_file

    again, other = tmp_path / "again", tmp_path / "other"
    build_tiny_model(again, seed=0, log=lambda *_: None)
    build_tiny_model(other, seed=1, log=lambda *_: None)
    assert (again / "tokenizer.json").read_bytes() == (cold_model / "tokenizer.json").read_bytes()
    a, b, c = (load_file(d / "model.safetensors") for d in (cold_model, again, other))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_overwrite_replaces_only_a_folder_tiny_model_wrote(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    with pytest.raises(RankrlError, match="not empty"):
        build_tiny_model(folder, log=lambda *_: None)
    with pytest.raises(RankrlError, match=r"refusing to replace .*m: .*not written by `rankrl tiny-model`"):
        build_tiny_model(folder, overwrite=True, log=lambda *_: None)
    assert (folder / "keep.txt").read_text() == "x" and sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging folder left behind

    empty = tmp_path / "empty"
    empty.mkdir()
    build_tiny_model(empty, log=lambda *_: None)  # an empty folder is filled, --overwrite or not
    first = (empty / "model.safetensors").stat().st_mtime_ns
    (empty / "stale.txt").write_text("from an earlier build")
    build_tiny_model(empty, overwrite=True, seed=1, log=lambda *_: None)  # ours (tiny_model.json): replaced
    assert json.loads((empty / "tiny_model.json").read_text())["seed"] == 1
    assert not (empty / "stale.txt").exists() and (empty / "model.safetensors").stat().st_mtime_ns >= first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "m"]  # the old copy was removed


def test_a_file_at_the_path_is_a_clean_error(tmp_path):
    path = tmp_path / "model"
    path.write_text("not a folder")
    for overwrite in (False, True):
        with pytest.raises(RankrlError, match="is a file, not a folder"):
            build_tiny_model(path, overwrite=overwrite, log=lambda *_: None)
    assert path.read_text() == "not a folder"
    with pytest.raises(RankrlError, match="cannot be created"):
        build_tiny_model(path / "sub", log=lambda *_: None)


@pytest.mark.parametrize("threads", ["0", "-2"])
def test_threads_below_one_are_refused(tmp_path, threads):
    with pytest.raises(RankrlError, match=f"--threads must be >= 1, got {threads}"):
        main([str(tmp_path / "m"), "--threads", threads])
    assert not (tmp_path / "m").exists()


def test_abbreviated_flags_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "m"), "--warmup", "3"])
    assert exit_.value.code == 2 and "unrecognized arguments: --warmup 3" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_cli_builds_and_rejects_an_unknown_paradigm_before_writing(tmp_path, capsys):
    assert main([str(tmp_path / "ok"), "--warmup-steps", "0"]) == 0
    assert "parameters" in capsys.readouterr().out
    for steps in ("1", "0"):  # checked even when no warm-up would use it
        with pytest.raises(RankrlError, match="unknown paradigm 'bogus'"):
            main([str(tmp_path / "bad"), "--warmup-steps", steps, "--paradigm", "bogus"])
    assert not (tmp_path / "bad").exists()
    with pytest.raises(RankrlError, match="warmup-steps"):
        main([str(tmp_path / "neg"), "--warmup-steps", "-1"])


def test_warm_up_teaches_the_format_and_eos_with_varied_lengths(warm_tiny_model):
    info = json.loads((warm_tiny_model / "tiny_model.json").read_text())
    assert info["warmup"]["steps"] == 150 and info["warmup"]["paradigms"] == [
        "setwise", "listwise", "pointwise", "groupwise", "pointwise:pointwise-binary"
    ]
    check = info["sample_check"]
    assert check["eos_rate"] >= 0.75 and check["format_ok_rate"] >= 0.5
    assert check["min_length"] < check["max_length"]


@pytest.mark.slow
def test_single_paradigm_warm_up_writes_rankrl_json(tmp_path):
    from rankrl.core.metadata import read_metadata

    torch.set_num_threads(2)
    folder = tmp_path / "setwise"
    info = build_tiny_model(folder, warmup_steps=20, paradigm="setwise", log=lambda *_: None)
    assert torch.get_num_threads() == 2  # the warm-up's single thread is restored
    torch.set_num_threads(1)
    meta = read_metadata(folder)
    assert meta["paradigm"] == "setwise" and meta["template"]["name"] == "setwise"
    assert info["warmup"]["steps"] == 20 and info["warmup"]["final_loss"] < 6.0
