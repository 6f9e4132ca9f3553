"""Which commits of a repository's history are security fixes worth learning from.

Pure: a commit's message and the paths it touches go in, a decision comes out. The
patterns are conservative on purpose: label noise (a refactor taken for a fix, a test
taken for code) hurts a vulnerability model more than a smaller corpus does
(CleanVul, VulSifter), so a commit is kept only when its message names an advisory
(CVE, GHSA) or says plainly that it fixes a security weakness.

Commit messages and file names come from the repository, which is untrusted: they are
matched as text and never interpreted otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from vulnsight.languages import language_of

CVE_RE = re.compile(r"\bCVE-(\d{4})-(\d{4,7})\b", re.IGNORECASE)
GHSA_RE = re.compile(r"\bGHSA(?:-[23456789cfghjmpqrvwx]{4}){3}\b", re.IGNORECASE)
CWE_RE = re.compile(r"\bCWE[- ]?(\d{1,4})\b", re.IGNORECASE)

#: Wording that says a commit fixes a security weakness (matched case-insensitively).
#: Bare "security" or "overflow" are left out: they also name features and ordinary bugs.
DEFAULT_PATTERNS: tuple[str, ...] = (
    r"\bsecurity (?:fix|issue|bug|vulnerabilit(?:y|ies)|flaw|problem|hole)",
    r"\b(?:fix|fixes|fixed|prevent|avoid|patch)(?:es|ed)?\b.{0,40}\bvulnerabilit(?:y|ies)\b",
    r"\bcross[- ]site scripting\b",
    r"\bxss\b",
    r"\bsql injection\b",
    r"\b(?:command|code|shell|template|header|crlf|ldap|xpath|argument) injection\b",
    r"\b(?:path|directory) traversal\b",
    r"\bzip ?slip\b",
    r"\b(?:heap|stack|global|integer|buffer)[- ](?:based )?(?:buffer )?(?:overflow|underflow|"
    r"overrun|over-read|overread)\b",
    r"\bout[- ]of[- ]bounds? (?:read|write|access)\b",
    r"\buse[- ]after[- ]free\b",
    r"\bdouble[- ]free\b",
    r"\bnull (?:pointer )?dereference\b",
    r"\bredos\b",
    r"\bregular expression denial of service\b",
    r"\bprototype pollution\b",
    r"\bopen redirect\b",
    r"\bxxe\b",
    r"\bssrf\b",
    r"\bserver[- ]side request forgery\b",
    r"\binsecure deserialization\b",
    r"\bformat string (?:vulnerability|bug|attack)\b",
    r"\breentrancy\b",
    r"\b(?:fix|fixes|address|addresses|resolve)\b.{0,20}\baudit (?:finding|issue)s?\b",
)

#: Wording that names a weakness class, mapped to its CWE when no CWE id is given.
CWE_WORDING: tuple[tuple[str, str], ...] = (
    (r"\bcross[- ]site scripting\b|\bxss\b", "CWE-79"),
    (r"\bsql injection\b", "CWE-89"),
    (r"\b(?:command|shell) injection\b", "CWE-78"),
    (r"\bcode injection\b", "CWE-94"),
    (r"\b(?:path|directory) traversal\b|\bzip ?slip\b", "CWE-22"),
    (r"\buse[- ]after[- ]free\b", "CWE-416"),
    (r"\bdouble[- ]free\b", "CWE-415"),
    (r"\bnull (?:pointer )?dereference\b", "CWE-476"),
    (r"\binteger (?:overflow|underflow)\b", "CWE-190"),
    (r"\bout[- ]of[- ]bounds? read\b|\bover-?read\b", "CWE-125"),
    (
        r"\bout[- ]of[- ]bounds? write\b|\b(?:heap|stack|buffer)[- ](?:based )?(?:buffer )?"
        r"(?:overflow|overrun)\b",
        "CWE-787",
    ),
    (r"\bredos\b|\bregular expression denial of service\b", "CWE-1333"),
    (r"\bprototype pollution\b", "CWE-1321"),
    (r"\bopen redirect\b", "CWE-601"),
    (r"\bxxe\b", "CWE-611"),
    (r"\bssrf\b|\bserver[- ]side request forgery\b", "CWE-918"),
    (r"\binsecure deserialization\b", "CWE-502"),
    (r"\bformat string\b", "CWE-134"),
    (r"\breentrancy\b", "CWE-841"),
)

#: Weaknesses of memory-unsafe languages only.
MEMORY_CWES = frozenset(
    {"CWE-119", "CWE-120", "CWE-121", "CWE-122", "CWE-125", "CWE-787", "CWE-416", "CWE-415",
     "CWE-476", "CWE-134", "CWE-401"}
)  # fmt: skip
#: Weaknesses of fixed-width integers: C, C++ and Solidity (before 0.8).
INTEGER_CWES = frozenset({"CWE-190", "CWE-191", "CWE-681"})

# A revert of a fix would swap the labels; a merge repeats changes made elsewhere.
_REVERT_RE = re.compile(r"^\s*revert\b", re.IGNORECASE)
# A subject that says the change is not a security fix, or fixes a fix's regression.
NOT_A_FIX_RE = re.compile(
    r"\bharmless\b|\bno security (?:impact|implications?|issue|relevance)\b|"
    r"\bnot a security\b|\bfalse positives?\b|\bregressions? (?:introduced|caused) by\b",
    re.IGNORECASE,
)

_TEST_PARTS = frozenset(
    {
        "test", "tests", "testing", "testsuite", "__tests__", "__mocks__", "spec", "specs",
        "fixtures", "fuzz", "fuzzing", "oss-fuzz", "benchmark", "benchmarks", "bench",
        "example", "examples", "sample", "samples", "demo", "doc", "docs", "documentation",
    }
)  # fmt: skip
_VENDOR_PARTS = frozenset(
    {
        "vendor", "vendored", "_vendor", "third_party", "thirdparty", "3rdparty", "external",
        "deps", "node_modules", "bower_components", "dist", "build", "out", "umd", "bundle",
    }
)  # fmt: skip
_TEST_NAME_RE = re.compile(
    r"(?:^test_|^tests?\.|_tests?\.[a-z]+$|\.(?:test|spec)\.[a-z]+$|^conftest\.py$|"
    r"_spec\.[a-z]+$|^test[A-Z_-])"
)


@dataclass(frozen=True)
class FixPolicy:
    """What counts as a security-fix commit and how much change a pair may carry."""

    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    max_files: int = 20  # commits touching more files are releases, merges or refactors
    max_functions: int = 8  # more changed functions than this: a refactor, not a fix
    max_changed_lines: int = 40  # per function, deleted + added lines
    max_chars: int = 12_000  # per side, as in the shared datasets
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_files", "max_functions", "max_changed_lines", "max_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        compiled = tuple(re.compile(p, re.IGNORECASE) for p in self.patterns)
        object.__setattr__(self, "_compiled", compiled)

    def wording(self, message: str) -> str | None:
        """The first security-fix wording found in `message`, or None."""
        for pattern in self._compiled:
            found = pattern.search(message)
            if found:
                return found.group(0)
        return None


@dataclass(frozen=True)
class CommitInfo:
    """One commit as read from `git log`: identity, parents, message, changed paths."""

    sha: str
    parents: tuple[str, ...]
    message: str
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    """The verdict on one commit: kept or not, why, and the advisories it names."""

    kept: bool
    reason: str
    cves: tuple[str, ...] = ()
    ghsas: tuple[str, ...] = ()
    cwes: tuple[str, ...] = ()  # the weaknesses the message names (see `cwe_of`)
    cwe_from: str | None = None  # "id" (CWE-nnn in the message) or "wording"


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def advisories(message: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The CVE and GHSA ids a message names, upper-cased, in order of first mention."""
    cves = _unique([f"CVE-{m.group(1)}-{m.group(2)}" for m in CVE_RE.finditer(message)])
    ghsas = _unique(["GHSA" + m.group(0)[4:].lower() for m in GHSA_RE.finditer(message)])
    return cves, ghsas


