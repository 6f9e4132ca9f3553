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
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from vulnsight.errors import RulesError
from vulnsight.languages import language_of
from vulnsight.types import Finding, ScanError, Severity, SourceFile, fingerprint

DETECTOR = "rules"
RULE_PREFIX = "vulnsight."
#: Semgrep's limit, in seconds, for one rule on one file.
DEFAULT_TIMEOUT = 10

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
_MIRROR_NAME = re.compile(r"f\d{7}\.[a-z]+")
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
        # Our own marks suppress (inside real comments, counted); a `nosemgrep` comment
        # in the scanned code must not drop a rule hit silently.
        "--disable-nosem",
        "--timeout",
        str(timeout),
        "--timeout-threshold",
        "3",
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
    timeout: int = DEFAULT_TIMEOUT,
    jobs: int = 1,
) -> tuple[list[Finding], list[ScanError]]:
    """Scan the files ``targets`` with the rule pack in one Semgrep run.

    Paths in the results are relative to ``root``. Each file is read here (bytes that
    are not UTF-8 become U+FFFD, lines kept) and handed to Semgrep as in
    `run_semgrep_sources`. Raises ``RulesError`` when Semgrep is missing or fails.
    """
    sources: list[SourceFile] = []
    errors: list[ScanError] = []
    real_root = root.resolve()
    for target in targets:
        shown = _relative(str(target), real_root)
        language = language_of(target)
        if language is None:
            errors.append(ScanError(shown, "no rules for this file type", DETECTOR))
            continue
        try:
            text = target.read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            errors.append(ScanError(shown, f"cannot read file: {exc.strerror}", DETECTOR))
            continue
        sources.append(SourceFile(shown, language, text))
    findings, more = run_semgrep_sources(sources, rules, timeout, jobs)
    return findings, errors + more


#: The extension Semgrep is given for each file: the one it selects a language by.
#: Files named otherwise (`.pyw`, `.PY`, `.cjs`...) are handed over under these.
SEMGREP_EXTENSION: dict[str, str] = {
    "c": ".c",
    "cpp": ".cpp",
    "python": ".py",
    "javascript": ".js",
    "typescript": ".ts",
    "solidity": ".sol",
}
_KEPT_SUFFIXES = frozenset({".h", ".tsx", ".jsx"})


def _unscanned(
    output: Mapping[str, Any], targets: Sequence[Path], mirror: Mapping[str, SourceFile]
) -> list[ScanError]:
    """An error for each target Semgrep's report does not list as scanned."""
    paths = output.get("paths")
    if not isinstance(paths, dict) or not isinstance(paths.get("scanned"), list):
        return []
    scanned = {PurePosixPath(str(p)).name for p in paths["scanned"]}
    why: dict[str, str] = {}
    for entry in paths.get("skipped") or []:
        if isinstance(entry, dict) and "path" in entry:
            why[PurePosixPath(str(entry["path"])).name] = str(entry.get("reason", ""))
    return [
        ScanError(
            mirror[t.name].path,
            "not scanned by the rules (Semgrep skipped it"
            + (f": {why[t.name]}" if why.get(t.name) else "")
            + ")",
            DETECTOR,
        )
        for t in targets
        if t.name not in scanned and t.name in mirror
    ]


def _mirror_name(index: int, source: SourceFile) -> str:
    suffix = PurePosixPath(source.path).suffix
    if suffix not in _KEPT_SUFFIXES:
        suffix = SEMGREP_EXTENSION[source.language]
    return f"f{index:07d}{suffix}"


def run_semgrep_sources(
    files: Sequence[SourceFile],
    rules: Sequence[Path] | None = None,
    timeout: int = DEFAULT_TIMEOUT,
    jobs: int = 1,
) -> tuple[list[Finding], list[ScanError]]:
    """Scan files as vulnsight read them, in one Semgrep run (chunked when huge).

    Semgrep gets a private copy of exactly the text that discovery read, under plain
    ASCII names with the extension it selects the language by, in a fresh directory
    it runs in. So every file counted as scanned is scanned by the rules: a name that
    is not UTF-8, an extension Semgrep does not map (`.pyw`, `.PY`), a minified file, a
    file with a stray non-UTF-8 byte, a link swapped after discovery, or a
    `.semgrepignore` in the scanned tree change nothing. Results carry the files' own
    paths and line numbers. Raises ``RulesError`` when Semgrep is missing or fails.
    """
    if not files:
        return [], []
    rule_files = [p.resolve() for p in (rules if rules is not None else pack_files())]
    known = rule_metadata(rule_files).keys()
    findings: list[Finding] = []
    errors: list[ScanError] = []
    with tempfile.TemporaryDirectory(prefix="vulnsight-rules-") as tmp:
        work = Path(tmp)
        mirror: dict[str, SourceFile] = {}
        targets: list[Path] = []
        for index, source in enumerate(files):
            name = _mirror_name(index, source)
            (work / name).write_bytes(source.text.encode("utf-8", "replace"))
            mirror[name] = source
            targets.append(work / name)
        # One run over the private directory (it holds nothing else), however many
        # files: no argument-length chunks, one Semgrep start-up. Whatever Semgrep
        # leaves out is reported by `_unscanned`.
        cmd = semgrep_command([work], rule_files, timeout, jobs)
        output = _run_once(cmd, _wall_limit(timeout, len(files)), work)
        more, errs = parse_output(output, work, known, mirror)
        findings.extend(more)
        errors.extend(errs)
        errors.extend(_unscanned(output, targets, mirror))
    findings.sort(key=lambda f: (f.file, f.line_number, f.rule_id or ""))
    return findings, errors


