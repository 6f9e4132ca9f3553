"""`vulnsight lsp`: the language server on stdin/stdout."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click


@click.command("lsp")
@click.option(
    "--detectors",
    default=None,
    help="Comma-separated: rules, llm (default: the project's configuration, else both).",
)
@click.option("--model", default=None, help="Model spec, as for `vulnsight scan --model`.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="vulnsight.toml or pyproject.toml (default: the nearest one to each file).",
)
@click.option("--no-cache", is_flag=True, help="Do not read the model's verdict cache.")
@click.option("--stdio", is_flag=True, hidden=True, help="Accepted for editors that pass it.")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    help="Write the server's log here (stdout carries the protocol).",
)
def lsp_command(
    detectors: str | None,
    model: str | None,
    config_file: Path | None,
    no_cache: bool,
    stdio: bool,
    log_file: Path | None,
) -> None:
    """Run the vulnsight language server over stdio (for editors).

    On open and on save a file is scanned from memory: rule hits are published at once,
    the local model's verdicts follow in the background and replace them.
    """
    try:
        from vulnsight.lsp.server import create_server
    except ImportError as exc:  # pragma: no cover - depends on the install
        click.echo(
            f"vulnsight: the language server needs pygls: pip install 'vulnsight[lsp]' ({exc})",
            err=True,
        )
        sys.exit(2)
    from vulnsight.config import DETECTORS, parse_detectors
    from vulnsight.errors import ConfigError
    from vulnsight.lsp.scanning import LspSettings

    if log_file is not None:
        logging.basicConfig(filename=log_file, level=logging.INFO)
    try:
        chosen = parse_detectors(detectors) if detectors else None
        if chosen is not None and not chosen:
            raise ConfigError(f"--detectors: choose from {', '.join(DETECTORS)}")
    except ConfigError as exc:
        click.echo(f"vulnsight: {exc}", err=True)
        sys.exit(2)
    settings = LspSettings(
        detectors=chosen,
        model=model,
        config_file=config_file,
        use_cache=not no_cache,
        workspace=Path.cwd(),
    )
    server = create_server(settings)
    try:
        server.start_io()
    finally:
        server.close()
    if server.judging:
        # `exit` was asked while the model was still judging a file: leave now rather
        # than wait for the worker thread at interpreter exit.
        sys.stdout.flush()
        os._exit(0)
