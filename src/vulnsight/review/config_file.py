"""Configuration: the repository's `vulnsight.toml` / `[tool.vulnsight]`, the user's
own configuration file, and the trust boundary between them.

Validated with pydantic (`extra="forbid"`) into clear `ConfigError`s, then turned into
the frozen `ScanConfig` the pipeline uses. Precedence, lowest first: defaults, the
repository's configuration (within the limits of `review/trust.py`), the user
configuration, a `--config` file outside the scanned repository, command-line flags.

* The repository's configuration is the nearest `vulnsight.toml` (or `pyproject.toml`
  with `[tool.vulnsight]`; `vulnsight.toml` wins in the same folder) at or above the
  scanned path, up to the git repository's root; outside a git repository only the
  scanned folder itself is searched. It is untrusted, and so is a `--config` file that
  lies inside the scanned repository or path (CI passes committed files, which a pull
  request can change). Read from a repository, a file that is a link leading out of it
  or that is larger than 1 MiB is an error.
* The user configuration is `$VULNSIGHT_CONFIG` (an empty value: none), else
  `$XDG_CONFIG_HOME/vulnsight/config.toml`, else `~/.config/vulnsight/config.toml`.
  It takes the same keys (table header optional) and is trusted, like a `--config`
  file outside the scanned repository.

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
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vulnsight.config import ScanConfig
from vulnsight.errors import ConfigError
from vulnsight.review.suppress import IgnoreRule
from vulnsight.textsafe import safe_text as printable
from vulnsight.types import ConfigEffect

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
    cache_dir: str | None = Field(
        default=None, min_length=1, description="No longer used: state lives in state_dir."
    )
    state_dir: str | None = Field(
        default=None, min_length=1, description="User config only: where scanner state lives."
    )
    allow_repo_model: bool = Field(
        default=False, description="User config only: honour a repository's model setting."
    )
    baseline: str | None = None
    ignore: list[IgnoreEntry] = Field(default_factory=list)
    server: ServerSettings = Field(default_factory=ServerSettings)


@dataclass(frozen=True)
class ProjectConfig:
    """The effective settings of a scan and where they came from.

    `settings` is what applies (the repository's within limits, the user's on top);
    `root` resolves relative paths of the repository configuration; `repo_root` keys the
    state directory (None: `root`); `effects` lists what the repository's configuration
    changed or was refused; `ignore_rules` (None: from `settings`) keep their origin.
    """

    settings: FileSettings = field(default_factory=FileSettings)
    root: Path = Path(".")
    source: Path | None = None
    repo_root: Path | None = None
    user_source: Path | None = None
    effects: tuple[ConfigEffect, ...] = ()
    ignore_rules: tuple[IgnoreRule, ...] | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    trusted: bool = False

    def origin_of(self, key: str) -> str:
        """Whose setting `key` is: "repository" or "user" (trusted files included)."""
        return self.origins.get(key, "user" if self.trusted else "repository")

    @property
    def ignores(self) -> tuple[IgnoreRule, ...]:
        """The configured ignores as suppression rules."""
        if self.ignore_rules is not None:
            return self.ignore_rules
        return _ignore_rules(self.settings, "user" if self.trusted else "repository", "")

    @property
    def state_dir(self) -> Path:
        """The per-user state directory of this repository (cache, triage decisions);
        never inside the scanned tree, see `review/state.py`."""
        from vulnsight.review.state import state_dir_for

        return state_dir_for(self.repo_root or self.root, self.settings.state_dir)

    @property
    def baseline(self) -> Path | None:
        """The configured baseline file, if any."""
        b = self.settings.baseline
        return self.root / b if b else None

    @property
    def source_label(self) -> str:
        """The repository configuration's path as shown in reports (relative to the
        repository when it lies inside it)."""
        return _label(self.source, self.repo_root or self.root) if self.source else ""

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
        values.setdefault("untrusted_model", self.repo_model and "model" not in (overrides or {}))
        return ScanConfig(**values)

    def effects_for(self, config: ScanConfig) -> tuple[ConfigEffect, ...]:
        """`effects` without the applied or limited settings that the user's configuration
        or flags overrode in `config` (refusals are always listed)."""
        mine = self.scan_config()
        kept = []
        for e in self.effects:
            attr = "max_file_bytes" if e.key == "max_file_size" else e.key
            if e.action in ("applied", "limited") and attr in _SCAN_KEYS:
                overridden = getattr(config, attr) != getattr(mine, attr)
                if overridden or self.origin_of(e.key) != "repository":
                    continue  # the repository's value played no part
            kept.append(e)
        return tuple(kept)

    @property
    def repo_model(self) -> bool:
        """Whether the model in `settings` is the scanned repository's choice (it then
        never receives the user's API key)."""
        return self.settings.model is not None and self.origin_of("model") == "repository"


_SCAN_KEYS = (
    "model",
    "detectors",
    "min_confidence",
    "llm_threshold",
    "max_file_bytes",
    "budget_tokens",
    "jobs",
)


