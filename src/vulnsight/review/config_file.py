"""Project configuration: `[tool.vulnsight]` in pyproject.toml, or `vulnsight.toml`.

Validated with pydantic (`extra="forbid"`) into clear `ConfigError`s, then turned into
the frozen `ScanConfig` the pipeline uses. Command-line flags override the file.

```toml
[tool.vulnsight]            # in vulnsight.toml the table header is optional
include = ["src/**"]
exclude = ["tests/fixtures/**"]
detectors = ["rules", "llm"]
model = "default"
min_confidence = 0.3
llm_threshold = 0.5
max_file_size = 1000000

[[tool.vulnsight.ignore]]
paths = ["tests/**"]
cwes = ["CWE-89"]
reason = "test fixtures build SQL on purpose"
```
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vulnsight.config import ScanConfig
from vulnsight.errors import ConfigError
from vulnsight.review.suppress import IgnoreRule

CONFIG_NAMES: tuple[str, ...] = ("vulnsight.toml", "pyproject.toml")


class IgnoreEntry(BaseModel):
    """One `[[tool.vulnsight.ignore]]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[str] = Field(default_factory=list, description="Globs relative to the root.")
    cwes: list[str] = Field(default_factory=list, description='CWE ids, e.g. "CWE-89".')
    rules: list[str] = Field(default_factory=list, description="Rule ids (or their last part).")
    reason: str = Field(default="ignored by configuration", min_length=1)

    @model_validator(mode="after")
    def _selects_something(self) -> IgnoreEntry:
        if not (self.paths or self.cwes or self.rules):
            raise ValueError("an ignore needs at least one of paths, cwes, rules")
        bad = [c for c in self.cwes if not c.upper().startswith("CWE-") or not c[4:].isdigit()]
        if bad:
            raise ValueError(f"not a CWE id: {', '.join(bad)} (write e.g. CWE-89)")
        return self


class ServerSettings(BaseModel):
    """`[tool.vulnsight.server]`: defaults of `vulnsight serve`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    max_request_bytes: int = Field(default=2_000_000, ge=1024)


class FileSettings(BaseModel):
    """Every key `[tool.vulnsight]` accepts; anything else is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include: list[str] = Field(default_factory=list, description="Only scan paths matching.")
    exclude: list[str] = Field(default_factory=list, description="Never scan paths matching.")
    detectors: list[Literal["rules", "llm", "flow"]] | None = Field(default=None, min_length=1)
    model: str | None = Field(default=None, min_length=1)
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    llm_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    budget_tokens: int | None = Field(default=None, ge=256)
    max_file_size: int | None = Field(default=None, ge=1)
    jobs: int | None = Field(default=None, ge=1, le=64)
    cache: bool = True
    cache_dir: str = Field(default=".vulnsight", min_length=1)
    baseline: str | None = None
    ignore: list[IgnoreEntry] = Field(default_factory=list)
    server: ServerSettings = Field(default_factory=ServerSettings)


@dataclass(frozen=True)
class ProjectConfig:
    """Validated settings and where they came from; relative paths resolve from `root`."""

    settings: FileSettings = field(default_factory=FileSettings)
    root: Path = Path(".")
    source: Path | None = None

    @property
    def ignores(self) -> tuple[IgnoreRule, ...]:
        """The configured ignores as suppression rules."""
        return tuple(
            IgnoreRule(tuple(i.paths), tuple(i.cwes), tuple(i.rules), i.reason)
            for i in self.settings.ignore
        )

    @property
    def state_dir(self) -> Path:
        """The `.vulnsight` directory: cache and triage decisions."""
        return self.root / self.settings.cache_dir

    @property
    def baseline(self) -> Path | None:
        """The configured baseline file, if any."""
        b = self.settings.baseline
        return self.root / b if b else None

    def scan_config(self, overrides: Mapping[str, Any] | None = None) -> ScanConfig:
        """The `ScanConfig` of these settings, with flags (`ScanConfig` field names) on top."""
        s = self.settings
        values: dict[str, Any] = {
            "include": tuple(s.include),
            "exclude": tuple(s.exclude),
        }
        optional = {
            "detectors": tuple(s.detectors) if s.detectors else None,
            "model": s.model,
            "min_confidence": s.min_confidence,
            "llm_threshold": s.llm_threshold,
            "budget_tokens": s.budget_tokens,
            "max_file_bytes": s.max_file_size,
            "jobs": s.jobs,
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        values.update(overrides or {})
        return ScanConfig(**values)


def _describe(exc: ValidationError, where: str) -> str:
    known = set(FileSettings.model_fields)
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top)"
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"unknown key '{loc}'{hint}")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return f"{where}: " + "; ".join(lines)


def parse(table: Mapping[str, Any], where: str = "configuration") -> FileSettings:
    """Validate a `[tool.vulnsight]` table."""
    try:
        return FileSettings.model_validate(dict(table))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where)) from exc


def load(path: Path) -> ProjectConfig:
    """Read and validate a configuration file (vulnsight.toml or pyproject.toml)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    table = doc.get("tool", {}).get("vulnsight")
    if table is None:
        if path.name == "pyproject.toml":
            return ProjectConfig(root=path.parent.resolve(), source=None)
        table = {k: v for k, v in doc.items() if k != "tool"}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.vulnsight] must be a table")
    where = f"{path} [tool.vulnsight]" if path.name == "pyproject.toml" else str(path)
    return ProjectConfig(parse(table, where), path.parent.resolve(), path)


def find(start: Path) -> tuple[Path | None, Path]:
    """The nearest vulnsight.toml, or pyproject.toml with `[tool.vulnsight]`, at or above
    `start`, searching up to the repository root; and the folder the search stopped in
    (the repository root, else `start`'s folder), which serves as the project root."""
    here = start.resolve()
    here = here if here.is_dir() else here.parent
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            if name == "vulnsight.toml":
                return candidate, folder
            try:
                if "vulnsight" in tomllib.loads(candidate.read_text("utf-8")).get("tool", {}):
                    return candidate, folder
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
                return candidate, folder  # let `load` report what is wrong with it
        if (folder / ".git").exists():
            return None, folder
    return None, here


def discover_config(explicit: Path | None, start: Path) -> ProjectConfig:
    """The `--config` file, else the nearest one, else defaults rooted at the repository
    (or `start`)."""
    if explicit is not None:
        return load(explicit)
    found, root = find(start)
    return load(found) if found is not None else ProjectConfig(root=root)
