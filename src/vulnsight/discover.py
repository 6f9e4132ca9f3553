"""Finding and reading the files of a scan. Bad input is recorded, never fatal."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from vulnsight.languages import language_of
from vulnsight.types import ScanError, Skipped, SourceFile

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".vulnsight",
    "dist",
    "build",
)
BINARY_SNIFF = 8192


@dataclass(frozen=True)
class Discovery:
    """Readable source files found under the scan paths, and what was left out."""

    root: Path
    files: tuple[SourceFile, ...]
    errors: tuple[ScanError, ...]
    skipped: tuple[Skipped, ...]
    ignored: int  # files of languages vulnsight does not scan


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _walk(top: Path, excludes: Sequence[str], errors: list[ScanError]) -> Iterator[Path]:
    """Files under `top`, never following directory symlinks (so no symlink loops).

    Directories that cannot be listed are recorded in `errors`.
    """

    def onerror(exc: OSError) -> None:
        errors.append(ScanError(str(exc.filename), f"cannot list directory: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(top, followlinks=False, onerror=onerror):
        dirnames[:] = sorted(d for d in dirnames if not _excluded(d, excludes))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _excluded(name: str, excludes: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in excludes)


def read_source(path: Path, shown: str, max_bytes: int) -> SourceFile | ScanError | Skipped:
    """Read one file, or say why it is not scanned."""
    language = language_of(path)
    if language is None:
        return Skipped(shown, "unsupported language")
    try:
        if path.is_symlink() and not path.exists():
            return Skipped(shown, "broken symbolic link")
        if not path.is_file():
            return Skipped(shown, "not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            return Skipped(shown, f"file too large ({size} bytes > limit {max_bytes})")
        data = path.read_bytes()
    except OSError as exc:
        return ScanError(shown, f"cannot read file: {exc.strerror or exc}")
    if b"\0" in data[:BINARY_SNIFF]:
        return Skipped(shown, "binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(shown, f"invalid UTF-8 at byte {exc.start}")
    if text.startswith("\ufeff"):
        text = text[1:]
    return SourceFile(path=shown, language=language, text=text)


def discover(
    paths: Sequence[str | Path],
    *,
    max_bytes: int = 1_000_000,
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
) -> Discovery:
    """Collect the source files under `paths`.

    The root is the single directory given, or the common parent of everything given;
    file paths in the result are relative to it.
    """
    resolved = [Path(p) for p in paths]
    dirs = [p for p in resolved if p.is_dir()]
    if len(resolved) == 1 and dirs:
        root = resolved[0]
    else:
        parents = [p if p.is_dir() else p.parent for p in resolved]
        try:
            root = Path(os.path.commonpath([os.path.abspath(p) for p in parents]))
        except ValueError:
            root = Path(".")
    root_abs = Path(os.path.abspath(root))
    files: list[SourceFile] = []
    errors: list[ScanError] = []
    skipped: list[Skipped] = []
    ignored = 0
    seen: set[str] = set()
    for given in resolved:
        if not given.exists() and not given.is_symlink():
            errors.append(ScanError(str(given), "no such file or directory"))
            continue
        candidates = [given] if not given.is_dir() else list(_walk(given, excludes, errors))
        for path in candidates:
            shown = _rel(Path(os.path.abspath(path)), root_abs)
            if shown in seen:
                continue
            seen.add(shown)
            if language_of(path) is None and path is not given:
                ignored += 1
                continue
            result = read_source(path, shown, max_bytes)
            if isinstance(result, SourceFile):
                files.append(result)
            elif isinstance(result, ScanError):
                errors.append(result)
            else:
                skipped.append(result)
    return Discovery(root_abs, tuple(files), tuple(errors), tuple(skipped), ignored)
