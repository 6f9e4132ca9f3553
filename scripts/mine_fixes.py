"""Mine vulnerable/fixed function pairs from the security-fix history of public
repositories (the `harvest --fixes` core run over local mirrors).

    python scripts/mine_fixes.py                       # mine every repository in the list
    python scripts/mine_fixes.py --licences OWNER/NAME # print list lines with detected licences
    python scripts/mine_fixes.py --listed-commits data/fixes/commits.tsv
                                        # mine exactly the commits listed (reproduce the pairs)

Reads `data/fixes/repos.txt` (one `owner/name<TAB>SPDX licence` a line; '#' comments),
finds each repository's bare mirror at `<mirrors>/<owner>+<name>/repo` (what the
session's `fetch` tool brings), refuses any repository that `reserved.txt` lists (or
whose name is a reserved package), checks that the licence recorded is the licence the
mirror's LICENSE file states, and writes:

* `data/fixes/pairs.jsonl.gz`: the records (shared-schema JSONL, gzip with a fixed
  timestamp, so the same mirrors give the same bytes);
* `data/fixes/commits.tsv`: every commit learned from (repo, commit, advisories, why it
  was selected, licence, pairs);
* `data/fixes/STATS.md`: pairs by language, CWE and repository, and what was filtered.

Deterministic: repositories in list order, each history from its HEAD, newest first.
With `--listed-commits`, only the commits a `commits.tsv` lists are read, repository by
repository and commit by commit in the file's order (the order a full run wrote them),
so the pairs are reproducible from the committed list without the history walk; each
repository's licence is the list's column, checked against the mirror as above.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from vulnsight.bench.records import is_reserved
from vulnsight.train.fix_commits import CommitInfo, FixPolicy, select_commit
from vulnsight.train.fix_harvest import FixHarvest, ListedHistory, UsedCommit, harvest_fixes
from vulnsight.train.gitread import GitRepo

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "fixes"

# SPDX id -> phrases that must all appear (lower-cased, whitespace collapsed); first match wins.
LICENCES: list[tuple[str, tuple[str, ...]]] = [
    ("AGPL-3.0", ("gnu affero general public license", "version 3, 19 november 2007")),
    ("LGPL-3.0", ("gnu lesser general public license", "version 3, 29 june 2007")),
    ("LGPL-2.1", ("gnu lesser general public license", "version 2.1, february 1999")),
    ("LGPL-2.0", ("gnu library general public license", "version 2, june 1991")),
    ("GPL-3.0", ("gnu general public license", "version 3, 29 june 2007")),
    ("GPL-2.0", ("gnu general public license", "version 2, june 1991")),
    ("MPL-2.0", ("mozilla public license", "version 2.0")),
    ("EPL-2.0", ("eclipse public license - v 2.0",)),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("BSL-1.0", ("boost software license",)),
    ("BlueOak-1.0.0", ("blue oak model license", "1.0.0")),
    ("Unlicense", ("this is free and unencumbered software",)),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("ISC", ("permission to use, copy, modify, and distribute this software for any purpose",
             "the software is provided \"as is\" and the author disclaims")),
    ("PostgreSQL", ("permission to use, copy, modify, and distribute this software and its "
                    "documentation for any purpose, without fee, and without a written "
                    "agreement",)),
    ("HPND", ("permission to use, copy, modify and distribute this software and its "
              "documentation for any purpose and without fee is hereby granted",)),
    ("MIT", ("permission is hereby granted, free of charge",)),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "neither the name")),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms",
                      "may not be used to endorse or promote")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("Zlib", ("this software is provided 'as-is'", "altered source versions must be plainly")),
    ("PSF-2.0", ("python software foundation license",)),
]  # fmt: skip
OSI = {spdx for spdx, _ in LICENCES}
# Source-available licences: a repository under one is not mined.
NOT_OSI_MARKERS = (
    "server side public license",
    "redis source available license",
    "business source license",
)
LICENCE_FILE = re.compile(r"^(?:licen[cs]e|copying|copyright)(?:[._-].*)?$", re.IGNORECASE)


def detect_licence(text: str) -> str | None:
    """The SPDX id a licence text states, or None when it is not a recognised OSI one."""
    flat = " ".join(text.lower().split())
    if any(marker in flat for marker in NOT_OSI_MARKERS):
        return None
    for spdx, phrases in LICENCES:
        # a GNU licence is the one whose title opens the file (the GPL's text names the LGPL)
        head = flat[:400] if "GPL" in spdx else flat
        if phrases[0] in head and all(p in flat for p in phrases[1:]):
            return spdx
    return None


def _git(git_dir: Path, *args: str) -> bytes:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "LC_ALL": "C",
           "PATH": "/usr/bin:/bin", "GIT_NO_REPLACE_OBJECTS": "1"}  # fmt: skip
    return subprocess.run(
        ["git", "-c", f"safe.directory={git_dir}", "-c", "core.hooksPath=/dev/null",
         "--git-dir", str(git_dir), *args],
        env=env, capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip


def mirror_licence(git_dir: Path) -> str | None:
    """The licence of the repository's HEAD: its top-level LICENSE/COPYING file."""
    names = _git(git_dir, "ls-tree", "--name-only", "-z", "HEAD").decode("utf-8", "replace")
    candidates = sorted(n for n in names.split("\0") if LICENCE_FILE.match(n))
    for name in candidates:
        try:
            text = _git(git_dir, "cat-file", "blob", f"HEAD:{name}").decode("utf-8", "replace")
        except subprocess.CalledProcessError:
            continue
        found = detect_licence(text)
        if found:
            return found
    return None


