"""`vulnsight eval`: the command that builds the leaderboard.

It loads and samples records, runs each detector over snippet files in batch, saves the
per-sample predictions (resumable), and writes results.json, LEADERBOARD.md and plots.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from vulnsight.errors import ConfigError

DEFAULT_DETECTORS = "hybrid,rules,llm,flag-all,flag-none"
PERTURBATIONS_ALL = "rename,deadcode,comment,reformat,identifier,literal"


def _split(value: str) -> list[str]:
    """Comma-separated names; a spec's own commas are not supported (URLs have none)."""
    return [v.strip() for v in value.split(",") if v.strip()]


def build_adapters(specs: list[str], options: Any) -> list[Any]:
    """Adapters for `name` or `name:arg` specs (e.g. `llm:path/to/model-dir`)."""
    from vulnsight.bench.adapters import ADAPTERS

    adapters = []
    names: set[str] = set()
    for spec in specs:
        name, _, arg = spec.partition(":")
        adapter = ADAPTERS.get(name)(options, arg)
        if adapter.name in names:
            raise ConfigError(f"detector {adapter.name!r} given twice")
        names.add(adapter.name)
        adapters.append(adapter)
    return adapters


def _fingerprint(ids: list[str], settings: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps([ids, settings], sort_keys=True).encode())
    return h.hexdigest()[:16]


@click.command("eval")
@click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled JSONL file, .jsonl or .jsonl.gz (repeatable; shared/datasets schema).",
)
@click.option(
    "--detectors",
    default=DEFAULT_DETECTORS,
    show_default=True,
    help="Comma-separated: hybrid (the shipped scan: rules, model, data flow), rules, llm, "
    "llm:MODEL, llm+facts, rules+llm, flow, rules+flow, semgrep, bandit, flawfinder, "
    "cppcheck, njsscan, slither, openai:URL#MODEL, flag-all, flag-none, random.",
)
@click.option("--sample", type=int, default=None, help="Records per source (seeded; default all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval-results"),
    show_default=True,
    help="Output directory.",
)
@click.option("--perturb", default="", help=f"Perturbations to test ('all' = {PERTURBATIONS_ALL}).")
@click.option(
    "--perturb-sample",
    type=int,
    default=None,
    help="Perturb only this many records per source (seeded).",
)
@click.option(
    "--perturb-vulnerable",
    is_flag=True,
    help="Perturb only vulnerable records (an attacker's aim is evasion; halves model time).",
)
@click.option("--model", default=None, help="Model spec for llm/hybrid (see `vulnsight scan`).")
@click.option("--llm-threshold", type=float, default=None, help="P(vulnerable) to flag.")
@click.option("--include-reserved", is_flag=True, help="Do not drop the reserved projects.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Jobs for tools that take it.")
@click.option("--cpu-hour-price", type=float, default=None, help="USD per vCPU-hour.")
@click.option("--gpu-hour-price", type=float, default=None, help="USD per GPU-hour.")
@click.option("--token-price", default=None, help="USD per 1M tokens as IN,OUT (endpoints).")
@click.option("--fresh", is_flag=True, help="Discard saved predictions in --out and start over.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write PNG plots.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.")
@click.option(
    "--loso",
    is_flag=True,
    help="Leave-one-source-out: for each source, train the decision head, thresholds and "
    "combiner on the other sources and test on it (writes LOSO.md, loso.json).",
)
@click.option(
    "--loso-cap",
    type=float,
    default=0.02,
    show_default=True,
    help="--loso: most flags the combiner may add on clean training records (rate).",
)
@click.option(
    "--loso-budget",
    type=int,
    default=2048,
    show_default=True,
    help="--loso: token budget of a record's context for the base model.",
)
@click.option("--loso-threads", type=int, default=None, help="--loso: llama.cpp threads.")
@click.option("--loso-no-model", is_flag=True, help="--loso: rules and flow only (no model).")
@click.option(
    "--loso-extract/--loso-cached",
    default=True,
    show_default=True,
    help="--loso: compute missing model features, or use only those cached in --out "
    "(records without them are left out of every row).",
)
@click.option(
    "--loso-shipped",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="--loso: saved predictions of the shipped default, shown beside (not LOSO).",
)
def eval_command(
    data: tuple[Path, ...],
    detectors: str,
    sample: int | None,
    seed: int,
    out_dir: Path,
    perturb: str,
    perturb_sample: int | None,
    perturb_vulnerable: bool,
    model: str | None,
    llm_threshold: float | None,
    include_reserved: bool,
    jobs: int,
    cpu_hour_price: float | None,
    gpu_hour_price: float | None,
    token_price: str | None,
    fresh: bool,
    plots: bool,
    progress: bool | None,
    loso: bool,
    loso_cap: float,
    loso_budget: int,
    loso_threads: int | None,
    loso_no_model: bool,
    loso_extract: bool,
    loso_shipped: Path | None,
) -> None:
    """Evaluate detectors on labelled records: F1, MCC, pairs, lines, CWE, calibration,
    latency and cost per 1,000 reviews, robustness. Resumes from --out."""
    try:
        if loso:
            from vulnsight.bench.loso_command import run_loso

            run_loso(locals())
            return
        _eval(locals())
    except ConfigError as exc:
        click.echo(f"vulnsight: {exc}", err=True)
        sys.exit(2)


