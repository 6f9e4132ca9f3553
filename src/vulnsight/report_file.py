"""Writing a report file (`-o`) so it can never be mistaken for another run's.

Used by the command-line edges only. A report is written to a temporary file in the
same directory and renamed over the target, so a reader never sees half a report; a
target that is a symbolic link, or that lies in the scanned tree as a source file, is
refused; and a command claims its target before it starts, so that when the run fails
the top-level handler can remove a report left at that path by an earlier run (or
planted in a checkout), which CI would otherwise upload as this run's.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vulnsight.errors import ConfigError
from vulnsight.languages import language_of
from vulnsight.textsafe import safe_text


@dataclass
class OutputGuard:
    """The report paths the running command claimed, and which it has written."""

    claimed: list[Path] = field(default_factory=list)
    written: set[Path] = field(default_factory=set)

    def discard_stale(self) -> list[str]:
        """Remove whatever lies at a claimed path this run did not write (the run
        failed); return one note per path removed or that could not be removed."""
        notes: list[str] = []
        for path in self.claimed:
            if path in self.written or not os.path.lexists(path) or path.is_dir():
                continue
            try:
                path.unlink()
                notes.append(f"removed the old {path} so it is not taken for this run's report")
            except OSError as exc:
                notes.append(f"could not remove the old {path}: {exc.strerror or exc}")
        return notes


_GUARD: contextvars.ContextVar[OutputGuard | None] = contextvars.ContextVar(
    "vulnsight_output_guard", default=None
)


def start_guard() -> OutputGuard:
    """A fresh guard for one command invocation (the CLI's top level calls this)."""
    guard = OutputGuard()
    _GUARD.set(guard)
    return guard


def current_guard() -> OutputGuard | None:
    """The guard of the running command, if the CLI started one."""
    return _GUARD.get()


def claim(path: Path) -> None:
    """Say that this run will write `path`; if the run fails, what lies there goes."""
    guard = _GUARD.get()
    if guard is not None and path not in guard.claimed:
        guard.claimed.append(path)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_target(path: Path, scanned: Sequence[Path] = ()) -> None:
    """Refuse (ConfigError) an output path that writes through a symbolic link or onto
    a source file of the scanned tree.

    A link at the path itself is always refused; a linked directory on the way is refused
    when it lies inside a scanned directory (the repository could have planted it).
    """
    if path.is_symlink():
        raise ConfigError(f"refusing to write the report through symbolic link {path}")
    absolute = Path(os.path.abspath(path))
    roots = [Path(os.path.abspath(p)) for p in scanned]
    for parent in absolute.parents:
        if any(_inside(parent, r) for r in roots) and parent.is_symlink():
            raise ConfigError(
                f"refusing to write the report through symbolic link {parent} in the scanned tree"
            )
    real = Path(os.path.realpath(absolute))
    for root in roots:
        real_root = Path(os.path.realpath(root))
        if real == real_root or (_inside(real, real_root) and language_of(real) is not None):
            raise ConfigError(f"refusing to overwrite scanned source file {path} with the report")


def write_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file and a rename.

    Raises ConfigError when it cannot; then nothing is left at a temporary path.
    """
    if path.is_symlink():
        raise ConfigError(f"refusing to write the report through symbolic link {path}")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8", "surrogateescape"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    guard = _GUARD.get()
    if guard is not None:
        guard.written.add(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def prepare_output(output: Path | None, paths: Sequence[Path]) -> None:
    """Before a command scans `paths`: claim its report path (see `report_file`), refuse
    one that writes through a link or onto scanned source, and refuse paths that do not
    exist (ConfigError, exit 2)."""
    if output is not None:
        if output.is_symlink():
            claim(output)  # a planted link must not pass for this run's report either
        check_target(output, paths)
        claim(output)
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        shown = ", ".join(safe_text(str(p)) for p in missing)
        raise ConfigError(f"no such file or directory: {shown}")
    broken = [p for p in paths if not p.exists()]
    if broken:
        shown = ", ".join(safe_text(str(p)) for p in broken)
        raise ConfigError(f"broken symbolic link: {shown}")