def _wall_limit(timeout: int, files: int) -> float:
    """Seconds a whole Semgrep run may take (a guard against a hung engine: Semgrep's own
    per-file, per-rule `timeout` bounds the real work)."""
    return max(60.0, timeout * 4.0) + 0.05 * files


def _run_once(cmd: list[str], wall: float, cwd: Path | None = None) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            env=semgrep_env(),
            timeout=wall,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise RulesError(f"semgrep could not be started: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RulesError(f"semgrep did not finish within {exc.timeout} s") from exc
    # Semgrep writes paths as raw bytes: decode so that any byte survives the round trip.
    stdout = proc.stdout.decode("utf-8", "surrogateescape")
    try:
        output: dict[str, Any] = json.loads(stdout)
    except json.JSONDecodeError as exc:
        stderr = proc.stderr.decode("utf-8", "replace")
        tail = (stderr or stdout).strip()[-2000:]
        raise RulesError(f"semgrep failed (exit {proc.returncode}): {tail}") from exc
    if not isinstance(output, dict):
        raise RulesError(f"semgrep failed (exit {proc.returncode}): unexpected output")
    return output


def _relative(path: str, root: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def _lines(text: str) -> list[str]:
    """Lines as Semgrep and tree-sitter count them: split at "\n" only (`str.splitlines`
    also splits at form feeds, U+2028 and others, which would shift every later line)."""
    return [line.rstrip("\r") for line in text.split("\n")]


def _line_text(path: Path, line: int, cache: dict[Path, list[str]]) -> str:
    if path not in cache:
        try:
            cache[path] = _lines(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            cache[path] = []
    lines = cache[path]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _locate(
    path: str, root: Path, mirror: Mapping[str, SourceFile] | None
) -> tuple[str, SourceFile | None]:
    """The shown path of a result path, and the file it came from (for a mirror run)."""
    if mirror is not None:
        source = mirror.get(PurePosixPath(path).name)
        if source is not None:
            return source.path, source
    return _relative(path, root), None


def _source_line(source: SourceFile, line: int, cache: dict[str, list[str]]) -> str:
    if source.path not in cache:
        cache[source.path] = _lines(source.text)
    lines = cache[source.path]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def parse_output(
    output: Mapping[str, Any],
    root: Path,
    known_ids: Collection[str] = (),
    mirror: Mapping[str, SourceFile] | None = None,
) -> tuple[list[Finding], list[ScanError]]:
    """Turn Semgrep's JSON output into findings and per-file errors.

    With `mirror` (file name in the run directory -> the file it copies), results are
    reported under the original files' paths.
    """
    cache: dict[Path, list[str]] = {}
    texts: dict[str, list[str]] = {}
    findings: list[Finding] = []
    for result in output.get("results", []):
        extra = result.get("extra", {})
        meta = extra.get("metadata", {})
        rule_id = strip_rule_prefix(str(result["check_id"]), known_ids)
        file, source = _locate(str(result["path"]), root, mirror)
        line = int(result["start"]["line"])
        if source is not None:
            snippet = _source_line(source, line, texts)
        else:
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
        file = _locate(str(path), root, mirror)[0] if path else ""
        if mirror is not None:  # messages name the copy; say the original
            reason = reason.replace(str(root) + os.sep, "")
            reason = _MIRROR_NAME.sub(
                lambda m: mirror[m.group(0)].path if m.group(0) in mirror else m.group(0), reason
            )
        errors.append(ScanError(file=file, reason=reason, detector=DETECTOR))
    return findings, errors
