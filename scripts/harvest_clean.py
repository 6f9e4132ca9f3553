"""Build the presumed-clean training corpus from mature packages installed or downloaded
on this machine (never the reserved projects; never the packages that
benchmarks/rules_realcode.py measures false positives on).

    python scripts/harvest_clean.py --out data/clean/mature_clean.jsonl

Sources are listed below with how to obtain each; the script skips any that are missing
and says so.
"""

from __future__ import annotations

import argparse
import json
import site
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

from vulnsight.train.harvest import harvest

SITE = Path(site.getsitepackages()[0])
NPM = Path("/usr/lib/node_modules/npm/node_modules")
# (project, directory); Python packages from site-packages (pip install vulnsight[train]),
# JavaScript from npm's own bundled dependencies, C/C++ from the llama.cpp sources inside
# the llama-cpp-python sdist (ggml, llama.cpp).
PYTHON = [
    "numpy",
    "transformers",
    "torch",
    "setuptools",
    "pydantic",
    "jsonschema",
    "huggingface_hub",
    "peft",
    "tqdm",
    "fsspec",
    "psutil",
    "filelock",
    "safetensors",
    "accelerate",
    "markdown_it",
    "tree_sitter",
    "gguf",
    "sympy",
    "networkx",
    "mpmath",
    "typer",
    "anyio",
    "starlette",
    "fastapi",
    "uvicorn",
    "h11",
]
JS = [
    "semver",
    "glob",
    "minimatch",
    "lru-cache",
    "tar",
    "cacache",
    "pacote",
    "node-gyp",
    "@npmcli",
    "npm-package-arg",
    "postcss-selector-parser",
    "diff",
    "undici",
    "socks",
    "ip-address",
    "iconv-lite",
    "minipass",
    "make-fetch-happen",
    "sigstore",
    "tuf-js",
    "hosted-git-info",
    "ini",
    "nopt",
    "which",
    "ssri",
    "cssesc",
    "spdx-expression-parse",
    "json-parse-even-better-errors",
    "validate-npm-package-name",
    "brace-expansion",
]
NPM_TOP = Path("/usr/lib/node_modules/npm/lib")
# Debian source packages (apt-get source --download-only; needs a deb-src line), for C
# and C++. Never zlib, zstd, lz4, brotli (reserved) nor curl, expat, tinyxml2 (measured).
DEBIAN = [
    "jansson",
    "libyaml",
    "pcre2",
    "lua5.4",
    "libuv1",
    "bzip2",
    "libsodium",
    "cjson",
    "json-c",
    "libpng1.6",
    "sqlite3",
    "redis",
    "tmux",
    "libevent",
    "nginx",
    "libjpeg-turbo",
    "leveldb",
    "re2",
    "snappy",
    "yaml-cpp",
    "tinyxml",
    "googletest",
]
# npm tarballs (npm pack) for Solidity and more JavaScript/TypeScript. Never OpenZeppelin,
# express, lodash, axios, koa (reserved) nor the packages benchmarks/rules_realcode.py
# measures (solmate, @uniswap/v3-core, rxjs, yargs, ws, underscore, async, body-parser).
NPM_PACKS = [
    "@chainlink/contracts",
    "@uniswap/v2-core",
    "@uniswap/v2-periphery",
    "@aave/core-v3",
    "erc721a",
    "@gnosis.pm/safe-contracts",
    "solady",
    "commander",
    "debug",
    "qs",
    "uuid",
    "yaml",
    "marked",
    "handlebars",
    "ajv",
    "dayjs",
    "moment",
    "immer",
    "minimist",
    "zod",
    "io-ts",
    "mobx",
    "redux",
]


def _unpack(archive: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tf:
        tf.extractall(target, filter="data")


def _downloaded(
    names: list[str], cache: Path, kind: str, command: list[str], pattern: str
) -> list[tuple[str, Path]]:
    """(project, unpacked tree) for each name, fetched once into `cache`/`kind` by
    running `command + [name]` and unpacking the archive matching `pattern`."""
    roots = []
    for name in names:
        target = cache / kind / name.replace("/", "__")
        if not target.is_dir():
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([*command, name], cwd=tmp, capture_output=True, timeout=300)
                found = sorted(Path(tmp).glob(pattern.format(name=name)), key=lambda p: len(p.name))
                if not found:
                    print("skip", name, f"({' '.join(command)} failed)")
                    continue
                _unpack(found[0], target)
        roots.append((f"{kind}/{name}", target))
    return roots


def debian_sources(cache: Path) -> list[tuple[str, Path]]:
    """Upstream trees of the DEBIAN source packages (needs a deb-src line for apt)."""
    command = ["apt-get", "source", "--download-only", "-qq"]
    return _downloaded(DEBIAN, cache, "debian", command, "{name}_*.orig.tar.*")


def npm_packs(cache: Path) -> list[tuple[str, Path]]:
    """Unpacked NPM_PACKS tarballs."""
    return _downloaded(NPM_PACKS, cache, "npm", ["npm", "pack", "-q"], "*.tgz")


def llama_cpp_sources(cache: Path) -> Path | None:
    """The llama.cpp tree inside the llama-cpp-python sdist (pip download, no build)."""
    target = cache / "llama_cpp_src"
    if target.is_dir():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                "llama-cpp-python==0.3.36",
            ],
            capture_output=True,
            text=True,
        )
        archives = list(Path(tmp).glob("*.tar.gz"))
        if proc.returncode or not archives:
            print("skip llama.cpp sources:", proc.stderr[-300:], file=sys.stderr)
            return None
        with tarfile.open(archives[0]) as tf:
            tf.extractall(target, filter="data")
    return target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-project", type=int, default=60)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "vulnsight-data")
    args = ap.parse_args()
    roots: list[tuple[str, Path]] = []
    for name in PYTHON:
        path = SITE / name
        (roots.append((f"pypi/{name}", path)) if path.is_dir() else print("skip", name))
    for name in JS:
        path = NPM / name
        (roots.append((f"npm/{name}", path)) if path.is_dir() else print("skip", name))
    if NPM_TOP.is_dir():
        roots.append(("npm/npm", NPM_TOP))
    src = llama_cpp_sources(args.cache)
    if src is not None:
        base = next(src.glob("llama_cpp_python-*")) / "vendor" / "llama.cpp"
        for project, sub in [
            ("debian-like/ggml", "ggml/src"),
            ("debian-like/llama.cpp", "src"),
            ("debian-like/llama.cpp-common", "common"),
            ("debian-like/llama.cpp-tools", "tools"),
        ]:
            if (base / sub).is_dir():
                roots.append((project, base / sub))
    roots += debian_sources(args.cache) + npm_packs(args.cache)
    records = []
    for project, root in roots:
        per = args.per_project * (3 if project.startswith("debian-like") else 1)
        records.extend(harvest(root, project, per))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    print(len(records), Counter(r["language"] for r in records))


if __name__ == "__main__":
    main()
