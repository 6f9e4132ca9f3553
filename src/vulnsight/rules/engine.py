"""Run the shipped Semgrep rule pack over a set of files and turn hits into Findings.

Semgrep starts in a few seconds, so a scan runs it once over every target file. It runs
fully offline: local rule files only, metrics and version checks off, and the native
engine (``--experimental``) so no Python telemetry stack is imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from vulnsight.errors import RulesError
from vulnsight.types import Finding, ScanError, Severity, fingerprint

DETECTOR = "rules"
RULE_PREFIX = "vulnsight."

_SEVERITY = {
    "ERROR": Severity.HIGH,
    "WARNING": Severity.MEDIUM,
    "INFO": Severity.LOW,
    # Semgrep's newer severity names.
    "CRITICAL": Severity.HIGH,
    "HIGH": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}
_CWE = re.compile(r"CWE-\d+", re.IGNORECASE)
_OWN_ID = re.compile(r"(?:^|\.)(vulnsight\.[a-z]+\.[A-Za-z0-9_-]+)$")
# Variables that make Semgrep reach the network or send data; all forced off.
_OFFLINE_ENV = {
    "SEMGREP_ENABLE_VERSION_CHECK": "0",
    "SEMGREP_SEND_METRICS": "off",
    "SEMGREP_METRICS": "off",
    "SEMGREP_USER_AGENT_APPEND": "vulnsight",
    "NO_COLOR": "1",
}
_DROPPED_ENV = ("SEMGREP_APP_TOKEN", "SEMGREP_RULES", "SEMGREP_REPO_URL", "SEMGREP_APP_URL")


@dataclass(frozen=True)
class RuleMeta:
    """What the pack says about one rule; the SARIF writer uses it for descriptions."""

    id: str
    cwe: str
    message: str
    severity: Severity
    confidence: float
    languages: tuple[str, ...]


def pack_dir() -> Path:
    """The directory of the shipped rule pack (one YAML file per language)."""
    return Path(str(resources.files("vulnsight.rules").joinpath("pack")))


def pack_files(directory: Path | None = None) -> list[Path]:
    """The rule files of a pack directory, sorted by name."""
    root = directory if directory is not None else pack_dir()
    return sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml"))


def normalise_cwe(value: object) -> str:
    """``"CWE-89: SQL Injection"`` or ``["CWE-89"]`` -> ``"CWE-89"``; ``""`` when absent."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    match = _CWE.search(str(value or ""))
    return match.group(0).upper() if match else ""


def strip_rule_prefix(check_id: str, known: Collection[str] = ()) -> str:
    """Drop the dotted config path Semgrep puts in front of a rule id.

    ``known`` holds the ids of the rules in the scan; the longest one that ends
    ``check_id`` wins. Ids of the ``vulnsight.<language>.<name>`` shape are recognised
    without it.
    """
    best = ""
    for rule_id in known:
        if (check_id == rule_id or check_id.endswith("." + rule_id)) and len(rule_id) > len(best):
            best = rule_id
    if best:
        return best
    match = _OWN_ID.search(check_id)
    return match.group(1) if match else check_id


def rule_metadata(rules: Sequence[Path] | None = None) -> dict[str, RuleMeta]:
    """Parse the pack's YAML into ``RuleMeta`` by rule id."""
    metas: dict[str, RuleMeta] = {}
    for path in rules if rules is not None else pack_files():
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RulesError(f"cannot read rule file {path}: {exc}") from exc
        for rule in doc.get("rules", []):
            meta = rule.get("metadata") or {}
            metas[rule["id"]] = RuleMeta(
                id=rule["id"],
                cwe=normalise_cwe(meta.get("cwe")),
                message=" ".join(str(rule.get("message", "")).split()),
                severity=_SEVERITY.get(str(rule.get("severity", "")).upper(), Severity.MEDIUM),
                confidence=float(meta.get("confidence", 0.5)),
                languages=tuple(rule.get("languages", ())),
            )
    return metas