def cwe_of(message: str) -> tuple[tuple[str, ...], str | None]:
    """(the CWEs a message names, how they were found): explicit CWE ids if any ("id"),
    else every weakness its wording names ("wording"), else ((), None)."""
    ids = _unique([f"CWE-{int(m.group(1))}" for m in CWE_RE.finditer(message)])
    if ids:
        return ids, "id"
    worded = _unique(
        [cwe for pattern, cwe in CWE_WORDING if re.search(pattern, message, re.IGNORECASE)]
    )
    return worded, ("wording" if worded else None)


def cwe_for(cwes: tuple[str, ...], language: str) -> str | None:
    """The one CWE of `cwes` that can apply to code in `language`, or None when none or
    several do (a commit fixing "SQL injection and a buffer overflow" gives its Python
    function CWE-89 and its C function nothing, since C can have both)."""
    native = language in ("c", "cpp")
    fits = [
        c
        for c in cwes
        if native or (c not in MEMORY_CWES and (c not in INTEGER_CWES or language == "solidity"))
    ]
    return fits[0] if len(fits) == 1 else None


def is_test_path(path: str) -> bool:
    """Whether a path is a test, fixture, example or documentation file."""
    parts = PurePosixPath(path.lower()).parts
    if any(p in _TEST_PARTS for p in parts[:-1]):
        return True
    return bool(_TEST_NAME_RE.search(PurePosixPath(path).name))


def is_vendored_path(path: str) -> bool:
    """Whether a path is a copy of other code or a build output (minified, bundled)."""
    parts = PurePosixPath(path.lower()).parts
    name = parts[-1] if parts else ""
    return any(p in _VENDOR_PARTS for p in parts[:-1]) or ".min." in name or ".bundle." in name


def is_code_path(path: str) -> bool:
    """Whether a changed path can yield pairs: a scanned language, not a test, not vendored."""
    return language_of(path) is not None and not is_test_path(path) and not is_vendored_path(path)


def select_commit(commit: CommitInfo, policy: FixPolicy) -> Selection:
    """Keep `commit` when it is a plain (non-merge) commit whose message names a CVE or
    GHSA advisory, or whose subject line has security-fix wording (and does not call the
    change harmless or a regression fix), and which changes some code file (not only
    tests, docs or version files) without touching more than `policy.max_files` files."""
    if len(commit.parents) != 1:
        return Selection(False, "merge" if commit.parents else "root commit")
    if _REVERT_RE.match(commit.message):
        return Selection(False, "revert")
    subject = commit.message.strip().split("\n", 1)[0]
    if NOT_A_FIX_RE.search(subject):
        return Selection(False, "not a security fix (says its subject)")
    cves, ghsas = advisories(commit.message)
    # Advisory ids count anywhere in the message; wording only in the subject line (a
    # body that mentions "a security issue" in passing does not make a fix).
    wording = policy.wording(subject)
    if not cves and not ghsas and wording is None:
        return Selection(False, "no security wording")
    if len(commit.paths) > policy.max_files:
        return Selection(False, f"too many files ({len(commit.paths)})")
    if not any(is_code_path(p) for p in commit.paths):
        return Selection(False, "no code changed (tests, docs or version files only)")
    cwes, cwe_from = cwe_of(commit.message)
    reason = ", ".join([*cves, *ghsas]) or f"wording: {wording}"
    return Selection(True, reason, cves, ghsas, cwes, cwe_from)
