"""Finding and reading the files of a scan. Bad input is recorded, never fatal."""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Callable, Iterator, Sequence
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
    #: files scanned although they held bytes that are not UTF-8 (shown as U+FFFD)
    replaced: tuple[str, ...] = ()


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _inside(path: str, boundaries: Sequence[str]) -> bool:
    return any(path == b or path.startswith(b.rstrip(os.sep) + os.sep) for b in boundaries)


@dataclass(frozen=True)
class _Entry:
    """A file met by the walk: where it is, what to open, and whether a link led to it."""

    path: Path  # as found (under the scan path)
    target: Path  # what is read: the path itself, or a link's resolved target
    linked: bool
    real: str  # the resolved path of `target`


class _Walker:
    """Iterative walk of one scan path that never leaves the scan's boundaries.

    Symbolic links (to files or directories) are followed only when their target lies
    inside a scanned path; a directory is entered once (cycles and repeats are cut).
    Everything refused is recorded as skipped with the reason.
    """

    def __init__(
        self,
        boundaries: Sequence[str],
        excludes: Sequence[str],
        shown: Callable[[Path], str],
        errors: list[ScanError],
        skipped: list[Skipped],
    ) -> None:
        self.boundaries = boundaries
        self.excludes = excludes
        self.shown = shown
        self.errors = errors
        self.skipped = skipped
        self.entered: set[str] = set()

    def link_target(self, path: Path, is_dir: bool) -> str | None:
        """The resolved target of a link, or None (recorded as skipped) when it is
        broken or leads out of the scanned tree."""
        target = os.path.realpath(path)
        if not os.path.exists(target):
            self.skipped.append(Skipped(self.shown(path), "broken symbolic link"))
            return None
        if not _inside(target, self.boundaries):
            kind = "directory" if is_dir else "file"
            self.skipped.append(
                Skipped(self.shown(path), f"symbolic link to a {kind} outside the scanned tree")
            )
            return None
        return target

    def walk(self, top: Path) -> Iterator[_Entry]:
        """Files under `top`, sorted by name within each directory."""
        stack: list[tuple[Path, str]] = [(top, os.path.realpath(top))]
        while stack:
            directory, real = stack.pop()
            if real in self.entered:
                self.skipped.append(
                    Skipped(self.shown(directory), "directory already scanned (symbolic link loop)")
                )
                continue
            self.entered.add(real)
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self.errors.append(
                    ScanError(self.shown(directory), f"cannot list directory: {exc.strerror}")
                )
                continue
            subdirs: list[tuple[Path, str]] = []
            for entry in entries:
                path = Path(entry.path)
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir(follow_symlinks=True) if is_link else entry.is_dir()
                except OSError:
                    is_link, is_dir = False, False
                if is_dir:
                    if _excluded(entry.name, self.excludes):
                        continue
                    if is_link:
                        target = self.link_target(path, True)
                        if target is not None:
                            subdirs.append((path, target))
                    else:  # not a link: its real path is its parent's plus its name
                        subdirs.append((path, os.path.join(real, entry.name)))
                    continue
                if is_link:
                    if language_of(path) is None:
                        yield _Entry(path, path, True, "")  # counted as ignored, never opened
                        continue
                    target = self.link_target(path, False)
                    if target is not None:
                        yield _Entry(path, Path(target), True, target)
                    continue
                yield _Entry(path, path, False, os.path.join(real, entry.name))
            stack.extend(reversed(subdirs))


def _excluded(name: str, excludes: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, pat) for pat in excludes)


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISDIR, "directory"),
    ):
        if test(mode):
            return name
    return "special file"


def read_source(path: Path, shown: str, max_bytes: int) -> SourceFile | ScanError | Skipped:
    """Read one file, or say why it is not scanned.

    The file is opened without following a final symbolic link and without blocking
    (a named pipe or a device never hangs the scan), and only a regular file is read,
    at most `max_bytes` of it. Bytes that are not UTF-8 are decoded as U+FFFD, one per
    bad sequence, so the file is scanned and its line numbers stay exact.
    """
    language = language_of(shown) or language_of(path)  # a link is read as it is named
    if language is None:
        return Skipped(shown, "unsupported language")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link: only ever read through its resolved target
            broken = not os.path.exists(path)
            return Skipped(shown, "broken symbolic link" if broken else "symbolic link")
        return ScanError(shown, f"cannot read file: {exc.strerror or exc}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Skipped(shown, f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            return Skipped(shown, f"file too large ({info.st_size} bytes > limit {max_bytes})")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        return ScanError(shown, f"cannot read file: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return Skipped(shown, f"file too large (over the limit of {max_bytes} bytes)")
    if b"\0" in data[:BINARY_SNIFF]:
        return Skipped(shown, "binary file")
    text = data.decode("utf-8", "replace")
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
    file paths in the result are relative to it. Nothing outside the given paths is
    read: symbolic links that lead out of them are skipped with the reason.
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
    # What the user named is trusted, links included; links met below it are not.
    boundaries = [os.path.realpath(p) for p in resolved if os.path.exists(p)]
    files: list[SourceFile] = []
    errors: list[ScanError] = []
    skipped: list[Skipped] = []
    replaced: list[str] = []
    ignored = 0
    seen: set[str] = set()
    read: set[str] = set()

    root_prefix = str(root_abs).rstrip(os.sep) + os.sep

    def shown(path: Path) -> str:  # string work: pathlib costs most of a big walk
        absolute = os.path.abspath(path)
        if absolute.startswith(root_prefix):
            return absolute[len(root_prefix) :].replace(os.sep, "/")
        return _rel(Path(absolute), root_abs)

    walker = _Walker(boundaries, excludes, shown, errors, skipped)
    entries: list[_Entry] = []
    for given in resolved:
        if not given.exists() and not given.is_symlink():
            errors.append(ScanError(str(given), "no such file or directory"))
            continue
        if given.is_dir():
            entries.extend(walker.walk(given))
        else:
            real = os.path.realpath(given)
            entries.append(_Entry(given, Path(real), False, real))
    # A file reached both directly and through a link is read once, under its own name.
    direct = {e.real for e in entries if not e.linked}
    for entry in entries:
        name = shown(entry.path)
        if name in seen:
            continue
        seen.add(name)
        if language_of(entry.path) is None and entry.path not in resolved:
            ignored += 1
            continue
        real = entry.real
        if entry.linked and real in direct:
            skipped.append(Skipped(name, f"symbolic link to {shown(Path(real))}, scanned there"))
            continue
        if real in read:
            skipped.append(Skipped(name, "symbolic link to a file already scanned"))
            continue
        read.add(real)
        result = read_source(entry.target, name, max_bytes)
        if isinstance(result, SourceFile):
            if "\ufffd" in result.text:
                replaced.append(name)
            files.append(result)
        elif isinstance(result, ScanError):
            errors.append(result)
        else:
            skipped.append(result)
    return Discovery(
        root_abs, tuple(files), tuple(errors), tuple(skipped), ignored, tuple(replaced)
    )
