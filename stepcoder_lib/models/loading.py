"""One loader for every model (the tiny one built here, a local folder, a hub id) and its compute precision.

    model, tokenizer = load_policy(path, profile)   # AutoModelForCausalLM / AutoTokenizer, pad token set
    with mixed_precision(profile.model.dtype):      # 16-bit compute over fp32 master weights
        ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stepcoder_lib.data.loaders import hub_reachable
from stepcoder_lib.settings.paths import repo_root


class ModelUnavailable(RuntimeError):
    """Model weights could not be reached; the message says what was tried and how to supply them locally."""



def mixed_precision(dtype_name: str, device: Any = "cpu") -> Any:
    """The compute context of a profile's ``model.dtype``: autocast to 16 bits over fp32 master weights.

    ``float32``: a no-op context. ``bfloat16``/``float16``: ``torch.autocast`` on the device's type,
    so matrix products run in 16 bits while the weights the optimiser updates stay fp32. At the
    paper's policy lr 5e-7 an AdamW step moves a weight by ~5e-7, below half a bf16 ulp of almost
    every weight: in pure bf16 about 1% of the weights would change at all.
    """
    import torch  # lazy: importing this module needs no torch

    dtype = _torch_dtype(dtype_name)
    kind = torch.device(device).type if not isinstance(device, torch.device) else device.type
    return torch.autocast(device_type=kind, dtype=dtype, enabled=dtype != torch.float32)


def _torch_dtype(name: str) -> Any:
    import torch  # lazy: importing this module needs no torch

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in dtypes:
        raise ValueError(f"model.dtype {name!r} is not one of {', '.join(dtypes)}")
    return dtypes[name]


def resolve_model_path(path_or_id: str | Path) -> tuple[str, bool]:
    """``(where, is_local)``: an existing folder (relative paths from the checkout) or a hub id."""
    text = str(path_or_id)
    path = Path(text).expanduser()
    for candidate in (path, repo_root() / path):
        if candidate.is_dir():
            return str(candidate), True
    return text, False


def load_policy(path_or_id: str | Path, profile: Any = None, *, dtype: str | None = None,
                device: str | None = None, trainable: bool = True) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a folder written by ``save_pretrained`` or a hub id, the same way for all.

    The dtype is ``dtype`` or the profile's ``model.dtype`` (float32 without a profile); a model
    loaded to be trained (``trainable``) is kept in float32 whatever that dtype is: its weights are
    the optimiser's master copy, and 16-bit compute comes from ``mixed_precision``. The
    tokenizer gets a pad token (its EOS when it has none: decoder-only models often ship without).
    An unreachable hub id raises ``ModelUnavailable`` at once, with one sentence, instead of
    transformers' retries and its long message.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer  # here: importing this module stays light

    where, local = resolve_model_path(path_or_id)
    dtype_name = "float32" if trainable else dtype or (profile.model.dtype if profile is not None else "float32")
    kwargs: dict[str, Any] = {"dtype": _torch_dtype(dtype_name)}
    looks_local = where.startswith((".", "/", "~")) or where.count("/") != 1
    if not local and looks_local:
        raise ModelUnavailable(f"Could not load model {where}: the local path does not exist (and it is not a hub id "
                               "owner/name); check model.base or build the model first.")
    online = local or hub_reachable()
    if not online:
        kwargs["local_files_only"] = True
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **({"local_files_only": True} if not online else {}))
        model = AutoModelForCausalLM.from_pretrained(where, **kwargs)
    except (OSError, ValueError) as exc:
        if local:
            raise ModelUnavailable(f"Could not load model from {where}: {str(exc).splitlines()[0][:200]}") from None
        why = ("the hub is unreachable and it is not in the local Hugging Face cache" if not online
               else str(exc).splitlines()[0][:200].rstrip(". "))
        raise ModelUnavailable(
            f"Could not load model {where}: tried the local path {Path(where).expanduser()} (it does not exist) and "
            f"the Hugging Face hub ({why}); download it where the hub is reachable (huggingface-cli download {where} "
            "--local-dir DIR) and set model.base to DIR.") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if device is not None:
        model.to(device)  # type: ignore[arg-type]  # transformers' stub types .to() for models only
    model.train(trainable)
    if not trainable:
        model.requires_grad_(False)
    return model, tokenizer


def lora_config(profile: Any) -> Any:
    """A peft ``LoraConfig`` when ``model.lora_r > 0`` (else None): pass it as a trainer's ``peft_config``."""
    if profile.model.lora_r <= 0:
        return None
    try:
        from peft import LoraConfig  # lazy: importing this module needs no peft
    except ImportError:
        raise ImportError("model.lora_r > 0 needs the 'peft' package (pinned in requirements.txt)") from None
    return LoraConfig(r=profile.model.lora_r, lora_alpha=2 * profile.model.lora_r, lora_dropout=0.05,
                      target_modules="all-linear", task_type="CAUSAL_LM")
