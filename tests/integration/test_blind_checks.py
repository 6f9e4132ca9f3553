"""The blind-class checks (issue 17, part 3) through a real `vulnsight scan --detectors
flow` subprocess: every vulnerable fixture is flagged at its (file, line, CWE, rule) with
the path's steps, and every safe near-miss stays silent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

from ..conftest import FIXTURES, ROOT

C = "vulnsight.flow.c."
SOL = "vulnsight.flow.solidity."
JS = "vulnsight.flow.javascript."
PY = "vulnsight.flow.python."
# (file, line, CWE, rule id) of every finding the vulnerable fixtures must give, no more.
EXPECTED = {
    ("c/vulnerable.c", 11, "CWE-193", C + "off-by-one"),  # i <= N over buf[N]
    ("c/vulnerable.c", 18, "CWE-690", C + "null-deref-after-alloc"),  # strcpy into malloc()
    ("c/vulnerable.c", 18, "CWE-193", C + "off-by-one"),  # malloc(strlen(s)) then strcpy
    ("c/vulnerable.c", 24, "CWE-690", C + "null-deref-after-alloc"),
    ("c/vulnerable.c", 25, "CWE-193", C + "off-by-one"),  # out[len] after malloc(len)
    ("c/vulnerable.c", 32, "CWE-170", C + "strncpy-no-terminator"),
    ("c/vulnerable.c", 37, "CWE-401", C + "realloc-loses-pointer"),
    ("c/vulnerable.c", 43, "CWE-690", C + "null-deref-after-alloc"),  # fopen() then fprintf
    ("c/vulnerable.c", 51, "CWE-195", C + "signed-size-bounded-above-only"),
    ("c/vulnerable.c", 56, "CWE-197", C + "size-truncated-to-int"),
    ("c/vulnerable.c", 62, "CWE-193", C + "off-by-one"),  # mark[sizeof(mark)] = 0
    ("c/vulnerable.c", 71, "CWE-680", C + "alloc-size-overflow"),  # malloc(n * size), n read
    ("c/vulnerable.c", 71, "CWE-190", C + "integer-overflow-multiply"),
    ("c/vulnerable.c", 77, "CWE-190", C + "integer-overflow-multiply"),  # fscanf'd price * 100
    ("c/vulnerable.c", 90, "CWE-476", C + "null-deref-known-null"),  # *flags, flags = NULL
    ("c/vulnerable.c", 95, "CWE-476", C + "null-test-not-short-circuit"),  # p != NULL & p->one
    ("c/integer_add.c", 11, "CWE-190", C + "integer-overflow-add"),  # fscanf'd reading + 1
    ("c/integer_add.c", 20, "CWE-190", C + "integer-overflow-add"),  # atoi(fgets) then count++
    ("c/integer_add.c", 26, "CWE-190", C + "integer-overflow-add"),  # ++seed, seed = rand()
    ("c/integer_add.c", 32, "CWE-190", C + "integer-overflow-add"),  # SHRT_MAX, then += 1
    ("c/lifetime.c", 11, "CWE-415", C + "double-free"),  # free(buf) twice
    ("c/lifetime.c", 20, "CWE-416", C + "use-after-free"),  # puts(copy) after free(copy)
    ("c/lifetime.c", 29, "CWE-416", C + "use-after-free"),  # it->label[0] after free
    ("c/capacity.c", 6, "CWE-787", C + "constant-size-overflow"),  # 32 bytes into [16]
    ("c/capacity.c", 14, "CWE-787", C + "constant-size-overflow"),  # 40 into malloc(10)
    ("c/capacity.c", 22, "CWE-787", C + "constant-size-overflow"),  # i < 100 over [50]
    ("c/capacity.c", 29, "CWE-787", C + "constant-size-overflow"),  # strcpy [100] to [10]
    ("c/uninit.c", 7, "CWE-457", C + "uninitialised-read"),  # sum += before sum is set
    ("c/uninit.c", 14, "CWE-457", C + "uninitialised-read"),  # puts(name), name unset
    ("c/uninit.c", 24, "CWE-457", C + "uninitialised-read"),  # counts[i] of malloc'd memory
    ("c/uninit.c", 32, "CWE-457", C + "uninitialised-read"),  # table[3], table never written
    ("cpp/lifetime.cpp", 10, "CWE-416", C + "use-after-free"),  # b->size after delete b
    ("cpp/lifetime.cpp", 16, "CWE-415", C + "double-free"),  # delete[] data twice
    ("cpp/vulnerable.cpp", 8, "CWE-193", C + "off-by-one"),  # i <= 64 over a member array
    ("cpp/vulnerable.cpp", 14, "CWE-690", C + "null-deref-after-alloc"),  # static_cast<>(malloc)
    ("cpp/vulnerable.cpp", 19, "CWE-401", C + "realloc-loses-pointer"),
    ("solidity/Vulnerable.sol", 20, "CWE-841", SOL + "reentrancy"),
    ("solidity/Vulnerable.sol", 26, "CWE-284", SOL + "missing-access-control"),  # sets owner
    ("solidity/Vulnerable.sol", 30, "CWE-284", SOL + "missing-access-control"),  # selfdestruct
    ("solidity/Vulnerable.sol", 34, "CWE-190", SOL + "unchecked-arithmetic"),  # pragma 0.5
    ("solidity/Vulnerable.sol", 39, "CWE-400", SOL + "unbounded-loop-external-call"),
    ("solidity/Checked.sol", 12, "CWE-190", SOL + "unchecked-arithmetic"),  # unchecked { }
    ("python/store.py", 12, "CWE-89", "vulnsight.flow.python.sql-injection"),  # text(f"...")
    ("python/store.py", 20, "CWE-89", "vulnsight.flow.python.sql-injection"),  # .raw("%s" %)
    ("python/store.py", 28, "CWE-89", "vulnsight.flow.python.sql-injection"),  # RawSQL
    ("python/store.py", 32, "CWE-1336", "vulnsight.flow.python.template-injection"),
    ("python/store.py", 40, "CWE-601", "vulnsight.flow.python.open-redirect"),  # via go()
    ("python/store.py", 50, "CWE-22", "vulnsight.flow.python.path-traversal"),
    ("python/built.py", 11, "CWE-78", PY + "shell-command-built"),  # os.system("..." + name)
    ("python/built.py", 20, "CWE-78", PY + "shell-command-built"),  # f-string, shell=True
    ("python/built.py", 34, "CWE-78", PY + "shell-command-built"),  # _run_ssh("... %s" % h)
    ("python/built.py", 44, "CWE-78", PY + "shell-command-built"),  # exec_command(cmd)
    ("python/built.py", 51, "CWE-89", PY + "sql-query-built"),  # "SELECT ... %d" % game
    ("python/built.py", 63, "CWE-89", PY + "sql-query-built"),  # """INSERT""".format()
    ("python/built.py", 76, "CWE-95", PY + "eval-built-code"),  # eval("(" + e + ")")
    ("python/built.py", 84, "CWE-79", PY + "jinja2-autoescape-off"),  # Environment(loader=)
    ("javascript/orm.js", 8, "CWE-89", "vulnsight.flow.javascript.sql-injection"),
    ("javascript/orm.js", 16, "CWE-89", "vulnsight.flow.javascript.sql-injection-literal"),
    ("javascript/orm.js", 25, "CWE-89", "vulnsight.flow.javascript.sql-injection"),  # knex.raw
    ("javascript/orm.js", 33, "CWE-1336", "vulnsight.flow.javascript.template-injection"),
    ("javascript/orm.js", 41, "CWE-1336", "vulnsight.flow.javascript.template-injection"),
    # the JavaScript/TypeScript blind checks (tests/unit/dataflow/test_js_blind.py)
    ("javascript/code.js", 6, "CWE-95", JS + "eval-non-constant"),
    ("javascript/code.js", 10, "CWE-95", JS + "eval-non-constant"),
    ("javascript/code.js", 14, "CWE-95", JS + "eval-non-constant"),
    ("javascript/code.js", 18, "CWE-95", JS + "require-non-constant"),
    ("javascript/code.js", 22, "CWE-78", JS + "exec-built-command"),
    ("javascript/code.js", 27, "CWE-78", JS + "exec-built-command"),
    ("javascript/random.js", 4, "CWE-338", JS + "weak-random-value"),
    ("javascript/random.js", 8, "CWE-338", JS + "weak-random-value"),
    ("javascript/random.js", 15, "CWE-338", JS + "weak-random-value"),
    ("javascript/random.js", 21, "CWE-338", JS + "weak-random-value"),
    ("javascript/browser.js", 2, "CWE-345", JS + "post-message-any-origin"),
    ("javascript/browser.js", 10, "CWE-79", JS + "html-from-non-constant"),
    ("javascript/browser.js", 14, "CWE-79", JS + "html-from-non-constant"),
    ("javascript/browser.js", 18, "CWE-79", JS + "html-from-non-constant"),
    ("javascript/browser.js", 42, "CWE-319", JS + "cleartext-url"),
    ("javascript/browser.js", 46, "CWE-319", JS + "cleartext-url"),
    ("javascript/Comment.jsx", 4, "CWE-79", JS + "html-from-non-constant"),
    ("javascript/data.js", 6, "CWE-1333", JS + "regexp-non-constant"),
    ("javascript/data.js", 10, "CWE-1333", JS + "regexp-non-constant"),
    ("javascript/data.js", 14, "CWE-22", JS + "fs-path-built"),
    ("javascript/data.js", 18, "CWE-22", JS + "fs-path-built"),
    ("javascript/data.js", 22, "CWE-770", JS + "buffer-constructor-non-constant"),
    ("javascript/data.js", 26, "CWE-119", JS + "buffer-no-assert"),
    ("javascript/data.js", 76, "CWE-1333", JS + "regexp-non-constant"),
    ("javascript/crypto.js", 5, "CWE-328", JS + "weak-hash"),
    ("javascript/crypto.js", 9, "CWE-327", JS + "weak-cipher"),
    ("javascript/crypto.js", 14, "CWE-295", JS + "tls-verification-off"),
    ("javascript/crypto.js", 19, "CWE-208", JS + "secret-compared-not-constant-time"),
    ("javascript/crypto.js", 23, "CWE-798", JS + "hard-coded-secret"),
    ("javascript/injection.js", 2, "CWE-89", JS + "sql-built-by-concatenation"),
    ("javascript/injection.js", 7, "CWE-89", JS + "sql-built-by-concatenation"),
    ("javascript/injection.js", 13, "CWE-1321", JS + "prototype-pollution-merge"),
    ("typescript/server.ts", 5, "CWE-78", JS + "exec-built-command"),
    ("typescript/server.ts", 9, "CWE-338", JS + "weak-random-value"),
    ("typescript/server.ts", 13, "CWE-22", JS + "fs-path-built"),
    ("typescript/server.ts", 17, "CWE-95", JS + "eval-non-constant"),
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    project = tmp_path_factory.mktemp("blind") / "project"
    shutil.copytree(FIXTURES / "blind", project)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-m", "vulnsight.cli", "scan", str(project), "--detectors", "flow"]
        + ["--format", "json", "--no-progress", "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    found: list[dict[str, Any]] = report["findings"]
    return found


def _steps(finding: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(s["file"], s["line"], s["description"]) for s in finding["path"]]


def _one(findings: list[dict[str, Any]], file: str, line: int, cwe: str) -> dict[str, Any]:
    (hit,) = [f for f in findings if (f["file"], f["line_number"], f["cwe"]) == (file, line, cwe)]
    return hit


def test_vulnerable_fixtures_are_flagged_exactly(findings: list[dict[str, Any]]) -> None:
    got = {(f["file"], f["line_number"], f["cwe"], f["rule_id"]) for f in findings}
    assert got == EXPECTED


def test_safe_near_misses_stay_silent(findings: list[dict[str, Any]]) -> None:
    flagged = {f["file"] for f in findings}
    for safe in (
        "c/safe.c",
        "c/integer_add_safe.c",
        "c/lifetime_safe.c",
        "c/uninit_safe.c",
        "c/capacity_safe.c",
        "cpp/safe.cpp",
        "solidity/Safe.sol",
    ):
        assert (FIXTURES / "blind" / safe).exists()
        assert safe not in flagged
    # the untrusted value reaches the sinks' safe twins in the same files, unflagged
    python_lines = {f["line_number"] for f in findings if f["file"] == "python/store.py"}
    assert not python_lines & {16, 24, 36, 46, 55}  # bound params, constant template, checks
    # quoted, constant, list-argument, bound-parameter, escaped twins in built.py
    built_lines = {f["line_number"] for f in findings if f["file"] == "python/built.py"}
    assert not built_lines & {15, 24, 28, 38, 47, 56, 68, 72, 80, 89}
    js_lines = {f["line_number"] for f in findings if f["file"] == "javascript/orm.js"}
    assert not js_lines & {12, 21, 29, 37}
    sol_lines = {f["line_number"] for f in findings if f["file"] == "solidity/Checked.sol"}
    # checked arithmetic at 0.8 (line 7), and an unchecked add of an amount a checked
    # subtraction already tested (line 19), are silent
    assert sol_lines == {12}


def test_paths_show_the_steps(findings: list[dict[str, Any]]) -> None:
    c = "c/vulnerable.c"
    assert _steps(_one(findings, c, 24, "CWE-690")) == [
        (c, 23, "malloc() may return NULL, stored in out"),
        (c, 24, "passed to memcpy() without a NULL check"),
    ]
    assert _steps(_one(findings, c, 11, "CWE-193")) == [
        (c, 10, "the loop runs i up to N inclusive"),
        (c, 11, "buf[i]: buf has N elements"),
    ]
    assert _steps(_one(findings, c, 51, "CWE-195")) == [
        (c, 47, "len is signed"),
        (c, 48, "len > 64 bounds it above only"),
        (c, 51, "memcpy() takes len as a size: a negative value becomes huge"),
    ]
    assert [s[1] for s in _steps(_one(findings, c, 71, "CWE-680"))] == [69, 69, 70, 71]
    assert _steps(_one(findings, c, 90, "CWE-476")) == [
        (c, 86, "flags is set to NULL"),
        (c, 90, "dereferenced while it is NULL: *flags"),
    ]
    sol = "solidity/Vulnerable.sol"
    assert _steps(_one(findings, sol, 20, "CWE-841")) == [
        (sol, 20, "external call msg.sender.call.value() hands control to msg.sender"),
        (sol, 22, "balances is written only after the call: balances[msg.sender] = 0"),
    ]
    assert _steps(_one(findings, sol, 39, "CWE-400")) == [
        (sol, 38, "the loop runs over every element of payees"),
        (sol, 39, "payees[i].transfer() calls out on each iteration"),
    ]
    py = _one(findings, "python/store.py", 40, "CWE-601")
    assert py["path"][0]["file"] == "python/views.py"  # the request, in the route handler
    assert (py["path"][-1]["file"], py["path"][-1]["line"]) == ("python/store.py", 40)
    assert all(f["detectors"] == ["flow"] and f["function"] for f in findings)


def test_integer_overflow_by_addition_shows_source_and_sum(findings: list[dict[str, Any]]) -> None:
    """Juliet's CWE-190 add/preinc/postinc shapes: the path runs from the input (or
    `rand()`, or the type's largest value) to the sum; bounded twins stay silent."""
    c = "c/integer_add.c"
    assert _steps(_one(findings, c, 11, "CWE-190")) == [
        (c, 10, "source: fscanf() (formatted input (fscanf))"),
        (c, 10, "read into reading"),
        (c, 11, "sink: addition in reading + 1 (CWE-190)"),
    ]
    assert _steps(_one(findings, c, 20, "CWE-190"))[-2:] == [
        (c, 19, "assigned to count"),
        (c, 20, "sink: addition in count++ (CWE-190)"),
    ]
    assert _steps(_one(findings, c, 26, "CWE-190"))[0] == (c, 25, "source: rand() (random number)")
    assert _steps(_one(findings, c, 32, "CWE-190")) == [
        (c, 31, "source: SHRT_MAX (the type's largest value)"),
        (c, 31, "assigned to level"),
        (c, 32, "sink: addition in level += 1 (CWE-190)"),
    ]