def _prices(args: dict[str, Any]) -> Any:
    from vulnsight.bench.cost import Prices

    kw: dict[str, float] = {}
    if args["cpu_hour_price"] is not None:
        kw["cpu_hour_usd"] = args["cpu_hour_price"]
    if args["gpu_hour_price"] is not None:
        kw["gpu_hour_usd"] = args["gpu_hour_price"]
    if args["token_price"]:
        try:
            t_in, _, t_out = args["token_price"].partition(",")
            kw["token_in_per_m"], kw["token_out_per_m"] = float(t_in), float(t_out or 0)
        except ValueError as exc:
            raise ConfigError("--token-price takes IN,OUT in USD per million tokens") from exc
    return Prices(**kw)


def _eval(args: dict[str, Any]) -> None:
    import random

    from vulnsight.bench.adapters.interface import AdapterOptions
    from vulnsight.bench.cost import PRICE_SOURCES
    from vulnsight.bench.perturb import PERTURBATIONS, perturb_all
    from vulnsight.bench.records import filter_reserved, load_records, sample_records
    from vulnsight.bench.report import detector_results, render_markdown
    from vulnsight.bench.runner import Runner

    out_dir: Path = args["out_dir"]
    records = load_records(list(args["data"]))
    dropped = 0
    if not args["include_reserved"]:
        records, dropped = filter_reserved(records)
    records = sample_records(records, args["sample"], args["seed"])
    if not records:
        raise ConfigError("no records to evaluate")
    perts = _split(PERTURBATIONS_ALL if args["perturb"] == "all" else args["perturb"])
    unknown = [p for p in perts if p not in PERTURBATIONS]
    if unknown:
        raise ConfigError(f"unknown perturbation(s) {', '.join(unknown)}")
    options = AdapterOptions(
        model=args["model"], threshold=args["llm_threshold"], jobs=args["jobs"]
    )
    specs = _split(args["detectors"])
    adapters = build_adapters(specs, options)
    prices = _prices(args)
    config: dict[str, Any] = {
        "command": "vulnsight eval " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "",
        "data": [str(p) for p in args["data"]],
        "detectors": specs,
        "sample": args["sample"],
        "seed": args["seed"],
        "perturb": perts,
        "perturb_sample": args["perturb_sample"],
        "perturb_vulnerable": args["perturb_vulnerable"],
        "model": args["model"],
        "llm_threshold": args["llm_threshold"],
        "include_reserved": args["include_reserved"],
        "reserved_dropped": dropped,
        "prices": asdict(prices),
        "price_sources": PRICE_SOURCES,
    }
    ids = [r.id for r in records]
    config["fingerprint"] = _fingerprint(
        ids,
        {
            k: config[k]
            for k in ("model", "llm_threshold", "perturb", "perturb_sample", "perturb_vulnerable")
            if k != "perturb_vulnerable" or config[k]  # older results keep their fingerprint
        },
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = out_dir / "config.json"
    if args["fresh"]:
        for name in ("predictions.jsonl", "usage.jsonl"):
            (out_dir / name).unlink(missing_ok=True)
    elif saved.is_file() and (out_dir / "usage.jsonl").is_file():
        old = json.loads(saved.read_text("utf-8")).get("fingerprint")
        if old != config["fingerprint"]:
            raise ConfigError(
                f"{out_dir} holds predictions of a different sample or settings; "
                "use --fresh or another --out"
            )
    saved.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (out_dir / "sample_ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")

    variants: dict[str, dict[str, str]] = {}
    if perts:
        chosen = [r for r in records if r.label == 1] if args["perturb_vulnerable"] else records
        if args["perturb_sample"] is not None:
            rng = random.Random(args["seed"])
            by_source: dict[str, list[Any]] = {}
            for r in chosen:
                by_source.setdefault(r.source, []).append(r)
            chosen = [
                r
                for src in sorted(by_source)
                for r in rng.sample(
                    by_source[src], min(len(by_source[src]), args["perturb_sample"])
                )
            ]
        variants = {p: perturb_all(chosen, p) for p in perts}

    show = sys.stderr.isatty() if args["progress"] is None else args["progress"]
    from vulnsight.cli import _progress

    with _progress(bool(show)) as tick:
        outcome = Runner(out_dir, progress=tick).run(adapters, records, variants)
    results: dict[str, Any] = {
        "config": config,
        "records": len(records),
        "by_source": _counts(records, "source"),
        "by_language": _counts(records, "language"),
        "unavailable": outcome.unavailable,
        "detectors": [
            detector_results(
                a.name, a.kind, a.compute, records, outcome, prices, getattr(a, "model_name", None)
            )
            for a in adapters
            if a.name not in outcome.unavailable
        ],
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    board = render_markdown(results)
    (out_dir / "LEADERBOARD.md").write_text(board, encoding="utf-8")
    click.echo(board)
    if args["plots"]:
        try:
            from vulnsight.bench.plots import write_plots

            write_plots(results, out_dir / "plots")
        except ImportError:
            click.echo("vulnsight: plots skipped: pip install 'vulnsight[eval]'", err=True)


def _counts(records: list[Any], attr: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in records:
        slot = out.setdefault(getattr(r, attr), {"vulnerable": 0, "clean": 0})
        slot["vulnerable" if r.label else "clean"] += 1
    return dict(sorted(out.items()))
