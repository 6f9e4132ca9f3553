"""Reproducers from the hostile-repository attack on the merged Solidity / `--diff`
branches. Each failed before its fix (they were committed as strict xfails, and the
marks came off with the fixes). The time limits are hang guards far above the fixed
code's time and far below the old code's (no speed is asserted).

Run: PYTHONPATH=$PWD/src python -m pytest -q tests/attack
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

H = "pragma solidity ^0.8.0;\n"
_MAIN = "from vulnsight.cli import main; main()"


def _scan(root: Path, *extra: str, timeout: float = 60) -> tuple[int, dict]:
    out = root.parent / f"{root.name}-report.json"
    cmd = [sys.executable, "-c", _MAIN, "scan", *extra, str(root)]
    cmd += ["--detectors", "rules,flow", "--format", "json", "-o", str(out)]
    rc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=os.environ).returncode
    return rc, json.loads(out.read_text()) if out.exists() else {}


def _pairs(report: dict) -> set[tuple[str, int, str]]:
    return {(f["file"], f["line_number"], f["cwe"]) for f in report.get("findings", [])}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_comment_in_modifier_is_not_a_guard(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "V.sol").write_text(
        H + "contract V {\n address owner;\n"
        " modifier onlyOwner() { /* require(msg.sender == owner); */ _; }\n"
        " function kill() public onlyOwner { selfdestruct(payable(msg.sender)); }\n}\n"
    )
    _, report = _scan(repo)
    assert ("V.sol", 5, "CWE-284") in _pairs(report)  # same as with `{ _; }`


def test_imported_base_wins_over_a_mock_of_the_same_name(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "a" / "mocks").mkdir(parents=True)
    (repo / "src" / "Ownable.sol").write_text(
        H + "contract Ownable {\n address owner;\n modifier onlyOwner() { _; }\n}\n"
    )
    (repo / "a" / "mocks" / "Ownable.sol").write_text(
        H + "contract Ownable {\n address owner;\n"
        " modifier onlyOwner() { require(msg.sender == owner); _; }\n}\n"
    )
    (repo / "src" / "Vault.sol").write_text(
        H + 'import "./Ownable.sol";\ncontract Vault is Ownable {\n'
        " function kill() public onlyOwner { selfdestruct(payable(msg.sender)); }\n}\n"
    )
    _, report = _scan(repo)
    assert ("src/Vault.sol", 4, "CWE-284") in _pairs(report)


def test_helper_calling_itself_200_times_does_not_hang(tmp_path: Path) -> None:
    # before the memo: 40 calls 118 s, 80 over 120 s (the walk grew as k^3-k^4); after: ~2 s
    repo = tmp_path / "repo"
    repo.mkdir()
    calls = " ".join("h();" for _ in range(200))
    (repo / "F.sol").write_text(
        H + f"contract F {{\n function h() internal {{ {calls} }}\n"
        f" function kill() public {{ {calls} selfdestruct(payable(msg.sender)); }}\n}}\n"
    )
    _, report = _scan(repo, timeout=120)
    assert any(f == "F.sol" and cwe == "CWE-284" for f, _line, cwe in _pairs(report))


def test_diff_defining_regex_is_linear() -> None:
    code = (
        "import time\nfrom vulnsight.review.facts_diff import _defining\n"
        "from vulnsight.types import SourceFile\n"
        "f = SourceFile(path='big.py', language='python', text='s = \"' + 'zz(' * 200000 + '\"')\n"
        "_defining([f], {'zz'})\n"
    )
    # 200,000 `zz(`: the quadratic pattern needed ~10 s for 20,000 (hours here); now ~0.2 s
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=os.environ)


def test_diff_keeps_a_flow_13_calls_deep(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    depth = 13
    (repo / "h0.py").write_text("def h0(x):\n    return x\n")
    for i in range(1, depth):
        (repo / f"h{i}.py").write_text(
            f"from h{i - 1} import h{i - 1}\n\ndef h{i}(x):\n    return h{i - 1}(x)\n"
        )
    (repo / "app.py").write_text(
        f"from flask import Flask, request\nfrom h{depth - 1} import h{depth - 1}\n"
        "app = Flask(__name__)\n\n@app.route('/r')\ndef view():\n"
        f"    name = request.args.get('n')\n    return h{depth - 1}(name)\n"
    )
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "add", "-A")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "base")
    (repo / "h0.py").write_text(
        "def h0(x):\n    with open('/srv/' + x) as fh:\n        return fh.read()\n"
    )
    _, full = _scan(repo)
    assert ("h0.py", 2, "CWE-22") in _pairs(full)  # holds today
    _, diff = _scan(repo, "--diff", "HEAD")
    assert ("h0.py", 2, "CWE-22") in _pairs(diff)
    # the report says the round cap was reached and the whole tree analysed
    assert any("--diff:" in e["reason"] and "final round" in e["reason"] for e in diff["errors"])


def test_flow_through_100_pass_through_functions(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    n = 100
    text = "from flask import Flask, request\napp = Flask(__name__)\n\n"
    text += "".join(f"def f{i}(x):\n    return f{i + 1}(x)\n\n" for i in range(n))
    text += f"def f{n}(x):\n    with open('/srv/' + x) as fh:\n        return fh.read()\n\n"
    text += "@app.route('/r')\ndef view():\n    return f0(request.args.get('n'))\n"
    (repo / "c.py").write_text(text)
    _, report = _scan(repo)
    assert any(cwe == "CWE-22" for _, _, cwe in _pairs(report))


@pytest.mark.parametrize("name", ["int", "secure_filename"])
def test_repo_defined_identity_sanitiser_sanitises_nothing(tmp_path: Path, name: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(
        "from flask import Flask, request\napp = Flask(__name__)\n\n"
        f"def {name}(v):\n    return v\n\n"
        "@app.route('/r')\ndef view():\n"
        f"    x = {name}(request.args.get('n'))\n"
        "    with open('/srv/' + x) as fh:\n        return fh.read()\n"
    )
    _, report = _scan(repo)
    assert ("app.py", 10, "CWE-22") in _pairs(report)


def _shlex_repo(repo: Path, local_shlex: bool) -> None:
    repo.mkdir()
    if local_shlex:
        (repo / "shlex.py").write_text("def quote(s):\n    return s\n")
    (repo / "app.py").write_text(
        "import os, shlex\nfrom flask import Flask, request\napp = Flask(__name__)\n\n"
        "@app.route('/r')\ndef view():\n    x = request.args.get('n')\n"
        "    os.system('ls ' + shlex.quote(x))\n    return 'ok'\n"
    )


def test_a_local_shlex_module_shadows_the_standard_librarys(tmp_path: Path) -> None:
    _shlex_repo(tmp_path / "own", local_shlex=True)
    _, report = _scan(tmp_path / "own")
    assert ("app.py", 8, "CWE-78") in _pairs(report)
    _shlex_repo(tmp_path / "std", local_shlex=False)  # the real shlex.quote still counts
    _, report = _scan(tmp_path / "std")
    assert ("app.py", 8, "CWE-78") not in _pairs(report)


@pytest.mark.parametrize("defined", [True, False])
def test_js_repo_defined_shellescape_sanitises_nothing(tmp_path: Path, defined: bool) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    own = "function shellescape(v) {\n  return v;\n}\n"
    lib = "const shellescape = require('shell-escape');\n\n\n"
    (repo / "app.js").write_text(
        "const express = require('express');\nconst child_process = require('child_process');\n"
        + (own if defined else lib)
        + "const app = express();\napp.get('/r', (req, res) => {\n"
        "  child_process.exec('ls ' + shellescape(req.query.n));\n  res.send('ok');\n});\n"
    )
    _, report = _scan(repo)
    flow = {
        (f["file"], f["line_number"], f["cwe"])
        for f in report["findings"]
        if "flow" in f["detectors"]  # the rule pack flags exec() of a concatenation anyway
    }
    assert (("app.js", 8, "CWE-78") in flow) == defined


@pytest.mark.parametrize("ring", [2, 500])
def test_flow_through_a_ring_of_mutually_recursive_functions(ring: int) -> None:
    from vulnsight.dataflow import analyse
    from vulnsight.parse.callgraph import CallGraph
    from vulnsight.pipeline import parse_files
    from vulnsight.types import SourceFile

    text = "import os\nfrom flask import Flask, request\napp = Flask(__name__)\n\n"
    text += "".join(
        f"def f{i}(x, k):\n    if k:\n        return f{(i + 1) % ring}(x, k)\n    return x\n\n"
        for i in range(ring)
    )
    text += "def g(x):\n    os.system(f0(x, 1))\n\n@app.route('/r')\ndef view():\n"
    text += "    g(request.args.get('n'))\n"
    source = SourceFile(path="m.py", language="python", text=text)
    functions, _ = parse_files([source])
    result = analyse([source], functions, CallGraph.build(functions))
    assert [(f.line_number, f.cwe) for f in result.findings] == [(5 * ring + 6, "CWE-78")]
    assert not result.errors
