"""Shared loader plumbing: reaching the Hugging Face hub without hanging, and where real data lives.

The hub is often unreachable (no network, a firewall). ``datasets`` then retries for ~25 s
before failing with a long message; we probe the endpoint first (a 3 s TCP connect) and, when it
cannot be reached, ask ``datasets`` for its local cache only, so the failure is fast and is one
sentence (``DataUnavailable``) saying what was tried and how to supply the data locally.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from stepcoder_lib.data.problem import DataUnavailable
from stepcoder_lib.settings.paths import realdata_dir, repo_root  # noqa: F401  (re-exported by stepcoder_lib.data)

_PROBE: dict[str, bool] = {}


def _hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether a TCP connection to the hub endpoint opens within ``timeout_s`` (cached per process)."""
    if os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}:
        return False
    endpoint = _hub_endpoint()
    if endpoint not in _PROBE:
        url = urlparse(endpoint)
        host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                _PROBE[endpoint] = True
        except OSError:
            _PROBE[endpoint] = False
    return _PROBE[endpoint]


@contextlib.contextmanager
def _offline_mode() -> Iterator[None]:
    """Make ``datasets``/``huggingface_hub`` use their local cache only, for the duration."""
    import datasets.config  # lazy: importing this module needs no datasets
    import huggingface_hub.constants as hc  # lazy: importing this module needs no huggingface_hub

    saved = (datasets.config.HF_HUB_OFFLINE, hc.HF_HUB_OFFLINE)
    datasets.config.HF_HUB_OFFLINE = True
    hc.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hc.HF_HUB_OFFLINE = saved


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else type(exc).__name__
    return msg[:200].rstrip(". ")


def load_hub_dataset(what: str, local_hint: str, *args: Any, hub_target: str | None = None,
                     also_tried: str = "", **kwargs: Any) -> Any:
    """``datasets.load_dataset(*args, **kwargs)``, failing fast with one sentence when it cannot.

    ``what`` names the data (e.g. "MBPP") and ``local_hint`` says how to supply it locally
    (e.g. "pass path=/path/to/mbpp.jsonl"); both go into the ``DataUnavailable`` message, with
    ``hub_target`` (default: the dataset id) and ``also_tried`` (e.g. "the local path x (absent) and").
    """
    target = hub_target or (args[0] if args else kwargs.get("path"))
    try:
        import datasets  # lazy: importing this module needs no datasets
    except ImportError:
        raise DataUnavailable(
            f"Could not load {what}: the hub loader needs the 'datasets' package, which is not installed; {local_hint}."
        ) from None
    online = hub_reachable()
    try:
        if online:
            return datasets.load_dataset(*args, **kwargs)
        with _offline_mode():
            return datasets.load_dataset(*args, **kwargs)
    except Exception as exc:  # any failure of the hub path becomes one clear sentence
        why = "the hub is unreachable and it is not in the local cache" if not online else _first_line(exc)
        tried = f"{also_tried} " if also_tried else ""
        raise DataUnavailable(
            f"Could not load {what}: tried {tried}the Hugging Face hub dataset {target} ({why}); {local_hint}."
        ) from None


def missing_local(what: str, path: str | Path, local_hint: str) -> DataUnavailable:
    """The error for a local path that does not exist."""
    return DataUnavailable(f"Could not load {what}: tried the local path {path} (it does not exist); {local_hint}.")
