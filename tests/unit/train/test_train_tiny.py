"""`vulnsight train` end to end on tiny models built from a config."""

from __future__ import annotations

import json

from vulnsight.llm.prompt import PROMPT_VERSION
from vulnsight.train.config import TrainConfig
from vulnsight.train.run import run_training


def test_lora_training_writes_a_model_directory_and_resumes(tiny_base, tiny_data, tmp_path):
    out = tmp_path / "model"
    config = TrainConfig(
        base=str(tiny_base),
        data=(tiny_data,),
        out=out,
        epochs=1.0,
        rank=4,
        alpha=8,
        max_length=512,
        grad_accum=2,
        eval_every=2,
        dev_fraction=0.34,
        seed=0,
        precision="fp32",
    )
    events: list[tuple[str, dict]] = []
    run_training(config, lambda kind, payload: events.append((kind, payload)))

    manifest = json.loads((out / "vulnsight-model.json").read_text())
    assert manifest["prompt_version"] == PROMPT_VERSION
    assert 0.0 <= manifest["threshold"] <= 1.0
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "adapter" / "adapter_config.json").is_file()
    card = (out / "MODEL_CARD.md").read_text()
    assert "LoRA on full-precision" in card and "| unit |" in card
    history = json.loads((out / "history.json").read_text())
    assert history and all("auc" in h for h in history)
    steps = [p["step"] for k, p in events if k == "step"]
    assert steps == list(range(1, len(steps) + 1))
    kinds = {k for k, _ in events}
    assert {"loaded", "data", "eval", "saved", "stopped", "written"} <= kinds

    # Drift: continue from the adapter on (new) records; dev is evaluated before training.
    again = tmp_path / "model2"
    config2 = TrainConfig(
        base=str(tiny_base),
        data=(tiny_data,),
        out=again,
        rank=4,
        alpha=8,
        max_length=512,
        grad_accum=2,
        eval_every=2,
        dev_fraction=0.34,
        resume=out,
        precision="bf16",
    )
    events2: list[tuple[str, dict]] = []
    run_training(config2, lambda kind, payload: events2.append((kind, payload)))
    assert events2[[k for k, _ in events2].index("eval")][1]["step"] == 0
    assert (again / "adapter" / "adapter_model.safetensors").is_file()
    assert "on a bf16 base" in (again / "MODEL_CARD.md").read_text()


def test_interrupted_training_resumes_from_its_checkpoint(tiny_base, tiny_data, tmp_path):
    out = tmp_path / "model"
    kw = dict(
        base=str(tiny_base),
        data=(tiny_data,),
        out=out,
        rank=4,
        alpha=8,
        max_length=512,
        grad_accum=2,
        eval_every=1,
        dev_fraction=0.34,
    )
    first = TrainConfig(**kw, max_minutes=0.0)  # stops after the first step
    run_training(first)
    saved = json.loads((out / "checkpoint" / "state.json").read_text())
    assert saved["step"] == 1
    events: list[tuple[str, dict]] = []
    run_training(TrainConfig(**kw), lambda k, p: events.append((k, p)))
    assert ("resumed", {"step": 1}) in events
    steps = [p["step"] for k, p in events if k == "step"]
    assert steps[0] == 2
