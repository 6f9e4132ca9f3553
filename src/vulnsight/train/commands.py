"""`vulnsight train`: the CLI face of `run_training` (prints progress, exits)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vulnsight.errors import VulnsightError
from vulnsight.train.config import CHECKPOINTING, PRECISIONS, TrainConfig, help_of


@click.command("train")
@click.option(
    "--method",
    type=click.Choice(["lora", "head"]),
    default="lora",
    show_default=True,
    help="lora: fine-tune LoRA adapters (QLoRA on CUDA); head: fit a decision head "
    "over a frozen GGUF model with llama.cpp (fast on CPU).",
)
@click.option("--base", default="default", show_default=True, help=help_of("base"))
@click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help=help_of("data"),
)
@click.option(
    "--dev-data",
    "dev_data",
    multiple=True,
    type=click.Path(path_type=Path),
    help=help_of("dev_data"),
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="auto",
    show_default=True,
    help=help_of("precision"),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("vulnsight-model"),
    show_default=True,
    help=help_of("out"),
)
@click.option("--epochs", type=float, default=1.0, show_default=True, help=help_of("epochs"))
@click.option("--lr", type=float, default=2e-4, show_default=True, help=help_of("lr"))
@click.option("--rank", type=int, default=16, show_default=True, help=help_of("rank"))
@click.option("--alpha", type=int, default=32, show_default=True, help=help_of("alpha"))
@click.option("--max-length", type=int, default=8192, show_default=True, help=help_of("max_length"))
@click.option("--batch-size", type=int, default=None, help=help_of("batch_size"))
@click.option("--grad-accum", type=int, default=None, help=help_of("grad_accum"))
@click.option(
    "--grad-checkpointing",
    type=click.Choice(CHECKPOINTING),
    default="auto",
    show_default=True,
    help=help_of("grad_checkpointing"),
)
@click.option(
    "--base-gguf", type=click.Path(path_type=Path), default=None, help=help_of("base_gguf")
)
@click.option("--eval-every", type=int, default=50, show_default=True, help=help_of("eval_every"))
@click.option(
    "--dev-fraction", type=float, default=0.15, show_default=True, help=help_of("dev_fraction")
)
@click.option("--max-dev", type=int, default=300, show_default=True, help=help_of("max_dev"))
@click.option("--max-train", type=int, default=None, help=help_of("max_train"))
@click.option("--max-minutes", type=float, default=None, help=help_of("max_minutes"))
@click.option("--seed", type=int, default=0, show_default=True, help=help_of("seed"))
@click.option("--resume", type=click.Path(path_type=Path), default=None, help=help_of("resume"))
def train_command(**kwargs: Any) -> None:
    """Fine-tune a base model (QLoRA on CUDA, LoRA on CPU) into a scanner model directory.

    The result loads with `vulnsight scan --model OUT` and runs as trained: GGUF bases
    on llama.cpp, Hugging Face bases on the transformers backend.
    """
    from vulnsight.train.head_run import run_head_training
    from vulnsight.train.run import run_training

    method = kwargs.pop("method")
    kwargs["data"] = tuple(kwargs["data"])
    kwargs["dev_data"] = tuple(kwargs["dev_data"])
    try:
        config = TrainConfig(**kwargs)
    except VulnsightError as exc:
        click.echo(f"vulnsight: {exc}", err=True)
        sys.exit(2)

    def on_event(kind: str, payload: dict[str, Any]) -> None:
        if kind == "step":
            if payload["step"] % 10 == 0 or payload["step"] == payload["of"]:
                click.echo(
                    f"step {payload['step']}/{payload['of']}  loss {payload['loss']:.4f}", err=True
                )
        elif kind == "eval":
            best = payload.get("at_threshold", {})
            click.echo(
                f"dev @ step {payload['step']}: AUC {payload.get('auc')}, "
                f"J {best.get('youden_j')} at threshold {payload.get('threshold')}, "
                f"F1 {best.get('f1')}",
                err=True,
            )
        elif kind == "plan":
            click.echo(payload["note"], err=True)
        elif kind == "loaded":
            click.echo(f"{payload['note']} (loaded in {payload['seconds']} s)", err=True)
        elif kind == "data":
            click.echo(f"examples: {payload}", err=True)
        elif kind == "features" and (
            payload["done"] % 500 == 0 or payload["done"] >= payload["of"]
        ):
            click.echo(f"features {payload['done']}/{payload['of']}", err=True)
        elif kind in ("resumed", "stopped", "written", "val"):
            click.echo(f"{kind}: {payload}", err=True)

    try:
        runner = run_head_training if method == "head" else run_training
        out = runner(config, on_event)
    except VulnsightError as exc:
        click.echo(f"vulnsight: error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"model written to {out}; scan with: vulnsight scan --model {out} PATH")
