"""The detector contract: a batch of parsed files in, findings and errors out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vulnsight.types import Finding, Function, ScanError, SourceFile

if TYPE_CHECKING:
    from vulnsight.dataflow import FlowResult
    from vulnsight.parse.callgraph import CallGraph

#: Called with the number of units just finished, for progress bars.
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ScanBatch:
    """What detectors see: the files of one scan, their functions and the call graph.

    `root` is the directory file paths are relative to; `files` hold those relative
    paths, so `root / file.path` is the file on disk. `changed` says the functions were
    selected as changed code (`--diff`); `rule_hits`, when set, returns the rules
    detector's findings (waiting for them), for the model gate. `flow`, when set, returns
    the data-flow analysis of every parsed function (run once, on the first call; with
    `changed`, of the context functions too): the flow detector's findings and the
    per-function facts the model's gate, prompt and verdict cache read.
    """

    root: Path
    files: tuple[SourceFile, ...]
    functions: tuple[Function, ...]
    graph: CallGraph
    changed: bool = False
    rule_hits: Callable[[], Sequence[Finding]] | None = None
    flow: Callable[[], FlowResult] | None = None


@dataclass(frozen=True)
class DetectorResult:
    """Findings plus what went wrong, and per-function model scores for hybrid merging."""

    findings: tuple[Finding, ...] = ()
    errors: tuple[ScanError, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    stats: dict[str, float | int | str] = field(default_factory=dict)
    timings_ms: tuple[float, ...] = ()


class Detector(Protocol):
    """Anything that finds weaknesses in a batch of files."""

    name: str

    def detect_all(self, batch: ScanBatch, progress: Progress | None = None) -> DetectorResult:
        """Run over the whole batch (detectors batch internally)."""
        ...

    def units(self, batch: ScanBatch) -> int:
        """How many progress units `detect_all` will report for this batch."""
        ...
