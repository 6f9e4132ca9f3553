"""What a scanned repository's own configuration may change: the trust boundary.

The repository's `vulnsight.toml` / `[tool.vulnsight]` (and a `--config` file inside the
scanned repository) is written by whoever wrote the code, so it is data, not authority.
`limit` keeps what a project legitimately configures and holds back what would send
code elsewhere or hide findings:

* `model`: only the embedded models (`default`, `base`); an endpoint URL, a hub id or
  any path (a hostile GGUF is attacker input to a native parser) is refused unless the
  user allows it (`--allow-repo-model`, or `allow_repo_model = true` in the user
  config). An allowed endpoint never receives the user's `$VULNSIGHT_API_KEY`.
* `state_dir`, `cache_dir`, `allow_repo_model`: ignored (the user's to set).
* `exclude`: patterns that match every file (`**`, `*`, `*.*`, ...) are refused; the
  workflow also drops the repository's include/exclude when together they would leave
  no discovered file, and always counts the files they excluded.
* `detectors`: the repository may turn the model off, never the rules.
* `min_confidence` at most 0.3, `llm_threshold` within [0.1, 0.8], `budget_tokens`
  within [2048, 16384], `max_file_size` within [200 kB, 5 MB], `jobs` at most the CPUs.
* `baseline`: honoured when it is a regular file inside the repository (at most 16 MiB);
  the findings it hides are counted and shown.
* `ignore`: honoured and counted, except an entry that selects every finding (no CWE,
  no rule, and paths that match everything).
* `[server] host`: loopback only; `max_request_bytes` at most 16 MB.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vulnsight.types import ConfigEffect

if TYPE_CHECKING:
    from vulnsight.review.config_file import FileSettings

SAFE_MODELS = frozenset({"default", "base", "embedded"})
MAX_MIN_CONFIDENCE = 0.3
LLM_THRESHOLD_RANGE = (0.1, 0.8)
BUDGET_RANGE = (2048, 16384)
FILE_SIZE_RANGE = (200_000, 5_000_000)
#: The largest configuration file read from a scanned repository.
MAX_CONFIG_BYTES = 1 << 20
MAX_BASELINE_BYTES = 16 << 20  # a real baseline is far smaller; parsing costs ~25x its size
#: The largest `vulnsight serve` request body a repository may allow (each connection
#: reads its body into memory before it waits for a scan slot).
MAX_SERVER_REQUEST_BYTES = 16_000_000
#: Paths every realistic tree has: a pattern matching all of them drops the whole tree.
_PROBES = (
    "a.py",
    "src/lib/b.c",
    "deep/x/y/z.js",
    "w.sol",
    "t.tsx",
    "pkg/c.cpp",
    "h.h",
    "m.ts",
)
#: Keys only the user may set.
USER_ONLY = ("state_dir", "cache_dir", "allow_repo_model")


@dataclass(frozen=True)
class Limited:
    """A repository configuration after the trust boundary, and what it changed."""

    settings: FileSettings
    effects: tuple[ConfigEffect, ...]


def matches_everything(patterns: list[str] | tuple[str, ...]) -> bool:
    """Whether the patterns together match every probe path (a whole-tree filter)."""
    from vulnsight.pipeline import glob_match

    return bool(patterns) and all(any(glob_match(p, g) for g in patterns) for p in _PROBES)


def is_loopback(host: str) -> bool:
    """Whether a bind address accepts connections from this machine only."""
    if host in ("localhost", "127.0.0.1", "::1", "[::1]"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def limit(settings: FileSettings, source: str, root: Path, allow_model: bool) -> Limited:
    """The repository's settings within the limits above, with a `ConfigEffect` for
    everything that was applied, limited, refused or ignored."""
    given = settings.model_fields_set
    update: dict[str, Any] = {}
    effects: list[ConfigEffect] = []

    def note(key: str, action: str, message: str) -> None:
        effects.append(ConfigEffect(key, action, message, source))

    for key in USER_ONLY:
        if key in given:
            default = type(settings).model_fields[key].default
            update[key] = default
            note(key, "ignored", f"{key} is the user's to set (user config or flags)")
    if settings.model is not None:
        if settings.model.strip() in SAFE_MODELS:
            note("model", "applied", f"model {settings.model!r}")
        elif allow_model:
            note("model", "applied", f"model {settings.model!r} allowed by the user")
        else:
            update["model"] = None
            note(
                "model",
                "refused",
                f"model {settings.model!r} refused: a scanned repository may only choose "
                "the embedded models; allow it with --allow-repo-model",
            )
    if settings.detectors is not None and "rules" not in settings.detectors:
        update["detectors"] = ["rules", *settings.detectors]
        note("detectors", "limited", "the rules cannot be turned off by the repository")
    _thresholds(settings, update, note)
    _filters(settings, update, note)
    if settings.baseline is not None:
        problem = _baseline_problem(root, settings.baseline)
        if problem:
            update["baseline"] = None
            note("baseline", "refused", f"baseline {settings.baseline!r} refused: {problem}")
    blanket = [i for i in settings.ignore if not (i.cwes or i.rules) and _all_paths(i.paths)]
    if blanket:
        update["ignore"] = [i for i in settings.ignore if i not in blanket]
        note("ignore", "refused", f"{len(blanket)} ignore table(s) selecting every finding")
    server = settings.server
    if "host" in server.model_fields_set and not is_loopback(server.host):
        server = server.model_copy(update={"host": "127.0.0.1"})
        update["server"] = server
        note("server.host", "refused", f"host {settings.server.host!r} refused: loopback only")
    if server.max_request_bytes > MAX_SERVER_REQUEST_BYTES:
        given_bytes = server.max_request_bytes
        server = server.model_copy(update={"max_request_bytes": MAX_SERVER_REQUEST_BYTES})
        update["server"] = server
        note(
            "server.max_request_bytes",
            "limited",
            f"max_request_bytes {given_bytes} limited to {MAX_SERVER_REQUEST_BYTES}",
        )
    # Whatever else it set is applied as given, and listed too (filters, baselines and
    # ignores are listed by the workflow, with what they hid).
    noted = {e.key.split(".")[0] for e in effects} | {"include", "exclude", "baseline", "ignore"}
    for key in sorted(given - noted):
        value = getattr(settings, key)
        shown = value.model_dump(exclude_unset=True) if key == "server" else value
        note(key, "applied", f"{key} = {shown!r}")
    return Limited(settings.model_copy(update=update), tuple(effects))


def _all_paths(paths: list[str]) -> bool:
    return not paths or matches_everything(paths)


def _thresholds(settings: FileSettings, update: dict[str, Any], note: Any) -> None:
    if settings.min_confidence is not None and settings.min_confidence > MAX_MIN_CONFIDENCE:
        update["min_confidence"] = MAX_MIN_CONFIDENCE
        note(
            "min_confidence",
            "limited",
            f"min_confidence {settings.min_confidence} limited to {MAX_MIN_CONFIDENCE}",
        )
    bounded = {
        "llm_threshold": LLM_THRESHOLD_RANGE,
        "budget_tokens": BUDGET_RANGE,
        "max_file_size": FILE_SIZE_RANGE,
        "jobs": (1, max(1, os.cpu_count() or 1)),
    }
    for key, (low, high) in bounded.items():
        value = getattr(settings, key)
        if value is None:
            continue
        kept = type(value)(_clamp(value, low, high))
        if kept != value:
            update[key] = kept
            note(key, "limited", f"{key} {value} limited to {kept}")


def _filters(settings: FileSettings, update: dict[str, Any], note: Any) -> None:
    whole = [p for p in settings.exclude if matches_everything([p])]
    kept = [p for p in settings.exclude if p not in whole]
    if whole:
        note("exclude", "refused", f"exclude {whole!r} would drop the whole tree")
    if matches_everything(kept):
        note("exclude", "refused", f"exclude {kept!r} together would drop the whole tree")
        kept = []
    if kept != settings.exclude:
        update["exclude"] = kept


def _baseline_problem(root: Path, name: str) -> str | None:
    """Why a repository's baseline path cannot be used (None: it can)."""
    path = Path(name)
    if path.is_absolute() or ".." in path.parts:
        return "it must be a path inside the repository"
    target = root / path
    try:
        resolved = target.resolve()
        if resolved != root.resolve() and root.resolve() not in resolved.parents:
            return "it leads outside the repository"
        if not target.exists():
            return None  # a missing baseline is skipped, as before
        if not target.is_file():
            return "not a regular file"
        if target.stat().st_size > MAX_BASELINE_BYTES:
            return f"larger than {MAX_BASELINE_BYTES >> 20} MiB"
    except (OSError, RuntimeError) as exc:
        return f"cannot be checked: {exc}"
    return None
