"""Output formats: each turns a `Report` into a string; only the CLI writes files."""

from __future__ import annotations

from collections.abc import Callable

from vulnsight.registry import Registry
from vulnsight.types import Report

FORMATS: Registry[Callable[[Report], str]] = Registry("output format")
FORMATS.register("text", "vulnsight.output.text:render")
FORMATS.register("json", "vulnsight.output.json_format:render")
FORMATS.register("sarif", "vulnsight.output.sarif:render")