def reserved_names(path: Path) -> tuple[set[str], set[str]]:
    """(reserved owner/name repositories, reserved package names), lower-cased."""
    repos: set[str] = set()
    packages: set[str] = set()
    if not path.is_file():
        return repos, packages
    for line in path.read_text().splitlines():
        kind, _, value = line.partition(":")
        value = value.split("#")[0].strip().lower()
        if kind.strip() == "repository" and value:
            repos.add(value)
        elif kind.strip() == "package" and value:
            name, _, alias = value.partition("(")
            name = name.strip()
            if name.startswith("@"):  # @scope/name: the scope, and scope-name as a repo name
                scope, _, rest = name[1:].partition("/")
                packages.update({scope, f"{scope}-{rest}"})
            else:
                packages.add(name)
            packages.update(alias.strip(" )").split())
    return repos, packages


#: Packages the project measures on as never-trained-on code: the held-out group of
#: benchmarks/rules_realcode.py (false positives on mature code) and the clean functions
#: the default model's thresholds were calibrated on. Mining them would spoil both.
HELD_OUT = frozenset(
    {
        "yaml/pyyaml", "pygments/pygments", "docutils/docutils", "encode/httpx",
        "django/django", "jashkenas/underscore", "caolan/async", "websockets/ws",
        "expressjs/body-parser", "yargs/yargs", "reactivex/rxjs", "libexpat/libexpat",
        "curl/curl", "leethomason/tinyxml2", "transmissions11/solmate", "uniswap/v3-core",
        "redis/redis", "tmux/tmux", "google/leveldb", "google/snappy", "moment/moment",
        "handlebars-lang/handlebars.js", "colinhacks/zod", "safe-global/safe-smart-account",
        "chiru-labs/erc721a",
    }
)  # fmt: skip


def check_not_reserved(repo: str, reserved: tuple[set[str], set[str]]) -> None:
    """Exit when `repo` is reserved (listed, a reserved package's name, is_reserved) or
    held out as never-trained-on code (HELD_OUT)."""
    repos, packages = reserved
    name = repo.lower().rsplit("/", 1)[-1]
    if repo.lower() in repos or name in packages or is_reserved(repo):
        sys.exit(f"mine_fixes: {repo} is reserved for evaluation; remove it from the list")
    if repo.lower() in HELD_OUT:
        sys.exit(f"mine_fixes: {repo} is held-out mature code (HELD_OUT); remove it")


def read_list(path: Path) -> list[tuple[str, str]]:
    """(owner/name, licence) per non-comment line of the repository list."""
    out: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            repo, _, licence = line.partition("\t")
            out.append((repo.strip(), licence.strip()))
    return out


def read_commits(path: Path) -> dict[str, tuple[str, list[str]]]:
    """owner/name -> (licence, commit ids) from a `commits.tsv`, in the file's order."""
    out: dict[str, tuple[str, list[str]]] = {}
    rows = path.read_text().splitlines()
    header = rows[0].split("\t") if rows else []
    if header[:2] != ["repo", "commit"] or "licence" not in header:
        sys.exit(f"mine_fixes: {path} is not a commits.tsv (repo, commit, ..., licence)")
    at = header.index("licence")
    for number, row in enumerate(rows[1:], 2):
        cells = row.split("\t")
        if len(cells) != len(header):
            sys.exit(f"mine_fixes: {path}:{number}: expected {len(header)} columns")
        licence, shas = out.setdefault(cells[0], (cells[at], []))
        if cells[at] != licence:
            sys.exit(f"mine_fixes: {path}:{number}: {cells[0]} listed under two licences")
        if cells[1] not in shas:
            shas.append(cells[1])
    return out


