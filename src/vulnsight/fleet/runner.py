"""The Ray edge of a fleet run: one task per repository (discovery, parsing, rules,
the model's questions, the hybrid merge: `repo.scan_repository`), a pool of model
actors that each load the model once, and a ledger actor that deduplicates verdicts
across repositories. The driver writes each repository's reports and then, atomically,
its done-marker; a run restarted with the same output folder skips repositories
already done. Ray is imported here only, when a run starts.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vulnsight.errors import ConfigError
from vulnsight.fleet.ledger import Answer, Entry, FleetStore
from vulnsight.fleet.plan import (
    DONE_MARKER,
    REPORT_JSON,
    REPORT_SARIF,
    Progress,
    RepoSource,
    pending,
    repo_dir,
)
from vulnsight.fleet.remote import ModelWorker, RemoteBackend, WorkerLost, worker_spec
from vulnsight.fleet.repo import RepoResult, scan_repository
from vulnsight.report_file import write_atomic

#: The local Ray instance's object store (bytes): reports and prompts are small.
OBJECT_STORE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class FleetOptions:
    """How a fleet run is laid out."""

    out: Path
    #: ScanConfig overrides from the command line (as `vulnsight scan` passes them)
    flags: Mapping[str, Any] = field(default_factory=dict)
    #: None: a local Ray instance (`ray.init(num_cpus=...)`); "auto" or "ray://host:port"
    address: str | None = None
    workers: int = 1
    threads_per_worker: int = 1
    gpus_per_worker: float = 0.0
    #: logical CPUs of the local instance (None: the machine's, at least enough for the
    #: model workers plus one repository task)
    num_cpus: int | None = None
    #: CPUs each repository task reserves (discovery, parsing, Semgrep, merge)
    repo_cpus: float = 1.0
    #: repositories in flight at once (None: twice the model workers, plus one)
    in_flight: int | None = None


@dataclass
class FleetResult:
    """What a fleet run did."""

    scanned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    functions: int = 0
    findings: int = 0
    unscanned_files: int = 0
    seconds: float = 0.0
    ledger: dict[str, int] = field(default_factory=dict)
    worker_pids: list[int] = field(default_factory=list)


@dataclass
class Hooks:
    """Callbacks for the CLI (progress lines) and tests (the model actors, each
    repository as it is marked done)."""

    say: Callable[[str], None] = lambda line: None
    on_workers: Callable[[list[Any]], None] = lambda handles: None
    on_done: Callable[[RepoSource], None] = lambda repo: None


def uses_model(flags: Mapping[str, Any]) -> bool:
    """Whether the model workers are needed (unless `--detectors` leaves the model
    out, a repository's configuration may ask for it)."""
    detectors = flags.get("detectors")
    return detectors is None or "llm" in detectors


def fleet_model(flags: Mapping[str, Any]) -> str | None:
    """The model spec every repository's scan resolves to: the flag, else the user
    configuration's (a scanned repository may not choose the model)."""
    from vulnsight.review.config_file import discover_config

    if flags.get("model"):
        return str(flags["model"])
    with tempfile.TemporaryDirectory(prefix="vulnsight-fleet-") as empty:
        return discover_config(None, Path(empty), allow_repo_model=False).scan_config().model


def _init_ray(options: FleetOptions) -> bool:
    """Connect to or start Ray; True when this run started (and must stop) it."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
    if options.address:
        ray.init(address=options.address, log_to_driver=False, logging_level=logging.ERROR)
        return True
    cpus = options.num_cpus or max(
        os.cpu_count() or 1, options.workers * options.threads_per_worker + 1
    )
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        object_store_memory=OBJECT_STORE_BYTES,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    return True


class _RayLedger:
    """`LedgerClient` over the ledger actor."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def claim(self, owner: int, keys: Sequence[str]) -> dict[str, Answer]:
        import ray

        out: dict[str, Answer] = ray.get(self.handle.claim.remote(owner, list(keys)))
        return out

    def wait(self, keys: Sequence[str], timeout_s: float) -> dict[str, Entry]:
        import ray

        out: dict[str, Entry] = ray.get(self.handle.wait.remote(list(keys), timeout_s))
        return out

    def put(self, entries: Mapping[str, Entry]) -> None:
        import ray

        ray.get(self.handle.put.remote(dict(entries)))


def _caller(workers: Sequence[Any]) -> Callable[..., Any]:
    """`remote.Caller` over the model actors: a dead actor raises `WorkerLost`."""
    import ray
    from ray.exceptions import RayActorError

    def call(index: int, method: str, *args: Any) -> Any:
        try:
            return ray.get(getattr(workers[index], method).remote(*args))
        except RayActorError as exc:
            raise WorkerLost(str(exc).splitlines()[0] if str(exc) else "actor died") from exc

    return call


def repo_task(
    repo: RepoSource,
    flags: Mapping[str, Any],
    specs: tuple[str | None, str | None],
    workers: Sequence[Any],
    ledger: Any,
    owner: int,
) -> RepoResult:
    """The body of one repository's Ray task. `specs`: the fleet's model spec and the
    one its workers run (`remote.worker_spec`)."""
    import ray

    spec, run_spec = specs
    backend = None
    if workers:
        backend = RemoteBackend(run_spec, len(workers), _caller(workers), first=owner)
    store = FleetStore(_RayLedger(ledger), owner) if ledger is not None else None
    try:
        return scan_repository(repo, flags, backend, store, spec)
    finally:
        if ledger is not None:
            ray.get(ledger.release.remote(owner))


def run_fleet(
    repos: Sequence[RepoSource], options: FleetOptions, hooks: Hooks | None = None
) -> FleetResult:
    """Scan every repository not yet done in `options.out`, then write the summary."""
    hooks = hooks or Hooks()
    started = time.perf_counter()
    out = options.out
    todo, done = pending(out, repos)
    result = FleetResult(skipped=[r.slug for r in done])
    if done:
        hooks.say(f"fleet: {len(done)} repositories already done in {out}: skipped")
    flags = dict(options.flags)
    spec = fleet_model(flags)
    if todo:
        _run(todo, repos, flags, spec, options, hooks, result, started)
    result.seconds = round(time.perf_counter() - started, 3)
    write_summary(out, repos, result, spec)
    return result


def _run(
    todo: Sequence[RepoSource],
    repos: Sequence[RepoSource],
    flags: Mapping[str, Any],
    spec: str | None,
    options: FleetOptions,
    hooks: Hooks,
    result: FleetResult,
    started: float,
) -> None:
    import ray

    from vulnsight.fleet.ledger import VerdictLedger

    owned = _init_ray(options)
    try:
        _check_resources(options, uses_model(flags))
        workers: list[Any] = []
        ledger: Any = None
        run_spec = worker_spec(spec, options.gpus_per_worker)
        if uses_model(flags):
            actor: Any = ray.remote(ModelWorker).options(
                num_cpus=options.threads_per_worker,
                num_gpus=options.gpus_per_worker,
                max_restarts=4,
                max_task_retries=4,
            )
            workers = [
                actor.remote(run_spec, options.threads_per_worker, options.gpus_per_worker)
                for _ in range(max(1, options.workers))
            ]
            result.worker_pids = [int(ray.get(w.pid.remote())) for w in workers]
            ledger = ray.remote(VerdictLedger).options(num_cpus=0).remote()
            hooks.on_workers(workers)
        task = ray.remote(repo_task).options(num_cpus=options.repo_cpus, max_retries=2)
        order = {r.slug: i for i, r in enumerate(repos)}
        limit = options.in_flight or 2 * max(1, options.workers) + 1
        queue = list(todo)
        running: dict[Any, RepoSource] = {}
        finished = len(repos) - len(todo)
        while queue or running:
            while queue and len(running) < limit:
                repo = queue.pop(0)
                ref = task.remote(repo, flags, (spec, run_spec), workers, ledger, order[repo.slug])
                running[ref] = repo
            ready, _ = ray.wait(list(running), num_returns=1)
            repo = running.pop(ready[0])
            try:
                done: RepoResult = ray.get(ready[0])
            except Exception as exc:  # one repository's failure never ends the run
                result.failed[repo.slug] = _one_line(exc)
                hooks.say(f"fleet: {repo.path}: failed: {result.failed[repo.slug]}")
                if ledger is not None:
                    ray.get(ledger.release.remote(order[repo.slug]))
                continue
            write_repo(out=options.out, repo=repo, done=done)
            result.scanned.append(repo.slug)
            result.functions += int(done.meta.get("functions", 0))
            finished += 1
            hooks.on_done(repo)
            hooks.say(
                Progress(
                    finished,
                    len(repos),
                    result.functions,
                    time.perf_counter() - started,
                    len(result.scanned),
                ).line()
            )
        if ledger is not None:
            result.ledger = dict(ray.get(ledger.stats.remote()))
    finally:
        if owned:
            ray.shutdown()


def _check_resources(options: FleetOptions, model: bool) -> None:
    """Refuse a layout the cluster cannot schedule (the model actors would hold every
    CPU and no repository task could start: the run would wait forever)."""
    import ray

    have: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    workers = max(1, options.workers) if model else 0
    cpus = workers * options.threads_per_worker + options.repo_cpus
    gpus = workers * options.gpus_per_worker
    if have.get("CPU", 0.0) < cpus:
        raise ConfigError(
            f"the Ray cluster has {have.get('CPU', 0.0):g} CPUs; {workers} model worker(s) of "
            f"{options.threads_per_worker} thread(s) plus one repository task need {cpus:g}"
        )
    if gpus and have.get("GPU", 0.0) < gpus:
        raise ConfigError(f"the Ray cluster has {have.get('GPU', 0.0):g} GPUs; {gpus:g} needed")


def _one_line(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    text = " ".join(str(cause).split()) or type(cause).__name__
    return text[:300]


def write_repo(out: Path, repo: RepoSource, done: RepoResult) -> None:
    """A repository's reports, then its done-marker (written last: a run interrupted
    before it rescans the repository; one interrupted after it skips it)."""
    folder = repo_dir(out, repo)
    write_atomic(folder / REPORT_JSON, done.json_text)
    write_atomic(folder / REPORT_SARIF, done.sarif_text)
    marker = {**done.meta, "finished": time.time()}
    write_atomic(folder / DONE_MARKER, json.dumps(marker, indent=2, sort_keys=True) + "\n")


def write_summary(
    out: Path, repos: Sequence[RepoSource], result: FleetResult, spec: str | None
) -> None:
    """The organisation summary over every repository done in `out`."""
    from vulnsight.fleet.summary import finding_rows, overview, repository_row

    metas: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for repo in repos:
        folder = repo_dir(out, repo)
        try:
            meta = json.loads((folder / DONE_MARKER).read_text(encoding="utf-8"))
            report = json.loads((folder / REPORT_JSON).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        metas.append(meta)
        rows.extend(finding_rows(meta, report))
    result.findings = sum(1 for r in rows if not r["suppressed"])
    result.unscanned_files = sum(int(m.get("files_unscanned") or 0) for m in metas)
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    write_atomic(out / "findings.jsonl", lines)
    repo_lines = "".join(json.dumps(repository_row(m), sort_keys=True) + "\n" for m in metas)
    write_atomic(out / "repositories.jsonl", repo_lines)
    _write_parquet(out / "findings.parquet", rows)
    hits = result.ledger.get("hits", 0) + result.ledger.get("waited_hits", 0)
    lookups = result.ledger.get("lookups", 0)
    run = {
        "model": spec or "default",
        "repositories done": f"{len(metas)} of {len(repos)}",
        "scanned in this run": len(result.scanned),
        "skipped (done before)": len(result.skipped),
        "failed": len(result.failed),
        "functions scanned in this run": result.functions,
        "dedup: verdicts shared across repositories": f"{hits} of {lookups} lookups",
        "seconds": result.seconds,
    }
    write_atomic(out / "overview.md", overview(metas, rows, run))
    state = {
        "scanned": result.scanned,
        "skipped": result.skipped,
        "failed": result.failed,
        "functions": result.functions,
        "findings": result.findings,
        "ledger": result.ledger,
        "seconds": result.seconds,
        "model": spec,
    }
    write_atomic(out / "run.json", json.dumps(state, indent=2, sort_keys=True) + "\n")


def _write_parquet(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """The findings table as Parquet too, when pyarrow is installed (Ray Data brings
    it); JSONL is always written."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return
    if not rows:
        return
    try:
        pq.write_table(pa.Table.from_pylist([dict(r) for r in rows]), str(path))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc
