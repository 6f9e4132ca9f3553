"""An offline `solc` for crytic-compile, built on solc-js from npm (`tools/solcjs/`).

crytic-compile (Slither's front end) runs `solc --version`, then `solc FILE
--combined-json abi,ast,... [--allow-paths ...]`. solc-js has neither interface, so this
module answers both: it compiles through solc-js's `--standard-json` entry (a small
node script, `tools/solcjs/compile.js`) and translates the standard-json output into
the combined-json shape crytic-compile parses. Run as `python -m
vulnsight.bench.adapters.solcjs ARGS` (the Slither adapter writes a two-line `solc`
script that does so).

The compiler version comes from `$VULNSIGHT_SOLCJS_VERSION` (crytic-compile asks for
`--version` before it names the file, so the caller picks the version from the
contract's pragma with `choose_version` and sets it); without it, from the file's
pragma. Only compilers installed under `tools/solcjs/node_modules` are used: nothing is
downloaded. The contract is data: it is only ever given to the compiler, imports are
never resolved (no import callback, so no file is read on its behalf), nothing is
written, and node runs under a timeout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semantic_version import NpmSpec, Version

VERSION_ENV = "VULNSIGHT_SOLCJS_VERSION"
DIR_ENV = "VULNSIGHT_SOLCJS_DIR"
NODE_ENV = "VULNSIGHT_NODE"
TIMEOUT_ENV = "VULNSIGHT_SOLCJS_TIMEOUT"
CACHE_ENV = "VULNSIGHT_SOLCJS_CACHE"
DEFAULT_TIMEOUT_S = 120
#: Seconds a batch gets per unit on top of `timeout_s` (loading the compiler).
PER_UNIT_S = 10

_PRAGMA = re.compile(r"^\s*pragma\s+solidity\b\s*([^;]*);", re.MULTILINE)
# What crytic-compile may ask for; `compact-format` only selects the AST form, which the
# standard-json `ast` output already has.
_COMBINED_FIELDS = frozenset(
    [
        "abi",
        "ast",
        "bin",
        "bin-runtime",
        "srcmap",
        "srcmap-runtime",
        "userdoc",
        "devdoc",
        "hashes",
        "compact-format",
    ]
)
OUTPUT_SELECTION = [
    "abi",
    "devdoc",
    "userdoc",
    "evm.bytecode.object",
    "evm.bytecode.sourceMap",
    "evm.deployedBytecode.object",
    "evm.deployedBytecode.sourceMap",
    "evm.methodIdentifiers",
]


class SolcJsError(Exception):
    """The shim cannot compile: no node, no installed compiler for the pragma, bad args."""


def pragma_ranges(source: str) -> list[str]:
    """The version ranges of every `pragma solidity` line, in order."""
    return [m.group(1).strip() for m in _PRAGMA.finditer(source)]


def _spec(solidity_range: str) -> NpmSpec:
    # Solidity's version pragma follows npm's semver ranges ('^0.8.0', '>=0.4.22 <0.6.0',
    # '0.8.19', '=0.7.6', '||'); a leading '=' npm does not need.
    text = re.sub(r"(^|\s)=(?=\d)", r"\1", solidity_range.strip())
    return NpmSpec(text)


def choose_version(ranges: Sequence[str], installed: Sequence[str]) -> str | None:
    """The newest installed version that every range accepts; None when none does.

    Raises `SolcJsError` for a range that is not a version range. With no ranges at all
    every installed version is acceptable (see `fallback_order`)."""
    try:
        specs = [_spec(r) for r in ranges]
    except ValueError as exc:
        raise SolcJsError(f"unreadable pragma solidity {' '.join(ranges)!r}: {exc}") from exc
    ok = [v for v in installed if all(Version(v) in s for s in specs)]
    return max(ok, key=Version) if ok else None


def fallback_order(installed: Sequence[str]) -> list[str]:
    """Versions to try for a unit without a pragma: the newest of each minor series,
    newest series first (a unit written for 0.4 uses what 0.5+ rejects, and back)."""
    newest: dict[tuple[int, int], Version] = {}
    for text in installed:
        v = Version(text)
        key = (v.major, v.minor)
        if key not in newest or v > newest[key]:
            newest[key] = v
    return [str(newest[k]) for k in sorted(newest, reverse=True)]


def standard_input(name: str, content: str) -> dict[str, Any]:
    """The standard-json input that yields everything combined-json carries."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": content}},
        "settings": {
            "optimizer": {"enabled": False, "runs": 200},
            "outputSelection": {"*": {"*": OUTPUT_SELECTION, "": ["ast"]}},
        },
    }