CACHE_VERSION = "1"  # bump when the harvest's output changes for the same history


def cached_harvest(
    git: GitRepo, repo: str, policy: FixPolicy, cache: Path, cached_only: bool = False
) -> FixHarvest | None:
    """`harvest_fixes`, remembered per repository HEAD (so adding repositories to the
    list does not mine the others again); None when `cached_only` and not cached."""
    key = f"{CACHE_VERSION}-{git.resolve('HEAD')}-{hash_policy(policy)}"
    path = cache / f"{repo.replace('/', '+')}.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            h = FixHarvest(
                saved["records"],
                [UsedCommit(u[0], tuple(u[1]), u[2], u[3]) for u in saved["used"]],
                saved["commits_seen"],
                saved["commits_selected"],
                Counter(saved["skipped"]),
                Counter(saved["dropped"]),
            )
            return h
    if cached_only:
        return None
    h = harvest_fixes(git, repo, policy)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # another run may read the cache meanwhile
    tmp.write_text(
        json.dumps(
            {
                "key": key,
                "records": h.records,
                "used": [[u.sha, list(u.advisories), u.reason, u.pairs] for u in h.used],
                "commits_seen": h.commits_seen,
                "commits_selected": h.commits_selected,
                "skipped": dict(h.skipped),
                "dropped": dict(h.dropped),
            }
        )
    )
    os.replace(tmp, path)
    return h


