"""Library messages in field terms become flag terms on the command line."""

from __future__ import annotations

import argparse

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.core.flag_text import as_flag_message, fields_to_flags, flag_map


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("--source")
    p.add_argument("--corpus")
    p.add_argument("--run", dest="first_stage_run")
    p.add_argument("--data-dir")
    return p


def test_field_assignments_become_flags() -> None:
    flags = flag_map(_parser())
    assert fields_to_flags("reranking needs source='hf' or corpus=PATH", flags) == \
        "reranking needs --source hf or --corpus PATH"
    assert fields_to_flags("pass run=PATH and data_dir=DIR; first_stage_run=x", flags) == \
        "pass --run PATH and --data-dir DIR; --run x"
    # unknown names, comparisons and file contents are left alone
    assert fields_to_flags("model=x, a == b, url?x=1", flags) == "model=x, a == b, url?x=1"


def test_only_plain_errors_are_rewritten() -> None:
    flags = flag_map(_parser())
    err = as_flag_message(RankrlError("needs source='hf'"), flags)
    assert type(err) is RankrlError and str(err) == "needs --source hf"
    data = DataFormatError("f.txt", 3, "source='hf'")
    assert as_flag_message(data, flags) is data
