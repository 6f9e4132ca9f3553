"""Diagnostics latency of `vulnsight lsp` on a real file, measured as an editor sees it.

Spawns `vulnsight lsp` over stdio for each repetition, opens the file (didOpen) and
times the first publishDiagnostics (rules) and, with the model on, the second one (the
model's results replacing them; the first model scan of a process loads the model:
"cold"). Then an unchanged save (didChange + didSave, next version) is timed again:
"warm", once with the verdict cache filled by the first scan and once with `--no-cache`.
Prints a Markdown table and writes the raw runs to benchmarks/results/lsp_latency.json.

    python benchmarks/lsp_latency.py [--file F] [--repeat 3] [--model default]

The default file is a real JavaScript module from npm (semver's classes/comparator.js,
143 lines, 7 functions), present after `npm ci` in editors/vscode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.lsp_client import LspClient, initialize  # noqa: E402

DEFAULT_FILE = ROOT / "editors/vscode/node_modules/semver/classes/comparator.js"
LANGUAGE_IDS = {
    ".js": "javascript",
    ".ts": "typescript",
    ".py": "python",
    ".c": "c",
    ".cpp": "cpp",
    ".sol": "solidity",
}


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its waited-for children (Semgrep runs) so far (Linux):
    a figure that depends less than wall time on what else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _published(client: LspClient, after: int, version: int, count: int, timeout: float) -> float:
    """Wait until `count` diagnostics sets of `version` were published; their time."""
    deadline = time.monotonic() + timeout
    while True:
        got = [
            n
            for n in client.since(after, "textDocument/publishDiagnostics")
            if n["params"].get("version") == version
        ]
        if len(got) >= count:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} publish(es) of v{version} not seen in {timeout} s")
        time.sleep(0.005)


def one_run(file: Path, detectors: str, model: str | None, cache: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="lsp-bench-") as tmp:
        project = Path(tmp)
        (project / ".git").mkdir()
        target = project / file.name
        shutil.copyfile(file, target)
        text = target.read_text()
        cmd = [sys.executable, "-m", "vulnsight.cli", "lsp", "--detectors", detectors]
        if model:
            cmd += ["--model", model]
        if not cache:
            cmd.append("--no-cache")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=project,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        client = LspClient(proc.stdin, proc.stdout)
        with_model = "llm" in detectors
        try:
            initialize(client, project.as_uri())
            uri = target.as_uri()
            mark = client.mark()
            t0 = time.perf_counter()
            client.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": uri,
                        "languageId": LANGUAGE_IDS[file.suffix],
                        "version": 1,
                        "text": text,
                    }
                },
            )
            c0 = cpu_seconds(proc.pid)
            out = {"open_rules_s": _published(client, mark, 1, 1, 600) - t0}
            out["open_rules_cpu_s"] = cpu_seconds(proc.pid) - c0
            if with_model:
                out["open_model_cold_s"] = _published(client, mark, 1, 2, 1200) - t0
                out["open_model_cold_cpu_s"] = cpu_seconds(proc.pid) - c0
            mark = client.mark()
            t1, c1 = time.perf_counter(), cpu_seconds(proc.pid)
            client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]},
            )
            client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
            out["save_rules_s"] = _published(client, mark, 2, 1, 600) - t1
            out["save_rules_cpu_s"] = cpu_seconds(proc.pid) - c1
            if with_model:
                key = "save_model_warm_cached" if cache else "save_model_warm_uncached"
                out[f"{key}_s"] = _published(client, mark, 2, 2, 1200) - t1
                out[f"{key}_cpu_s"] = cpu_seconds(proc.pid) - c1
            last = client.since(0, "textDocument/publishDiagnostics")[-1]["params"]
            out["diagnostics"] = len(last["diagnostics"])
            client.request("shutdown", None)
            client.notify("exit", None)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default=None, help="model spec (default: the embedded one)")
    args = parser.parse_args()
    if not args.file.is_file():
        sys.exit(f"{args.file} not found (run `npm ci` in editors/vscode, or pass --file)")
    setups = [("rules", True), ("rules,llm", True), ("rules,llm", False)]
    runs: dict[str, list[dict[str, float]]] = {}
    for detectors, cache in setups:
        name = f"{detectors}{'' if cache else ' --no-cache'}"
        runs[name] = []
        for _ in range(args.repeat):
            runs[name].append(one_run(args.file, detectors, args.model, cache))
            print(name, runs[name][-1], file=sys.stderr, flush=True)

    lines = len(args.file.read_text().splitlines())
    print(
        f"File: {args.file.relative_to(ROOT) if args.file.is_relative_to(ROOT) else args.file} "
        f"({lines} lines); {args.repeat} runs each, medians; {os.cpu_count()} CPUs, "
        f"{platform.machine()}, Python {platform.python_version()}.\n"
    )
    load = os.getloadavg()[0]
    print(f"Load average at the end: {load:.1f} (the machine is shared).\n")
    print("| setup | measure | median s | min s | max s |\n|---|---|---:|---:|---:|")
    for name, rs in runs.items():
        for key in rs[0]:
            if key == "diagnostics":
                continue
            vals = [r[key] for r in rs]
            print(
                f"| {name} | {key} | {statistics.median(vals):.2f} | {min(vals):.2f} | "
                f"{max(vals):.2f} |"
            )
    out = ROOT / "benchmarks" / "results" / "lsp_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "file": str(args.file),
                "lines": lines,
                "repeat": args.repeat,
                "model": args.model,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
