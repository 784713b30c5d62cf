"""A real code tokenizer made offline: byte-level BPE trained here, for the tiny profile and tests.

Byte-level so that every string round-trips (no unknown tokens), GPT-2-style pre-tokenisation so
that tokens look like a code model's (``"\\n    "`` is one token and straddles a line break).
``pretokenize=False`` trains without the split, so merges cross spaces and line breaks freely:
a second tokenizer style for checking that nothing downstream assumes token-per-line shapes.
``split_digits=True`` makes every digit its own token (as LLaMA's tokenizer does), so a number
reads the same in a statement and in code and small models learn to copy and compare it.
``sentencepiece_tokenizer`` is a third style, LLaMA-2's: spaces become ``"▁"`` glued to the word
after them, unknown characters fall back to byte tokens, the decoder strips the text's first
space, and every encoding starts with BOS. No training code reads it; the fidelity tests check
that SFT, RL and evaluation feed it identical token sequences too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from transformers import PreTrainedTokenizerFast

from stepcoder_lib.paths import artifacts_dir

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<s>", "</s>")
_STDLIB_MODULES = (  # a fixed, varied slice of the standard library: code, docstrings, comments
    "argparse", "ast", "bisect", "calendar", "collections/__init__", "csv", "dataclasses", "difflib",
    "fractions", "functools", "heapq", "inspect", "json/decoder", "json/encoder", "pprint", "random",
    "shlex", "statistics", "string", "textwrap", "tokenize",
)


def _wrap(tok: object) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", model_max_length=4096,
        clean_up_tokenization_spaces=False,
    )


def train_code_tokenizer(texts: Iterable[str], vocab_size: int = 4096, save_dir: str | Path | None = None,
                         min_frequency: int = 2, pretokenize: bool = True,
                         split_digits: bool = False) -> PreTrainedTokenizerFast:
    """Train a deterministic byte-level BPE on ``texts``; save it (HF format) to ``save_dir`` if given."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=pretokenize)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        special_tokens=list(SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = _wrap(tok)
    if save_dir is not None:
        fast.save_pretrained(str(save_dir))
    return fast


def sentencepiece_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A LLaMA-2-style tokenizer trained on ``texts``: metaspace BPE with byte fallback, BOS added to every text."""
    import json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=list(SPECIAL_TOKENS))
    tok.train_from_iterator(list(texts), trainer=trainer)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    for b in range(256):  # the byte tokens LLaMA falls back to for characters outside the vocabulary
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    spec["model"]["byte_fallback"] = True
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    bos = ("<s>", tok.token_to_id("<s>"))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[bos])
    return _wrap(tok)


def stdlib_corpus(max_chars: int = 1_500_000, modules: Sequence[str] = _STDLIB_MODULES) -> list[str]:
    """Sources of a fixed list of stdlib modules (present on every CPython install, no network)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts, total = [], 0
    for name in modules:
        path = root / f"{name}.py"
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")[: max_chars - total]
        texts.append(text)
        total += len(text)
        if total >= max_chars:
            break
    if not texts:
        raise FileNotFoundError(f"no stdlib sources found under {root}")
    return texts


@functools.lru_cache(maxsize=4)
def tiny_tokenizer(vocab_size: int = 4096, pretokenize: bool = True,
                   cache_dir: str | None = None) -> PreTrainedTokenizerFast:
    """The tiny profile's tokenizer: trained once on ``stdlib_corpus()``, cached under artifacts/tokenizer/."""
    corpus = stdlib_corpus()
    digest = hashlib.sha256("\0".join(corpus).encode()).hexdigest()[:12]
    key = f"bpe{vocab_size}{'' if pretokenize else '-unsplit'}-py{sys.version_info[0]}{sys.version_info[1]}-{digest}"
    target = Path(cache_dir) if cache_dir else artifacts_dir() / "tokenizer"
    path = target / key
    if (path / "tokenizer.json").exists():
        return PreTrainedTokenizerFast.from_pretrained(str(path))
    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target))  # atomic publish: concurrent trainers race safely
    fast = train_code_tokenizer(corpus, vocab_size=vocab_size, save_dir=tmp, pretokenize=pretokenize)
    try:
        os.rename(tmp, path)
    except OSError:  # another process published first; theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return fast