def _ignore_rules(settings: FileSettings, origin: str, source: str) -> tuple[IgnoreRule, ...]:
    return tuple(
        IgnoreRule(tuple(i.paths), tuple(i.cwes), tuple(i.rules), i.reason, origin, source)
        for i in settings.ignore
    )


def _label(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _describe(exc: ValidationError, where: str) -> str:
    known = set(FileSettings.model_fields)
    lines = []
    for err in exc.errors():
        loc = printable(".".join(str(p) for p in err["loc"])) or "(top)"
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"unknown key '{loc}'{hint}")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return f"{printable(where)}: " + "; ".join(lines)


def parse(table: Mapping[str, Any], where: str = "configuration") -> FileSettings:
    """Validate a `[tool.vulnsight]` table."""
    try:
        return FileSettings.model_validate(dict(table))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where)) from exc


def _read(path: Path, limit: int | None) -> str:
    """A configuration file's text; at most `limit` bytes (None: no limit)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1 if limit is not None else -1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if limit is not None and len(data) > limit:
        raise ConfigError(f"{path}: larger than {limit >> 10} KiB; not a configuration file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({exc.reason})") from exc


def _table(path: Path, text: str) -> dict[str, Any] | None:
    """The `[tool.vulnsight]` table of a configuration file (None: a pyproject.toml
    without one)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from exc
    tool = doc.get("tool", {})
    table = tool.get("vulnsight") if isinstance(tool, dict) else None
    if table is None:
        if path.name == "pyproject.toml":
            return None
        table = {k: v for k, v in doc.items() if k != "tool"}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.vulnsight] must be a table")
    return table


def _guard(path: Path, root: Path) -> None:
    """Refuse a repository's configuration file that leads out of the repository."""
    from vulnsight.review.state import inside

    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not inside(resolved, root) and path.is_symlink():
        raise ConfigError(
            f"refusing to read {path}: it is a link to {resolved}, outside the scanned repository"
        )
    if not resolved.is_file():
        raise ConfigError(f"refusing to read {path}: not a regular file")


def load(path: Path, untrusted_root: Path | None = None) -> ProjectConfig:
    """Read and validate a configuration file (vulnsight.toml or pyproject.toml).

    With `untrusted_root` the file belongs to the scanned repository: it must not lead
    out of it and may be at most `trust.MAX_CONFIG_BYTES` long; no limits are applied
    to its settings here (see `discover_config`)."""
    from vulnsight.review.trust import MAX_CONFIG_BYTES

    if untrusted_root is not None:
        _guard(path, untrusted_root)
    text = _read(path, MAX_CONFIG_BYTES if untrusted_root is not None else None)
    table = _table(path, text)
    if table is None:
        return ProjectConfig(root=path.parent.resolve(), source=None)
    where = f"{path} [tool.vulnsight]" if path.name == "pyproject.toml" else str(path)
    return ProjectConfig(parse(table, where), path.parent.resolve(), path)


def repository_root(start: Path) -> Path | None:
    """The git repository holding `start` (the nearest folder with `.git`), if any."""
    here = start.resolve()
    here = here if here.is_dir() else here.parent
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def find(start: Path) -> tuple[Path | None, Path]:
    """The nearest vulnsight.toml, or pyproject.toml with `[tool.vulnsight]`, at or above
    `start`, searching up to the git repository's root (outside a repository: `start`'s
    folder only, so a file planted in a shared parent such as /tmp is never read); and
    the folder the search stopped in, which serves as the project root."""
    from vulnsight.review.trust import MAX_CONFIG_BYTES

    here = start.resolve()
    here = here if here.is_dir() else here.parent
    repo = repository_root(here)
    folders = [here] if repo is None else [here, *here.parents]
    for folder in folders:
        for name in CONFIG_NAMES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            if name == "vulnsight.toml":
                return candidate, folder
            try:
                text = _read(candidate, MAX_CONFIG_BYTES)
                tool = tomllib.loads(text).get("tool", {})
                if isinstance(tool, dict) and "vulnsight" in tool:
                    return candidate, folder
            except (ConfigError, tomllib.TOMLDecodeError, RecursionError):
                return candidate, folder  # let `load` report what is wrong with it
        if folder == repo:
            return None, folder
    return None, here


def user_config_path() -> Path | None:
    """The user configuration file: $VULNSIGHT_CONFIG (empty: none), else
    $XDG_CONFIG_HOME/vulnsight/config.toml, else ~/.config/vulnsight/config.toml."""
    env = os.environ.get("VULNSIGHT_CONFIG")
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "vulnsight" / "config.toml"


