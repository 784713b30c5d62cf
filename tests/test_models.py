"""Profiles' model/SFT values, the tiny base model, loading local and hub models, the dry-run plan, SFT."""

from __future__ import annotations

import json

import pytest
import torch

from stepcoder_lib.cache import is_built
from stepcoder_lib.generation import sample_completions
from stepcoder_lib.models import ModelUnavailable, build_tiny_model, load_policy, plan, tiny_key
from stepcoder_lib.profiles import PAPER_PROMPT, get_profile
from stepcoder_lib.prompts import build_prompt
from stepcoder_lib.sft import LOG_FILE, SFTRunConfig, make_sft_trainer, sft_log, train_sft
from stepcoder_lib.synthetic import generate_problems, to_problem

DIGEST_PROMPT_TAIL = "### Instruction:\nwrite an algorithm in python:\n{task}\n### Response:"


@pytest.fixture()
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


@pytest.fixture(scope="module")
def smoke_base(tmp_path_factory):
    """The smoke profile's tiny base model, built once for this module in its own artifacts folder."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("smoke_artifacts")
    mp.setenv("STEPCODER_ARTIFACTS", str(folder))
    try:
        yield build_tiny_model(get_profile("smoke"), progress=False), folder
    finally:
        mp.undo()


# ----------------------------------------------------------------------------- profile values
def test_paper_profile_has_the_digest_values() -> None:
    paper = get_profile("paper")
    assert (paper.sft.learning_rate, paper.sft.epochs, paper.sft.warmup_epochs) == (2e-5, 3.0, 0.3)
    assert paper.sft.scheduler == "linear" and paper.sft.batch_size == 64
    assert paper.model.base == "deepseek-ai/deepseek-coder-6.7b-instruct"
    assert paper.model.prompt_template == PAPER_PROMPT
    assert PAPER_PROMPT.startswith("You are an AI programming assistant, utilizing the DeepSeek Coder model")
    assert DIGEST_PROMPT_TAIL in PAPER_PROMPT
    args = SFTRunConfig.from_profile(paper, base_model="unused").trainer_args("/tmp/unused", progress=False)
    assert args.learning_rate == 2e-5 and args.num_train_epochs == 3.0
    assert args.lr_scheduler_type == "linear" and args.get_warmup_steps(1000) == 100  # 0.3 epoch of 3
    assert args.completion_only_loss is True


def test_unknown_profile_keys_are_rejected_by_name() -> None:
    with pytest.raises(KeyError, match="sft.lr"):
        get_profile("tiny", {"sft.lr": 1e-3})
    with pytest.raises(KeyError, match="model.tiny.hidden"):
        get_profile("tiny", {"model.tiny.hidden": 64})
    assert get_profile("tiny", {"model.tiny.hidden_size": 64}).model.tiny.hidden_size == 64


def test_prompt_is_built_in_one_place() -> None:
    record = next(r for r in generate_problems(n_train=12, n_test=0, seed=0, defect_rate=0.0) if r["starter_code"])
    problem = to_problem(record)
    tiny, paper = get_profile("tiny"), get_profile("paper")
    prompt = build_prompt(problem, tiny)
    assert prompt.startswith("### Instruction:\nwrite an algorithm in python:\n" + problem.statement.rstrip())
    assert problem.starter_code.rstrip() in prompt and prompt.endswith("### Response:\n")
    assert build_prompt(problem, paper).startswith("You are an AI programming assistant")
    assert build_prompt(problem, tiny, prefix="def f(") == prompt + "def f("


# ----------------------------------------------------------------------------- the tiny model
def test_tiny_model_is_built_cached_and_loads_like_a_hub_model(smoke_base) -> None:
    path, folder = smoke_base
    profile = get_profile("smoke")
    assert path.parent == folder / "models" and path.name == tiny_key(profile) and is_built(path)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "pretrain_log.json"):
        assert (path / name).is_file(), name
    log = json.loads((path / "pretrain_log.json").read_text())
    losses = [r["loss"] for r in log["log_history"] if "loss" in r]
    assert len(losses) >= 2 and losses[-1] < losses[0]  # it learned something
    model, tok = load_policy(path, profile)
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.hidden_size == 64
    assert len(tok) == profile.model.tiny.vocab_size and tok.eos_token_id == model.config.eos_token_id


def test_pretraining_keeps_each_problem_document_whole(smoke_base) -> None:
    from stepcoder_lib.models import pretraining_examples, problem_documents

    _, tok = load_policy(smoke_base[0])
    profile = get_profile("smoke", {"model.tiny.stdlib_share": 0.25, "model.tiny.pretrain_seq_len": 4096})
    problems = [to_problem(r) for r in generate_problems(n_train=10, n_test=0, seed=0, defect_rate=0.0)]
    docs = [tok(d, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            for d in problem_documents(problems, profile)]
    examples = pretraining_examples(problems, profile, tok, 40, seed=0)
    assert len(examples) == 40 and examples == pretraining_examples(problems, profile, tok, 40, seed=0)
    from_problems = [e for e in examples if e in docs]
    assert len(from_problems) == 30  # 75%: whole documents, prompt through EOS, every one of them at least twice
    assert all(from_problems.count(d) >= 2 for d in docs)
    others = [e for e in examples if e not in docs]
    assert len(others) == 10 and all(tok.eos_token_id not in e for e in others)  # stdlib chunks


def test_tiny_key_follows_its_inputs() -> None:
    smoke = get_profile("smoke")
    assert tiny_key(smoke) == tiny_key(get_profile("smoke", {"rl.steps": 9}))
    assert tiny_key(smoke) != tiny_key(get_profile("smoke", {"model.tiny.pretrain_steps": 21}))
    assert tiny_key(smoke) != tiny_key(get_profile("smoke", {"data.max_train_problems": 10}))


def test_cached_model_is_not_rebuilt(smoke_base, monkeypatch) -> None:
    path, folder = smoke_base
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(folder))
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(get_profile("smoke"), progress=False) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp


# ----------------------------------------------------------------------------- loading
def test_unreachable_hub_model_fails_with_one_sentence(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without the hub, whatever this one has
    with pytest.raises(ModelUnavailable, match=r"no-such-org/no-such-model.*unreachable") as err:
        load_policy("no-such-org/no-such-model", get_profile("small"))
    assert "\n" not in str(err.value) and "set model.base" in str(err.value)
    with pytest.raises(ModelUnavailable, match="does not exist"):
        load_policy("./no/such/model/folder")


def test_locally_saved_model_of_another_family_loads_the_same_way(tmp_path, smoke_base) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    _, tok = load_policy(smoke_base[0])
    torch.manual_seed(0)
    qwen = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=256, eos_token_id=tok.eos_token_id))
    qwen.save_pretrained(tmp_path / "qwen")
    tok.save_pretrained(tmp_path / "qwen")
    model, tok2 = load_policy(tmp_path / "qwen", get_profile("small", {"model.dtype": "float32"}))
    assert type(model).__name__ == "Qwen2ForCausalLM"
    out = sample_completions(model, tok2, ["def f(x):\n"], n=2, greedy=True, max_new_tokens=6)
    enc = tok2(["def f(x):\n"], return_tensors="pt", add_special_tokens=False)
    ref = model.generate(**enc, do_sample=False, max_new_tokens=6, pad_token_id=tok2.pad_token_id)
    assert list(out[0][0].token_ids) == ref[0, enc["input_ids"].shape[1]:].tolist()[: len(out[0][0].token_ids)]
    small = get_profile("small", {"model.base": str(tmp_path / "qwen")})
    frame = plan(small).set_index("item")
    assert frame.loc["parameters", "note"].startswith("exact (local config.json")


def test_dry_run_plan_for_paper_needs_no_weights(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    frame = plan("paper").set_index("item")
    assert frame.loc["base", "value"] == "deepseek-ai/deepseek-coder-6.7b-instruct"
    assert frame.loc["parameters", "value"] == "6,740.0 M"
    weights_gib = 6.74e9 * 2 / 1024 ** 3
    assert float(frame.loc["reference (frozen)", "value"].split()[0]) == pytest.approx(weights_gib, abs=0.01)
    ppo_total = float(frame.loc["PPO total per GPU (excl. activations)", "value"].split()[0])
    assert ppo_total == pytest.approx(weights_gib + 2 * 6.74e9 * 16 / 1024 ** 3, abs=0.05)  # fp32 master x 2 + ref
    assert "no sharding" in frame.loc["PPO total per GPU (excl. activations)", "note"]
    assert frame.loc["global batch size", "value"] == 64 and frame.loc["rollouts per step", "value"] == 64 * 16
    assert "lr 2e-05" in frame.loc["optimisation steps", "note"]
    with pytest.raises(KeyError, match="unknown profile"):
        plan("huge")


# ----------------------------------------------------------------------------- SFT
def test_sft_trains_on_the_completion_only(smoke_base, monkeypatch) -> None:
    path, folder = smoke_base
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(folder))
    profile = get_profile("smoke")
    run = SFTRunConfig.from_profile(profile, base_model=str(path), max_steps=2)
    problems = [to_problem(r) for r in generate_problems(n_train=6, n_test=0, seed=0, defect_rate=0.0)]
    trainer = make_sft_trainer(profile, run, folder / "unused", problems=problems, progress=False)
    tok = trainer.processing_class
    assert len(trainer.train_dataset) == len(problems)
    for example, problem in zip(trainer.train_dataset, problems, strict=True):
        prompt_ids = tok(build_prompt(problem, profile), add_special_tokens=False)["input_ids"]
        labels, ids = example["labels"], example["input_ids"]
        assert ids[: len(prompt_ids)] == prompt_ids
        assert all(label == -100 for label in labels[: len(prompt_ids)])  # the prompt carries no loss
        completion = labels[len(prompt_ids):]
        assert completion == ids[len(prompt_ids):] and completion[-1] == tok.eos_token_id  # solution + EOS do
        assert tok.decode(completion[:-1]) == problem.canonical_solution


def test_smoke_sft_runs_saves_and_is_cached(smoke_base, monkeypatch) -> None:
    _path, folder = smoke_base
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(folder))
    profile = get_profile("smoke")
    out = train_sft(profile, max_steps=3, progress=False)
    assert out.parent == folder / "sft" and is_built(out) and (out / LOG_FILE).is_file()
    log = sft_log(out)
    assert len(log) == 3 and log["loss"].notna().all() and (log["loss"] > 0).all()
    model, _tok = load_policy(out, profile)
    assert type(model).__name__ == "LlamaForCausalLM"
    before = json.loads((out / LOG_FILE).read_text())
    assert train_sft(profile, max_steps=3, progress=False) == out  # same inputs: skipped
    assert json.loads((out / LOG_FILE).read_text()) == before
    other = train_sft(profile, max_steps=2, progress=False)  # another input: another run
    assert other != out and len(sft_log(other)) == 2


def test_lora_sft_trains_adapters_and_saves_a_plain_model(smoke_base, monkeypatch) -> None:
    from stepcoder_lib.models import lora_config

    path, folder = smoke_base
    monkeypatch.setenv("STEPCODER_ARTIFACTS", str(folder))
    assert lora_config(get_profile("smoke")) is None and lora_config(get_profile("small")).r == 16
    profile = get_profile("smoke", {"model.lora_r": 4})
    run = SFTRunConfig.from_profile(profile, base_model=str(path), max_steps=1)
    trainer = make_sft_trainer(profile, run, folder / "unused-lora", progress=False)
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)  # only the adapters train
    out = train_sft(profile, max_steps=1, progress=False)
    model, _ = load_policy(out, profile)
    assert type(model).__name__ == "LlamaForCausalLM" and not any("lora_" in n for n, _ in model.named_parameters())