def error_entries(output: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """solc's messages of severity error (warnings left out)."""
    return [e for e in output.get("errors") or [] if e.get("severity") == "error"]


def compile_errors(output: Mapping[str, Any]) -> list[str]:
    """The formatted text of solc's errors."""
    return [str(e.get("formattedMessage") or e.get("message") or e) for e in error_entries(output)]


#: Why a unit does not compile, by solc's first error (checked in order).
_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pragma unsupported", re.compile(r"requires different compiler version")),
    (
        "import missing",
        re.compile(r"Source \S+ not found|import callback|outside of allowed", re.I),
    ),
    (
        "undeclared identifier",
        re.compile(r"Undeclared identifier|not found or not (unique|visible)", re.I),
    ),
)
_PARSE_TYPES = frozenset({"ParserError", "SyntaxError", "DocstringParsingError"})


def failure_reason(errors: Sequence[Mapping[str, Any]]) -> str:
    """A short class for why a unit did not compile, from solc's first error: `pragma
    unsupported`, `import missing`, `undeclared identifier` (a member cut from its
    contract uses state, types or helpers it no longer has), `parse error`, else solc's
    error type (`TypeError`, ...)."""
    if not errors:
        return "unknown"
    first = errors[0]
    text = str(first.get("message") or first.get("formattedMessage") or "")
    for reason, pattern in _REASONS:
        if pattern.search(text):
            return reason
    kind = str(first.get("type") or "error")
    return "parse error" if kind in _PARSE_TYPES else kind


