"""The offline code tokenizer: deterministic, lossless, cached, with usable offsets."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stepcoder_lib.models.tokenizer import stdlib_corpus, tiny_tokenizer, train_code_tokenizer

CODE = "def f(xs):\n    # sum of squares, naïve\n    if not xs:\n        return 0\n    return sum(x * x for x in xs)\n"


def test_training_is_deterministic(tmp_path) -> None:
    corpus = stdlib_corpus(60_000)
    a = train_code_tokenizer(corpus, vocab_size=600, save_dir=tmp_path / "a")
    b = train_code_tokenizer(corpus, vocab_size=600, save_dir=tmp_path / "b")
    ja = json.loads((tmp_path / "a" / "tokenizer.json").read_text())
    jb = json.loads((tmp_path / "b" / "tokenizer.json").read_text())
    assert ja["model"]["vocab"] == jb["model"]["vocab"] and ja["model"]["merges"] == jb["model"]["merges"]
    assert a(CODE)["input_ids"] == b(CODE)["input_ids"]
    assert len(a) == 600


def test_tiny_tokenizer_shape_and_cache(tmp_path) -> None:
    tok = tiny_tokenizer.__wrapped__(cache_dir=str(tmp_path))
    saved = list(tmp_path.iterdir())
    assert len(saved) == 1 and (saved[0] / "tokenizer.json").exists() and saved[0].name.startswith("bpe4096-")
    again = tiny_tokenizer.__wrapped__(cache_dir=str(tmp_path))  # loaded from disk this time
    assert again(CODE)["input_ids"] == tok(CODE)["input_ids"]
    assert len(tok) == 4096
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    ids = tok(CODE, add_special_tokens=False)["input_ids"]
    assert len(ids) < len(CODE) / 2.5  # it learned code: far fewer tokens than characters
    assert "\n   " in [CODE[a:b] for a, b in tok(CODE, return_offsets_mapping=True)["offset_mapping"]]


def test_unsplit_style_merges_across_lines() -> None:
    tok = train_code_tokenizer(stdlib_corpus(80_000), vocab_size=800, pretokenize=False)
    pieces = [CODE[a:b] for a, b in tok(CODE, return_offsets_mapping=True)["offset_mapping"]]
    assert any("\n" in p and p.strip() for p in pieces)  # code and a line break in one token
    assert tok.decode(tok(CODE)["input_ids"]) == CODE


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120))
def test_round_trip_and_offsets_cover_the_text(text: str) -> None:
    tok = tiny_tokenizer()
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    assert tok.decode(enc["input_ids"], clean_up_tokenization_spaces=False) == text
    covered = set()
    for a, b in enc["offset_mapping"]:
        assert 0 <= a <= b <= len(text)
        covered.update(range(a, b))
    assert covered == set(range(len(text)))


def test_digit_split_tokenizer_reads_numbers_digit_by_digit() -> None:
    tok = train_code_tokenizer(stdlib_corpus(60_000) + ["x = 1234\ny = 99\n"] * 50, vocab_size=500,
                               split_digits=True)
    text = "if v <= -69:\n    print(1234)\n"
    pieces = [text[a:b] for a, b in tok(text, return_offsets_mapping=True)["offset_mapping"]]
    assert [p for p in pieces if p.strip().isdigit()] == ["6", "9", "1", "2", "3", "4"]
    assert tok.decode(tok(text)["input_ids"]) == text
