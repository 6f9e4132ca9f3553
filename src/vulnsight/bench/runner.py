"""Runs adapters over records, chunk by chunk, saving per-sample predictions as it goes.

Every chunk runs in a forked child process, so a crash of one tool (or the model) costs
one chunk, and its CPU seconds and peak memory are measured exactly (``wait4``: the
child and every process it waited for). Predictions of a chunk are appended to
``predictions.jsonl`` and then the chunk's line to ``usage.jsonl``; on resume, chunks
with a usage line are skipped and stray predictions of unfinished chunks are ignored.
An adapter with a `fingerprint()` (the code it runs) has it in its chunk keys, so a
resumed run never reuses predictions that other code made.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from vulnsight.bench.adapters.interface import Adapter, AdapterError, Batch, Prediction
from vulnsight.bench.records import Record, write_batch

#: progress(label, done, total), called after each chunk.
ProgressFn = Callable[[str, int, int], None]
ORIGINAL = "none"


@dataclass(frozen=True)
class ChunkUsage:
    """What one chunk of one detector cost."""

    detector: str
    perturbation: str
    chunk: str
    n: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None


@dataclass
class RunOutcome:
    """Predictions by (detector, perturbation) and record id, and what they cost."""

    predictions: dict[tuple[str, str], dict[str, Prediction]] = field(default_factory=dict)
    usage: list[ChunkUsage] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    not_scored: dict[str, dict[str, int]] = field(default_factory=dict)
    described: dict[str, dict[str, Any]] = field(default_factory=dict)


def chunk_key(records: Sequence[Record]) -> str:
    """A stable id for a chunk: the hash of its record ids."""
    h = hashlib.sha256("\n".join(sorted(r.id for r in records)).encode())
    return h.hexdigest()[:16]


def adapter_fingerprint(adapter: Adapter) -> str:
    """What the adapter's predictions depend on besides the records ("" when it says
    nothing): part of every chunk key, so changed code never resumes from old results."""
    method = getattr(adapter, "fingerprint", None)
    return str(method()) if callable(method) else ""


def eligible(adapter: Adapter, records: Sequence[Record]) -> tuple[list[Record], dict[str, int]]:
    """Records the adapter is scored on, and counts of the others by reason."""
    kept: list[Record] = []
    skipped: dict[str, int] = {}
    for r in records:
        if r.language not in adapter.languages:
            reason = f"language {r.language}"
        elif r.source in adapter.excluded_sources:
            reason = f"fitted to {r.source}"
        else:
            kept.append(r)
            continue
        skipped[reason] = skipped.get(reason, 0) + 1
    return kept, skipped


def _chunks(records: Sequence[Record], size: int) -> list[list[Record]]:
    if size <= 0 or len(records) <= size:
        return [list(records)] if records else []
    return [list(records[i : i + size]) for i in range(0, len(records), size)]


def _in_child(
    adapter: Adapter, batch: Batch, records: Sequence[Record]
) -> tuple[list[Prediction], str | None, float, float]:
    """Run `adapter.run` in a forked child; returns predictions, error, CPU s, peak MB."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        try:
            payload: tuple[str, Any] = ("ok", adapter.run(batch, records))
        except AdapterError as exc:
            payload = ("error", str(exc))
        except BaseException as exc:  # noqa: BLE001 - everything must reach the parent
            payload = ("error", f"{type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(payload)
        except Exception as exc:  # noqa: BLE001
            data = pickle.dumps(("error", f"unpicklable result: {exc}"))
        with os.fdopen(write_fd, "wb") as fh:
            fh.write(data)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    _, status, usage = os.wait4(pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    if not data:
        reason = (
            f"killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exited {os.WEXITSTATUS(status)} without a result"
        )
        return [], reason, cpu, peak
    kind, value = pickle.loads(data)
    if kind == "error":
        return [], str(value), cpu, peak
    return list(value), None, cpu, peak


def _inline(
    adapter: Adapter, batch: Batch, records: Sequence[Record]
) -> tuple[list[Prediction], str | None, float, float]:
    """Run in this process (tests, or where fork is unavailable); CPU from this process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        preds, err = adapter.run(batch, records), None
    except AdapterError as exc:
        preds, err = [], str(exc)
    after = resource.getrusage(resource.RUSAGE_SELF)
    kids_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) + (
        kids_after.ru_utime + kids_after.ru_stime - kids.ru_utime - kids.ru_stime
    )
    return preds, err, cpu, max(after.ru_maxrss, kids_after.ru_maxrss) / 1024


class Runner:
    """Runs each adapter over its eligible records (and their perturbed variants)."""

    def __init__(
        self,
        out_dir: Path,
        progress: ProgressFn | None = None,
        isolate: bool = True,
    ) -> None:
        self.out_dir = out_dir
        self.progress = progress
        self.isolate = isolate and hasattr(os, "fork")
        self.pred_path = out_dir / "predictions.jsonl"
        self.usage_path = out_dir / "usage.jsonl"

    def _load_done(self) -> tuple[dict[tuple[str, str, str], ChunkUsage], list[dict[str, Any]]]:
        done: dict[tuple[str, str, str], ChunkUsage] = {}
        if self.usage_path.is_file():
            for line in self.usage_path.read_text("utf-8").splitlines():
                if line.strip():
                    u = ChunkUsage(**json.loads(line))
                    done[(u.detector, u.perturbation, u.chunk)] = u
        preds: list[dict[str, Any]] = []
        if self.pred_path.is_file():
            for line in self.pred_path.read_text("utf-8").splitlines():
                if line.strip():
                    try:
                        preds.append(json.loads(line))
                    except json.JSONDecodeError:  # a line cut by an interrupted write
                        continue
        return done, preds

    def run(
        self,
        adapters: Sequence[Adapter],
        records: Sequence[Record],
        variants: Mapping[str, Mapping[str, str]] | None = None,
    ) -> RunOutcome:
        """Run everything not already done; `variants` maps a perturbation name to
        perturbed code by record id (records without an entry are not run for it)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        done, old = self._load_done()
        outcome = RunOutcome()
        for obj in old:
            triple = (obj["detector"], obj["perturbation"], obj["chunk"])
            if triple in done:
                pred = Prediction.from_json(obj)
                outcome.predictions.setdefault(triple[:2], {})[pred.record_id] = pred
        outcome.usage.extend(done.values())
        plans: list[tuple[Adapter, str, list[Record], Mapping[str, str] | None]] = []
        for adapter in adapters:
            reason = adapter.available()
            if reason is not None:
                outcome.unavailable[adapter.name] = reason
                continue
            kept, skipped = eligible(adapter, records)
            outcome.not_scored[adapter.name] = skipped
            plans.append((adapter, ORIGINAL, kept, None))
            for name, variant in (variants or {}).items():
                plans.append((adapter, name, [r for r in kept if r.id in variant], variant))
        for adapter, perturbation, kept, codes in plans:
            label = f"{adapter.name}" + ("" if perturbation == ORIGINAL else f" ({perturbation})")
            chunks = _chunks(kept, getattr(adapter, "chunk_size", 0))
            finished = 0
            fingerprint = adapter_fingerprint(adapter)
            for chunk in chunks:
                key = chunk_key(chunk) + (f"-{fingerprint}" if fingerprint else "")
                if (adapter.name, perturbation, key) not in done:
                    preds, usage = self._run_chunk(adapter, perturbation, key, chunk, codes)
                    outcome.usage.append(usage)
                    slot = outcome.predictions.setdefault((adapter.name, perturbation), {})
                    slot.update({p.record_id: p for p in preds})
                finished += len(chunk)
                if self.progress:
                    self.progress(label, finished, len(kept))
            outcome.described[adapter.name] = adapter.describe()
        return outcome

    def _run_chunk(
        self,
        adapter: Adapter,
        perturbation: str,
        key: str,
        chunk: Sequence[Record],
        codes: Mapping[str, str] | None,
    ) -> tuple[list[Prediction], ChunkUsage]:
        with tempfile.TemporaryDirectory(prefix="vulnsight-eval-") as tmp:
            root = Path(tmp)
            paths = write_batch(chunk, root, dict(codes) if codes else None)
            batch = Batch(root=root, paths=paths)
            started = time.perf_counter()
            runner = _in_child if self.isolate else _inline
            preds, error, cpu, peak = runner(adapter, batch, chunk)
            wall = time.perf_counter() - started
        by_id = {p.record_id: p for p in preds}
        share = wall * 1000 / max(1, len(chunk))
        complete: list[Prediction] = []
        for r in chunk:
            p = by_id.get(r.id)
            if p is None:
                p = Prediction(r.id, False, 0.0, error=error or "no prediction returned")
            if p.latency_ms is None:
                p = replace(p, latency_ms=share, latency_measured=False)
            complete.append(p)
        usage = ChunkUsage(
            detector=adapter.name,
            perturbation=perturbation,
            chunk=key,
            n=len(chunk),
            wall_s=round(wall, 4),
            cpu_s=round(cpu, 4),
            peak_rss_mb=round(peak, 1),
            tokens_in=sum(p.tokens_in for p in complete),
            tokens_out=sum(p.tokens_out for p in complete),
            error=error,
        )
        with self.pred_path.open("a", encoding="utf-8") as fh:
            for p in complete:
                row = {"detector": adapter.name, "perturbation": perturbation, "chunk": key}
                row.update(p.to_json())
                fh.write(json.dumps(row) + "\n")
        with self.usage_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(usage)) + "\n")
        return complete, usage