def _closeness(errors: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Lower is closer to compiling: past the parser first, then fewer errors."""
    parsed = not any(e.get("type") in _PARSE_TYPES for e in errors)
    return (0 if parsed else 1, len(errors))


def _failed(message: str) -> dict[str, Any]:
    """A standard-json output that only says the compiler itself failed."""
    error = {"severity": "error", "type": "CompilerFailure", "message": message}
    return {"errors": [{**error, "formattedMessage": message}]}


@dataclass(frozen=True)
class Compiled:
    """One unit's compilation: the version used (None when none compiled it), solc's
    standard-json output with that version, and why it failed ('' when it compiled)."""

    version: str | None
    output: Mapping[str, Any]
    reason: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the unit compiled without errors."""
        return not self.reason


def plan_versions(
    units: Mapping[str, str], installed: Sequence[str]
) -> tuple[dict[str, list[str]], list[str], dict[str, Compiled]]:
    """(version -> unit names its pragma selects, names without a pragma, names refused
    before compiling: pragma unreadable, satisfied by no installed version, or pragmas
    that each could be satisfied but not together)."""
    planned: dict[str, list[str]] = {}
    free: list[str] = []
    refused: dict[str, Compiled] = {}
    for name, content in units.items():
        ranges = pragma_ranges(content)
        if not ranges:
            free.append(name)
            continue
        try:
            version = choose_version(ranges, installed)
        except SolcJsError as exc:
            refused[name] = Compiled(None, {}, "pragma unreadable", str(exc))
            continue
        if version is None:
            alone = all(choose_version([r], installed) for r in ranges)
            refused[name] = Compiled(
                None,
                {},
                "pragmas conflict" if alone else "pragma unsupported",
                f"no installed solc-js satisfies {ranges}",
            )
        else:
            planned.setdefault(version, []).append(name)
    return planned, free, refused


def compile_units(solcjs: SolcJs, units: Mapping[str, str]) -> dict[str, Compiled]:
    """Compile every unit (name -> source): with the newest installed version its
    pragma accepts, or, without a pragma, with the first of `fallback_order` that
    compiles it (a failure then reports the series that came closest: past the parser,
    fewest errors, newest on ties). One node process per version."""
    installed = solcjs.versions()
    planned, free, result = plan_versions(units, installed)

    def batch(version: str, names: Sequence[str]) -> list[dict[str, Any]]:
        # A batch that fails as a whole (a unit that hangs or crashes the compiler) is
        # compiled unit by unit, so only the unit at fault becomes an error.
        try:
            return solcjs.compile_many(version, [standard_input(n, units[n]) for n in names])
        except SolcJsError as exc:
            if len(names) == 1:
                return [_failed(str(exc))]
            return [batch(version, [n])[0] for n in names]

    for version, names in planned.items():
        for name, output in zip(names, batch(version, names), strict=True):
            errors = error_entries(output)
            result[name] = Compiled(
                version,
                output,
                failure_reason(errors) if errors else "",
                compile_errors(output)[0] if errors else "",
            )
    closest: dict[str, tuple[tuple[int, int], Compiled]] = {}
    for version in fallback_order(installed):
        if not free:
            break
        still = []
        for name, output in zip(free, batch(version, free), strict=True):
            errors = error_entries(output)
            if errors:
                still.append(name)
                if name not in closest or _closeness(errors) < closest[name][0]:
                    failed = Compiled(
                        None, output, failure_reason(errors), compile_errors(output)[0]
                    )
                    closest[name] = (_closeness(errors), failed)
            else:
                result[name] = Compiled(version, output)
        free = still
    for name in free:
        result[name] = closest[name][1] if name in closest else Compiled(None, {}, "no solc-js")
    return result


def _minor(version: str) -> int:
    return int(Version(version).minor)


def to_combined(output: Mapping[str, Any], version: str) -> dict[str, Any]:
    """Translate solc's standard-json output into `solc --combined-json` output.

    Before 0.8.0 combined-json carries abi, userdoc and devdoc as JSON strings (and
    crytic-compile parses them as such); from 0.8.0 as objects. Contract keys are
    `path:Name`; `sourceList` is ordered by source id (source maps index into it)."""
    as_text = _minor(version) < 8 and Version(version).major == 0
    sources = output.get("sources") or {}
    ordered = sorted(sources.items(), key=lambda kv: int(kv[1].get("id", 0)))
    contracts: dict[str, Any] = {}
    for path, by_name in (output.get("contracts") or {}).items():
        for name, info in by_name.items():
            evm = info.get("evm") or {}
            bytecode = evm.get("bytecode") or {}
            deployed = evm.get("deployedBytecode") or {}

            def doc(value: Any) -> Any:
                return json.dumps(value, separators=(",", ":")) if as_text else value

            contracts[f"{path}:{name}"] = {
                "abi": doc(info.get("abi", [])),
                "bin": bytecode.get("object", ""),
                "bin-runtime": deployed.get("object", ""),
                "srcmap": bytecode.get("sourceMap", ""),
                "srcmap-runtime": deployed.get("sourceMap", ""),
                "userdoc": doc(info.get("userdoc", {})),
                "devdoc": doc(info.get("devdoc", {})),
                "hashes": evm.get("methodIdentifiers", {}),
            }
    return {
        "contracts": contracts,
        "sourceList": [path for path, _ in ordered],
        "sources": {path: {"AST": info.get("ast", {})} for path, info in ordered},
        "version": f"{version}+solcjs",
    }


def version_banner(version: str) -> str:
    """What `solc --version` prints (crytic-compile reads the first x.y.z)."""
    return (
        "solc, the solidity compiler commandline interface\n"
        f"Version: {version}+commit.solcjs.Emscripten.clang\n"
    )


def solcjs_dir() -> Path:
    """`$VULNSIGHT_SOLCJS_DIR`, else `tools/solcjs` of the source tree this module is in."""
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV])
    return Path(__file__).resolve().parents[4] / "tools" / "solcjs"


def installed_versions(root: Path) -> list[str]:
    """solc-js versions installed as `node_modules/solc-X.Y.Z` (npm aliases), oldest first."""
    modules = root / "node_modules"
    found = []
    if modules.is_dir():
        for child in modules.iterdir():
            m = re.fullmatch(r"solc-(\d+\.\d+\.\d+)", child.name)
            if m and (child / "soljson.js").is_file():
                found.append(m.group(1))
    return sorted(found, key=Version)


def node_path() -> str | None:
    """`$VULNSIGHT_NODE`, else `node` on PATH."""
    return os.environ.get(NODE_ENV) or shutil.which("node")


