"""The evaluation cache: generations and verdicts stored under a key of everything that shapes them.

Why: generating and judging thousands of samples per model is the slow part of the results notebook;
re-rendering the table or a figure must not redo it, and a changed model, problem set, decoding or
executor setting must never reuse stale numbers. The key hashes

* the model's identity (``model_identity``: a hash of its weight and config files, or hub id + commit),
* the data (``problems_digest``: every problem's JSON form and the exact prompt it was given),
* the decoding settings (samples, temperature, top-p, greedy, max new tokens, seed, batch size),
* the prompt/program format's name, and the executor settings (limits, comparison, reward table).

Each entry is a folder ``<root>/<key>/`` holding ``meta.json`` (the key's parts, readable) and
``samples.jsonl`` (one line per generated sample with its verdict), published atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stepcoder_lib.data.problem import Problem
from stepcoder_lib.settings.paths import artifacts_dir

#: Bump when the meaning of a cached record changes (how programs are assembled, what is stored).
CACHE_VERSION = 1
_HASH_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    return artifacts_dir() / "eval_cache"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_HASH_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


_file_memo: dict[str, str] = {}
_MEMO_MIN_BYTES = 64 << 20  # files this large (model weights) are remembered on disk across processes


def _memo_path() -> Path:
    return default_cache_dir() / "file_digests.json"


def _file_digest(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime, inode).

    Why: re-rendering the results of a 6.7B model must not re-read 13 GB of weights per model, so large
    files' digests are also kept in ``eval_cache/file_digests.json`` (a changed file has a new key).
    """
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
    if key in _file_memo:
        return _file_memo[key]
    on_disk: dict[str, str] = {}
    if st.st_size >= _MEMO_MIN_BYTES and _memo_path().is_file():
        try:
            on_disk = json.loads(_memo_path().read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):  # a damaged memo only costs a re-hash
            on_disk = {}
    digest = on_disk.get(key) or _sha256_file(path)
    _file_memo[key] = digest
    if st.st_size >= _MEMO_MIN_BYTES and key not in on_disk:
        on_disk[key] = digest
        _memo_path().parent.mkdir(parents=True, exist_ok=True)
        tmp = _memo_path().with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(on_disk, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(tmp, _memo_path())
    return digest


def _hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit of a hub model in the local HF cache (no network), None when it is not cached."""
    try:
        from huggingface_hub import (
            snapshot_download,  # lazy: importing this module needs no huggingface_hub
        )

        path = snapshot_download(repo_id, revision=revision, local_files_only=True)
        return Path(path).name
    except (OSError, ValueError):  # not in the local cache (LocalEntryNotFoundError) or not a valid hub id
        return None


def model_identity(source: str | Path, revision: str | None = None) -> str:
    """A string that changes whenever the model's weights could differ.

    A local folder: sha256 over every (relative name, file hash) in it, hidden files excepted.
    Anything else is a hub id: ``hub:<id>@<commit>`` from the local HF cache, else ``@<revision or main>``.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        h = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise FileNotFoundError(f"model folder {path} holds no files")
        for f in files:
            h.update(f"{f.relative_to(path).as_posix()}\0{_file_digest(f)}\n".encode())
        return "files:" + h.hexdigest()
    if path.is_file():
        return "file:" + _file_digest(path)
    commit = _hub_commit(str(source), revision)
    return f"hub:{source}@{commit or revision or 'main'}"


def state_dict_identity(model: Any) -> str:
    """Identity of an in-memory model (built in this process, no files to hash): its parameters' bytes."""
    import torch  # lazy: importing this module needs no torch

    h = hashlib.sha256()
    h.update(type(model).__name__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}\0{tuple(t.shape)}\0{t.dtype}\n".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return "params:" + h.hexdigest()


def problems_digest(problems: Sequence[Problem], prompts: Sequence[str]) -> str:
    """sha256 over every problem's JSON form and its prompt, in order (the data part of the key)."""
    if len(problems) != len(prompts):
        raise ValueError(f"{len(problems)} problems but {len(prompts)} prompts")
    h = hashlib.sha256()
    for problem, prompt in zip(problems, prompts):
        record = problem.to_dict() if hasattr(problem, "to_dict") else problem
        h.update(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\0" + prompt.encode() + b"\n")
    return h.hexdigest()


def executor_settings(config: Any) -> dict[str, Any]:
    """The executor settings that can change a verdict (the worker count cannot)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        settings = dataclasses.asdict(config)
    else:
        settings = dict(config)
    settings.pop("workers", None)
    return settings


def cache_key(parts: Mapping[str, Any]) -> str:
    """sha256 (24 hex digits) of the key's parts as canonical JSON."""
    blob = json.dumps({"cache_version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class EvalCache:
    """Folder-per-key store of evaluation samples; ``get`` returns None on a miss."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def path(self, key: str) -> Path:
        return self.root / key

    def __contains__(self, key: str) -> bool:
        return (self.path(key) / "samples.jsonl").is_file() and (self.path(key) / "meta.json").is_file()

    def get(self, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(meta, sample records) for ``key``, or None when it was never stored."""
        if key not in self:
            return None
        folder = self.path(key)
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        with open(folder / "samples.jsonl", encoding="utf-8") as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        return meta, records

    def put(self, key: str, parts: Mapping[str, Any], records: Iterable[Mapping[str, Any]],
            extra: Mapping[str, Any] | None = None) -> Path:
        """Store an entry; written to a temporary folder and renamed, so a crash never leaves half an entry."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
        records = list(records)
        meta = {"key": key, "cache_version": CACHE_VERSION, "parts": dict(parts), "n_records": len(records),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **dict(extra or {})}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n",
                                       encoding="utf-8")
        with open(tmp / "samples.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(rec, sort_keys=True, ensure_ascii=False, default=str) + "\n" for rec in records)
        target = self.path(key)
        if target.exists():  # an older copy (same key: same content); replace it
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:  # another process published the same key first
            shutil.rmtree(tmp, ignore_errors=True)
        return target