def semgrep_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment Semgrep (and semgrep-core, its child) runs with: offline."""
    env = dict(os.environ if base is None else base)
    for name in _DROPPED_ENV:
        env.pop(name, None)
    env.update(_OFFLINE_ENV)
    return env


def semgrep_command(
    targets: Sequence[Path], rules: Sequence[Path], timeout: int, jobs: int
) -> list[str]:
    """The Semgrep command line for one scan."""
    beside = Path(sys.executable).parent / "semgrep"  # a venv used without activation
    exe = str(beside) if beside.is_file() else shutil.which("semgrep")
    if exe is None:
        raise RulesError("semgrep is not installed (pip install semgrep); static rules cannot run")
    cmd = [
        exe,
        "scan",
        "--experimental",
        "--json",
        "--quiet",
        "--metrics=off",
        "--disable-version-check",
        "--no-git-ignore",
        "--timeout",
        str(timeout),
        "--jobs",
        str(max(1, jobs)),
    ]
    for rule in rules:
        cmd += ["--config", str(rule)]
    cmd += [str(t) for t in targets]
    return cmd


def run_semgrep(
    targets: Sequence[Path],
    root: Path,
    rules: Sequence[Path] | None = None,
    timeout: int = 300,
    jobs: int = 1,
) -> tuple[list[Finding], list[ScanError]]:
    """Scan ``targets`` with the rule pack in one Semgrep run.

    Paths in the results are relative to ``root``. ``timeout`` is Semgrep's per-file,
    per-rule limit; the whole run may take at most a generous multiple of it.
    Raises ``RulesError`` when Semgrep is missing or fails as a whole.
    """
    if not targets:
        return [], []
    rule_files = list(rules) if rules is not None else pack_files()
    known = rule_metadata(rule_files).keys()
    findings: list[Finding] = []
    errors: list[ScanError] = []
    for chunk in _chunks([t.resolve() for t in targets]):
        output = _run_once(semgrep_command(chunk, rule_files, timeout, jobs), timeout)
        more, errs = parse_output(output, root.resolve(), known)
        findings.extend(more)
        errors.extend(errs)
    return findings, errors


#: Characters of target paths per Semgrep run, well under the kernel's argument limit.
_ARG_BUDGET = 100_000


def _chunks(targets: Sequence[Path]) -> list[list[Path]]:
    """Split targets so one command line never grows past `_ARG_BUDGET`."""
    chunks: list[list[Path]] = [[]]
    size = 0
    for t in targets:
        n = len(str(t)) + 1
        if chunks[-1] and size + n > _ARG_BUDGET:
            chunks.append([])
            size = 0
        chunks[-1].append(t)
        size += n
    return chunks


def _run_once(cmd: list[str], timeout: int) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=semgrep_env(),
            timeout=max(60, timeout * 4),
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise RulesError(f"semgrep could not be started: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RulesError(f"semgrep did not finish within {exc.timeout} s") from exc
    try:
        output: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
        raise RulesError(f"semgrep failed (exit {proc.returncode}): {tail}") from exc
    return output


def _relative(path: str, root: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def _line_text(path: Path, line: int, cache: dict[Path, list[str]]) -> str:
    if path not in cache:
        try:
            cache[path] = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            cache[path] = []
    lines = cache[path]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def parse_output(
    output: Mapping[str, Any], root: Path, known_ids: Collection[str] = ()
) -> tuple[list[Finding], list[ScanError]]:
    """Turn Semgrep's JSON output into findings and per-file errors."""
    cache: dict[Path, list[str]] = {}
    findings: list[Finding] = []
    for result in output.get("results", []):
        extra = result.get("extra", {})
        meta = extra.get("metadata", {})
        rule_id = strip_rule_prefix(str(result["check_id"]), known_ids)
        file = _relative(result["path"], root)
        line = int(result["start"]["line"])
        snippet = _line_text(Path(result["path"]), line, cache)
        findings.append(
            Finding(
                file=file,
                line_number=line,
                end_line=int(result.get("end", {}).get("line", line)),
                cwe=normalise_cwe(meta.get("cwe")),
                message=" ".join(str(extra.get("message", "")).split()),
                detector=DETECTOR,
                confidence=float(meta.get("confidence", 0.5)),
                severity=_SEVERITY.get(str(extra.get("severity", "")).upper(), Severity.MEDIUM),
                rule_id=rule_id,
                snippet=snippet,
                detectors=(DETECTOR,),
                fingerprint=fingerprint(rule_id, file, None, snippet),
            )
        )
    findings.sort(key=lambda f: (f.file, f.line_number, f.rule_id or ""))
    errors: list[ScanError] = []
    for error in output.get("errors", []):
        path = error.get("path") or (error.get("location") or {}).get("path")
        reason = " ".join(str(error.get("message") or error.get("type") or "error").split())
        if not path and "rule" in reason.lower():
            raise RulesError(f"the rule pack is invalid: {reason}")
        errors.append(
            ScanError(file=_relative(path, root) if path else "", reason=reason, detector=DETECTOR)
        )
    return findings, errors