@dataclass(frozen=True)
class SolcJs:
    """One installation: node and the `tools/solcjs` folder."""

    node: str
    root: Path
    timeout_s: int = DEFAULT_TIMEOUT_S

    def versions(self) -> list[str]:
        """Installed versions, oldest first."""
        return installed_versions(self.root)

    def compile_many(
        self, version: str, requests: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """solc-js `version`'s standard-json output for each request (one node process
        loads the compiler once; it gets `timeout_s` plus `PER_UNIT_S` per request)."""
        if version not in self.versions():
            raise SolcJsError(f"solc-js {version} is not installed in {self.root}")
        if not requests:
            return []
        limit = self.timeout_s + PER_UNIT_S * len(requests)
        try:
            proc = subprocess.run(
                [self.node, str(self.root / "compile.js")],
                input=json.dumps({"version": version, "inputs": list(requests)}),
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SolcJsError(f"solc-js {version} did not finish in {limit} s") from exc
        except OSError as exc:
            raise SolcJsError(f"node could not start: {exc}") from exc
        if proc.returncode != 0:
            raise SolcJsError(f"solc-js {version} failed: {proc.stderr.strip()[-500:]}")
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise SolcJsError(f"solc-js {version} wrote no JSON: {proc.stdout[:200]!r}") from exc
        if not isinstance(data, list) or len(data) != len(requests):
            raise SolcJsError(f"solc-js {version} answered {len(requests)} inputs wrongly")
        return [d if isinstance(d, dict) else {} for d in data]

    def compile_file(self, version: str, name: str, content: str) -> dict[str, Any]:
        """Standard-json output for one source file."""
        return self.compile_many(version, [standard_input(name, content)])[0]


def cache_key(version: str, name: str, content: str) -> str:
    """File name under `$VULNSIGHT_SOLCJS_CACHE` of a compiled unit's standard-json output
    (the caller that compiled it already saves the shim a second compile)."""
    digest = hashlib.sha256(f"{version}\0{name}\0{content}".encode()).hexdigest()
    return f"{digest}.json"


def _parse_args(argv: Sequence[str]) -> tuple[bool, list[str], set[str]]:
    """(asked for --version, files, combined-json fields) from a solc command line."""
    want_version, files, fields = False, [], set()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--version":
            want_version = True
        elif arg == "--combined-json":
            if not args:
                raise SolcJsError("--combined-json needs a value")
            fields = set(args.pop(0).split(","))
        elif arg == "--allow-paths":
            # No import is ever read (no import callback), so there is nothing to allow.
            if args:
                args.pop(0)
        elif arg.startswith("--"):
            raise SolcJsError(f"option {arg} is not supported by the solc-js shim")
        elif "=" in arg and not arg.endswith(".sol"):
            raise SolcJsError(f"remapping {arg!r} is not supported (imports are not read)")
        else:
            files.append(arg)
    unknown = fields - _COMBINED_FIELDS
    if unknown:
        raise SolcJsError(f"combined-json fields not supported: {', '.join(sorted(unknown))}")
    return want_version, files, fields


def main(argv: Sequence[str] | None = None) -> int:
    """The `solc` command line crytic-compile uses; exit 0 with JSON on stdout, or 1
    with solc's errors on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        want_version, files, _ = _parse_args(args)
        node = node_path()
        if node is None:
            raise SolcJsError("node is not installed")
        solcjs = SolcJs(node, solcjs_dir(), int(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
        installed = solcjs.versions()
        if not installed:
            raise SolcJsError(f"no solc-js installed under {solcjs.root} (run npm ci there)")
        chosen = os.environ.get(VERSION_ENV)
        if want_version:
            sys.stdout.write(version_banner(chosen or installed[-1]))
            return 0
        if len(files) != 1:
            raise SolcJsError("the solc-js shim compiles exactly one file")
        path = Path(files[0])
        content = path.read_text("utf-8", errors="replace")
        if not chosen:
            chosen = choose_version(pragma_ranges(content), installed)
            if chosen is None:
                raise SolcJsError(f"no installed solc-js satisfies {pragma_ranges(content)}")
        cached = Path(os.environ.get(CACHE_ENV, "")) / cache_key(chosen, files[0], content)
        if os.environ.get(CACHE_ENV) and cached.is_file():
            output = json.loads(cached.read_text("utf-8"))
        else:
            output = solcjs.compile_file(chosen, files[0], content)
    except (SolcJsError, OSError, ValueError) as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    errors = compile_errors(output)
    for err in output.get("errors") or []:
        sys.stderr.write(str(err.get("formattedMessage") or err.get("message")) + "\n")
    if errors:
        return 1
    sys.stdout.write(json.dumps(to_combined(output, chosen)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