def load_user(path: Path | None = None) -> ProjectConfig | None:
    """The user configuration (trusted), or None when there is none. A file named by
    $VULNSIGHT_CONFIG must exist."""
    path = path if path is not None else user_config_path()
    if path is None:
        return None
    if not path.is_file():
        if os.environ.get("VULNSIGHT_CONFIG"):
            raise ConfigError(f"$VULNSIGHT_CONFIG names {path}, which is not a file")
        return None
    table = _table(path, _read(path, None))
    if table is None:
        return None
    return ProjectConfig(parse(table, str(path)), path.parent.resolve(), path, trusted=True)


def discover_config(
    explicit: Path | None,
    start: Path,
    allow_repo_model: bool = False,
    user: ProjectConfig | None | bool = True,
) -> ProjectConfig:
    """The effective configuration of a scan of `start`.

    `explicit` is `--config FILE`: inside the scanned repository (or `start`) it is
    repository configuration, untrusted; elsewhere it is trusted and replaces the
    repository's own file. `allow_repo_model` (`--allow-repo-model`) lets the
    repository's configuration choose any model. `user`: True reads the user
    configuration, False skips it, or pass one.
    """
    from vulnsight.review.state import inside

    found, root = find(start)
    repo = repository_root(start) or root
    trusted_file: ProjectConfig | None = None
    repo_file: ProjectConfig | None = None
    if explicit is not None:
        if inside(explicit, repo) or inside(explicit, start):
            repo_file = load(explicit, untrusted_root=repo)
        else:
            trusted_file = replace(load(explicit), trusted=True)
    elif found is not None:
        repo_file = load(found, untrusted_root=repo)
    shadowed = _shadowed(found if explicit is None else None, repo)
    mine = user if isinstance(user, ProjectConfig) else None
    planted = None
    at = user_config_path() if user is True else None
    if at is not None and not (inside(at, repo) or inside(at, start)):
        mine = load_user(at)
    elif at is not None and at.is_file():
        # e.g. scanning $HOME itself: a tree could carry .config/vulnsight/config.toml.
        planted = ConfigEffect(
            "user configuration",
            "ignored",
            f"{at} lies inside the scanned tree: not trusted, not read",
            _label(at, repo),
        )
    trusted = [c for c in (mine, trusted_file) if c is not None]
    project = combine(repo_file, trusted, repo, root, allow_repo_model)
    extra = tuple(e for e in (planted, shadowed) if e is not None)
    if extra:
        project = replace(project, effects=(*project.effects, *extra))
    return project


def _shadowed(found: Path | None, repo: Path) -> ConfigEffect | None:
    """A note when a vulnsight.toml hides a `[tool.vulnsight]` in the pyproject.toml
    beside it (a reviewer reading only one of them would be misled)."""
    if found is None or found.name != "vulnsight.toml":
        return None
    other = found.parent / "pyproject.toml"
    if not other.is_file():
        return None
    from vulnsight.review.trust import MAX_CONFIG_BYTES

    try:
        tool = tomllib.loads(_read(other, MAX_CONFIG_BYTES)).get("tool", {})
    except (ConfigError, tomllib.TOMLDecodeError, RecursionError):
        return None
    if not (isinstance(tool, dict) and "vulnsight" in tool):
        return None
    return ConfigEffect(
        "pyproject.toml",
        "ignored",
        f"[tool.vulnsight] in {_label(other, repo)} is not read: {_label(found, repo)} wins",
        _label(other, repo),
    )


def combine(
    repo_file: ProjectConfig | None,
    trusted: list[ProjectConfig],
    repo: Path,
    root: Path,
    allow_repo_model: bool = False,
) -> ProjectConfig:
    """The repository's configuration within limits, with trusted ones on top (later
    ones win, key by key; ignores of every source apply)."""
    from vulnsight.review.trust import limit

    allow = allow_repo_model or any(t.settings.allow_repo_model for t in trusted)
    settings = FileSettings()
    effects: tuple[ConfigEffect, ...] = ()
    ignores: list[IgnoreRule] = []
    origins: dict[str, str] = {}
    source = None
    if repo_file is not None and repo_file.source is not None:
        source = repo_file.source
        limited = limit(repo_file.settings, _label(source, repo), repo_file.root, allow)
        settings, effects = limited.settings, limited.effects
        origins.update({k: "repository" for k in repo_file.settings.model_fields_set})
        ignores.extend(_ignore_rules(settings, "repository", _label(source, repo)))
        root = repo_file.root
    for t in trusted:
        given = {k: getattr(t.settings, k) for k in t.settings.model_fields_set if k != "ignore"}
        if "baseline" in given and given["baseline"] is not None:
            given["baseline"] = str((t.root / given["baseline"]).absolute())
        settings = settings.model_copy(update=given)
        ignores.extend(_ignore_rules(t.settings, "user", str(t.source or "")))
        origins.update({k: "user" for k in given})
    return ProjectConfig(
        settings=settings,
        root=root,
        source=source,
        repo_root=repo,
        user_source=next((t.source for t in trusted), None),
        effects=effects,
        ignore_rules=tuple(ignores),
        origins=origins,
    )