def reselect(h: FixHarvest, policy: FixPolicy) -> FixHarvest:
    """Apply today's commit filter to a cached harvest (mined under an earlier, looser
    one) from what each record keeps of its commit: the subject line and advisory ids.
    A fresh harvest passes unchanged."""
    kept: list[dict[str, Any]] = []
    for rec in h.records:
        meta = rec["meta"]
        message = "\n\n".join([meta["message"], " ".join(meta["advisories"])])
        commit = CommitInfo(meta["commit"], (meta["parent"],), message, (rec["path"],))
        selection = select_commit(commit, policy)
        if selection.kept:
            kept.append(rec)
        else:
            h.dropped[f"commit filter: {selection.reason}"] += 1
    h.dropped = Counter(
        {k: v // 2 if k.startswith("commit filter") else v for k, v in h.dropped.items()}
    )
    pairs = Counter(r["meta"]["commit"] for r in kept if r["label"] == 1)
    h.used = [
        UsedCommit(u.sha, u.advisories, u.reason, pairs[u.sha]) for u in h.used if pairs[u.sha]
    ]
    h.records = kept
    return h


def hash_policy(policy: FixPolicy) -> str:
    """A short digest of the harvest settings."""
    import hashlib

    return hashlib.sha256(repr(policy).encode()).hexdigest()[:12]


#: OSI licences that require derived works to keep the licence (the rest are permissive).
COPYLEFT = frozenset({"AGPL-3.0", "GPL-2.0", "GPL-3.0", "LGPL-2.0", "LGPL-2.1", "LGPL-3.0",
                      "MPL-2.0", "EPL-2.0"})  # fmt: skip


def licence_markdown(records: list[dict[str, Any]]) -> list[str]:
    """The `## Pairs by licence` section: pairs and repositories per SPDX id, copyleft
    ones marked (every record keeps its repository's licence in `meta.licence`)."""
    vuln = [r for r in records if r["label"] == 1]
    pairs = Counter(str(r["meta"]["licence"]) for r in vuln)
    repos: dict[str, set[str]] = {}
    for r in vuln:
        repos.setdefault(str(r["meta"]["licence"]), set()).add(str(r["project"]))
    lines = ["", "## Pairs by licence", "", "| licence | kind | repositories | pairs |"]
    lines.append("|---|---|---:|---:|")
    for spdx, n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        kind = "copyleft" if spdx in COPYLEFT else "permissive"
        lines.append(f"| {spdx} | {kind} | {len(repos[spdx])} | {n} |")
    return lines


def stats_markdown(
    per_repo: list[tuple[str, str, FixHarvest]],
    records: list[dict[str, Any]],
    seconds: float,
    heads: dict[str, str],
    listed: bool = False,
) -> str:
    """Counts by language, CWE and repository, and what the filters removed."""
    vuln = [r for r in records if r["label"] == 1]
    how = (
        "mined from the commits `commits.tsv` lists (`--listed-commits`); repeats and "
        "code seen with both labels are looked for among those commits only, so a pair "
        "the full-history run dropped for a clash with an unlisted commit is kept"
        if listed
        else "mined from each repository's history"
    )
    lines = [
        "# Mined fix pairs: counts",
        "",
        "Written by `scripts/mine_fixes.py`; the data lies beside this file "
        f"(`pairs.jsonl.gz`), {how}.",
        "",
        f"* {len(vuln)} pairs ({len(records)} records) from "
        f"{sum(1 for *_, h in per_repo if h.used)} of {len(per_repo)} repositories, "
        f"{sum(len(h.used) for *_, h in per_repo)} commits; "
        f"{sum(h.commits_selected for *_, h in per_repo)} commits selected of "
        f"{sum(h.commits_seen for *_, h in per_repo)} read; {seconds:.0f} s.",
        "",
        "## Pairs by language",
        "",
        "| language | pairs | with `lines` | CWE known |",
        "|---|---:|---:|---:|",
    ]
    by_lang = Counter(r["language"] for r in vuln)
    with_lines = Counter(r["language"] for r in vuln if r["lines"])
    with_cwe = Counter(r["language"] for r in vuln if r["cwe"])
    for lang, n in sorted(by_lang.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"| {lang} | {n} | {with_lines[lang]} | {with_cwe[lang]} |")
    lines += ["", "## Pairs by CWE", "", "| CWE | pairs |", "|---|---:|"]
    for cwe, n in sorted(
        Counter(r["cwe"] or "unknown" for r in vuln).items(), key=lambda kv: (-kv[1], kv[0])
    ):
        lines.append(f"| {cwe} | {n} |")
    lines += licence_markdown(records)
    dropped: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for *_, h in per_repo:
        dropped.update(h.dropped)
        skipped.update(h.skipped)
    lines += ["", "## Filtered out", "", "Changed functions or pairs dropped as noise:", ""]
    lines += [f"* {k}: {v}" for k, v in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines += ["", "Commits skipped:", ""]
    lines += [f"* {k}: {v}" for k, v in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))]
    lines += [
        "",
        "## By repository",
        "",
        "| repository | HEAD mined | licence | commits read | selected | used | pairs |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for repo, licence, h in per_repo:
        lines.append(
            f"| {repo} | {heads.get(repo, '?')[:12]} | {licence} | {h.commits_seen} "
            f"| {h.commits_selected} | {len(h.used)} | {h.pairs} |"
        )
    return "\n".join(lines) + "\n"


#: Licences whose code stays out of the committed pairs file (see `main`).
COPYLEFT = frozenset({"AGPL-3.0", "GPL-2.0", "GPL-3.0", "LGPL-2.0", "LGPL-2.1", "LGPL-3.0"})


def _gzipped(records: list[dict[str, Any]]) -> bytes:
    """Records as gzipped JSONL, byte-identical across runs (no timestamp, no name)."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        for rec in records:
            gz.write((json.dumps(rec, ensure_ascii=False, sort_keys=False) + "\n").encode())
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--repos", type=Path, default=DATA / "repos.txt")
    ap.add_argument("--out", type=Path, default=DATA / "pairs.jsonl.gz")
    ap.add_argument("--commits", type=Path, default=DATA / "commits.tsv")
    ap.add_argument("--stats", type=Path, default=DATA / "STATS.md")
    ap.add_argument("--reserved", type=Path, default=Path("/work/shared/reserved.txt"))
    ap.add_argument("--cache", type=Path, default=DATA / ".cache")
    ap.add_argument(
        "--fill-cache-reversed",
        action="store_true",
        help="only mine into the cache, last repository first (a second process, so that "
        "two cores share the work); writes no outputs",
    )
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="write the outputs from the repositories already mined (the cache); the "
        "others are named in STATS.md as not mined yet",
    )
    ap.add_argument(
        "--listed-commits",
        type=Path,
        metavar="COMMITS_TSV",
        help="mine only the commits this commits.tsv lists (no history walk, no cache); "
        "--repos is not read",
    )
    ap.add_argument("--licences", nargs="*", metavar="OWNER/NAME", default=None)
    args = ap.parse_args()
    reserved = reserved_names(args.reserved)

    if args.licences is not None:
        for repo in args.licences:
            check_not_reserved(repo, reserved)
            git_dir = args.mirrors / repo.replace("/", "+") / "repo"
            licence = mirror_licence(git_dir) if git_dir.is_dir() else None
            print(f"{repo}\t{licence}" if licence else f"# {repo}\tno OSI licence recognised")
        return

    start = time.monotonic()
    policy = FixPolicy()
    per_repo: list[tuple[str, str, FixHarvest]] = []
    records: list[dict[str, Any]] = []
    rows = ["repo\tcommit\tadvisories\tselected_by\tlicence\tpairs"]
    by_commits = read_commits(args.listed_commits) if args.listed_commits else None
    if by_commits is not None:
        listed = [(repo, licence) for repo, (licence, _) in by_commits.items()]
    else:
        listed = read_list(args.repos)
    not_mined: list[str] = []
    heads: dict[str, str] = {}
    if args.fill_cache_reversed:
        for repo, _ in reversed(listed):
            check_not_reserved(repo, reserved)
            t0 = time.monotonic()
            git = GitRepo(args.mirrors / repo.replace("/", "+") / "repo")
            done = cached_harvest(git, repo, policy, args.cache)
            assert done is not None
            print(f"{repo}: {done.pairs} pairs, {time.monotonic() - t0:.0f} s", file=sys.stderr)
        return
    for repo, licence in listed:
        check_not_reserved(repo, reserved)
        git_dir = args.mirrors / repo.replace("/", "+") / "repo"
        if not git_dir.is_dir():
            sys.exit(f"mine_fixes: no mirror of {repo} at {git_dir}; fetch it first")
        found = mirror_licence(git_dir)
        if found != licence or licence not in OSI:
            sys.exit(f"mine_fixes: {repo}: the list says {licence!r}, its LICENSE says {found!r}")
        t0 = time.monotonic()
        git = GitRepo(git_dir)
        heads[repo] = git.resolve("HEAD")
        if by_commits is not None:
            shas = tuple(by_commits[repo][1])
            result = harvest_fixes(ListedHistory(git, shas), repo, policy)
            missing = [sha for sha in shas if sha not in {u.sha for u in result.used}]
            for sha in missing:
                print(f"{repo}: listed commit {sha} gave no pairs", file=sys.stderr)
        else:
            cached = cached_harvest(git, repo, policy, args.cache, args.cached_only)
            if cached is None:
                not_mined.append(repo)
                continue
            result = reselect(cached, policy)
        for rec in result.records:
            rec["meta"]["licence"] = licence
        records.extend(result.records)
        per_repo.append((repo, licence, result))
        for used in result.used:
            advisories = ",".join(used.advisories) or "-"
            reason = used.reason.replace("\t", " ").replace("\n", " ")
            rows.append(f"{repo}\t{used.sha}\t{advisories}\t{reason}\t{licence}\t{used.pairs}")
        print(
            f"{repo}: {result.pairs} pairs from {len(result.used)} commits "
            f"({result.commits_selected} selected of {result.commits_seen}) "
            f"in {time.monotonic() - t0:.0f} s",
            file=sys.stderr,
        )
    ids = Counter(str(rec["id"]) for rec in records)
    repeated = sorted(i for i, n in ids.items() if n > 1)
    if repeated:  # the loaders refuse a repeated id; never write a file they cannot read
        sys.exit(f"mine_fixes: {len(repeated)} record ids repeat, e.g. {repeated[0]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # copyleft code is not redistributed inside this Apache-2.0 repository: its pairs go
    # to a file beside (gitignored) that local training may still read
    shared = [r for r in records if r["meta"]["licence"] not in COPYLEFT]
    kept_apart = [r for r in records if r["meta"]["licence"] in COPYLEFT]
    buf = _gzipped(shared)
    args.out.write_bytes(buf)
    apart = args.out.with_name(args.out.name.replace("pairs", "pairs-copyleft", 1))
    apart.write_bytes(_gzipped(kept_apart))
    args.commits.write_text("\n".join(rows) + "\n")
    stats = stats_markdown(
        per_repo, records, time.monotonic() - start, heads, listed=by_commits is not None
    )
    if not_mined:
        stats += "\n## Listed but not mined yet\n\n" + "".join(f"* {r}\n" for r in not_mined)
    args.stats.write_text(stats)
    print(
        f"{len(shared) // 2} pairs -> {args.out} ({len(buf)} bytes); "
        f"{len(kept_apart) // 2} copyleft pairs -> {apart}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
