"""Reproducers from the hostile-repository attack on the new blind checks (Python,
JavaScript/TypeScript, C lifetime/uninitialised/capacity) and the engine changes. Each
failed before its fix; the time limits are hang guards far above the fixed code's time
and far below the old code's (no speed is asserted).

Run: PYTHONPATH=$PWD/src python -m pytest -q tests/attack
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tree_sitter import Node

_MAIN = "from vulnsight.cli import main; main()"


def _scan(path: Path, timeout: float = 60) -> dict:
    out = path.parent / f"{path.name}-report.json"
    cmd = [sys.executable, "-c", _MAIN, "scan", str(path)]
    cmd += ["--detectors", "flow", "--format", "json", "-o", str(out)]
    subprocess.run(cmd, capture_output=True, timeout=timeout, env=os.environ)
    return json.loads(out.read_text()) if out.exists() else {}


def _pairs(report: dict) -> set[tuple[int, str]]:
    return {(f["line_number"], f["cwe"]) for f in report.get("findings", [])}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_python_long_plus_chain_keeps_the_files_findings(tmp_path: Path) -> None:
    # one line `'a' + x + x ...` (3,000 operands) exhausted the stack in the check over
    # the whole file: every Python blind finding of the file was dropped
    chain = " + ".join(["x"] * 3000)
    path = _write(
        tmp_path,
        "m.py",
        f"import os\ndef f(x):\n    os.system('ls ' + x)\n\ndef g(x):\n    s = 'a' + {chain}\n"
        "    os.system(s)\n",
    )
    assert {(3, "CWE-78"), (7, "CWE-78")} <= _pairs(_scan(path))


def test_js_long_plus_chain_keeps_the_files_findings(tmp_path: Path) -> None:
    chain = " + ".join(["'b'"] * 3000)
    path = _write(
        tmp_path,
        "m.js",
        "const cp = require('child_process');\nfunction f(x) { cp.exec('ls ' + x); }\n"
        f"function g(x) {{ const s = 'a' + {chain}; eval(s + x); }}\n",
    )
    assert {(2, "CWE-78"), (3, "CWE-95")} <= _pairs(_scan(path))


def test_js_constants_doubling_each_line_stay_small(tmp_path: Path) -> None:
    # `const aN = aM + aM` over 3,000 lines: the stack ran out in the checks, and the
    # engine's constant folding doubled a string each line (30 lines: 22 s, 8 GB)
    lines = "".join(f"const a{i} = a{i - 1} + a{i - 1};\n" for i in range(1, 3000))
    path = _write(
        tmp_path,
        "m.js",
        f"const a0 = 'xxxxxxxx';\n{lines}function f(x) {{ eval('a' + x); }}\n",
    )
    assert (3001, "CWE-95") in _pairs(_scan(path, timeout=90))


def test_python_repeated_string_constant_is_not_folded(tmp_path: Path) -> None:
    # one line folded to a 3 GB string (a larger count: out of memory)
    path = _write(
        tmp_path,
        "m.py",
        "import os\ndef f(x):\n    os.system('ls ' + x)\n    y = 'a' * 30000000000\n"
        "    z = '%0999999999d' % 1\n",
    )
    assert (3, "CWE-78") in _pairs(_scan(path))


def test_c_sizes_squared_each_line_do_not_hang(tmp_path: Path) -> None:
    # `char aN[sizeof(aM) * sizeof(aM)]`: the size's digits doubled each line (40 lines
    # ran past 120 s)
    lines = "".join(f"  char a{i}[sizeof(a{i - 1}) * sizeof(a{i - 1})];\n" for i in range(1, 40))
    path = _write(
        tmp_path,
        "m.c",
        "#include <string.h>\nvoid f(char *s) {\n  char a0[100];\n"
        f"{lines}  memcpy(a0, s, 200);\n}}\n",
    )
    assert (43, "CWE-787") in _pairs(_scan(path, timeout=90))


def test_c_huge_number_literal_keeps_the_functions_findings(tmp_path: Path) -> None:
    # a 5,000-digit array size raised ValueError (int's digit limit): the file's C
    # checks were all dropped
    path = _write(
        tmp_path,
        "m.c",
        "#include <string.h>\nvoid f(char *s) {\n  char b[10];\n  memcpy(b, s, 100);\n"
        f"  char a[{'9' * 5000}];\n}}\n",
    )
    assert (4, "CWE-787") in _pairs(_scan(path))


def test_c_union_with_thousands_of_members(tmp_path: Path) -> None:
    # each read of a member joined every stored one: 19,000 stores and reads ran past
    # 100 s (the fixed code: about 9 s)
    n = 19000
    stores = "".join(f"  u.a{i} = s;\n" for i in range(n))
    reads = "".join("  system(u.b);\n" for _ in range(n))
    path = _write(
        tmp_path,
        "m.c",
        "#include <stdlib.h>\nunion U { char *a; char *b; };\nvoid f() {\n"
        f'  char *s = getenv("A");\n  union U u;\n{stores}{reads}}}\n',
    )
    assert (n + 6, "CWE-78") in _pairs(_scan(path, timeout=60))


def test_c_thousands_of_frees_do_not_each_read_the_function(tmp_path: Path) -> None:
    # each free read every later node: 3,000 frees of different pointers took 25 s
    n = 6000
    decls = "".join(f"  char *p{i} = q[{i}];\n" for i in range(n))
    frees = "".join(f"  free(p{i});\n" for i in range(n))
    path = _write(
        tmp_path,
        "m.c",
        f"#include <stdlib.h>\nvoid f(char **q) {{\n{decls}{frees}  free(p0);\n}}\n",
    )
    assert (2 * n + 3, "CWE-415") in _pairs(_scan(path, timeout=60))


def test_c_thousands_of_unset_locals_do_not_each_read_the_function(tmp_path: Path) -> None:
    # each declared local read every node of the body: 3,000 took 10 s, growing with
    # the square
    n = 10000
    decls = "".join(f"  int x{i};\n" for i in range(n))
    stores = "".join(f"  x{i} = q[{i}];\n" for i in range(1, n))
    path = _write(
        tmp_path,
        "m.c",
        f"int f(int *q) {{\n{decls}{stores}  return x0;\n}}\n",
    )
    assert (2 * n + 1, "CWE-457") in _pairs(_scan(path, timeout=60))


def test_c_thousands_of_allocations_do_not_each_read_the_function(tmp_path: Path) -> None:
    # each `char *pN = malloc(n)` read every later node (NULL check, uninitialised
    # read): 3,000 took 74 s, growing with the square
    n = 5000
    allocs = "".join(f"  char *p{i} = malloc(n);\n" for i in range(n))
    uses = "".join(f"  p{i}[0] = 1;\n" for i in range(n))
    path = _write(tmp_path, "m.c", f"#include <stdlib.h>\nvoid f(int n) {{\n{allocs}{uses}}}\n")
    assert (n + 3, "CWE-690") in _pairs(_scan(path, timeout=60))


def test_js_broken_fragment_repair_is_bounded() -> None:
    # 39 kB of random brackets: each of 43 repair candidates was parsed (1.7 MB, 15 s);
    # counted in bytes handed to the parser, not in seconds
    import random

    from vulnsight.dataflow.blind.js_common import repaired_source
    from vulnsight.parse.grammars import parse_text

    rng = random.Random(1)
    noise = "".join(rng.choice("(){}[]a +;\n'`/") for _ in range(39_000))
    parsed: list[int] = []

    def parse(text: str) -> Node:
        parsed.append(len(text))
        return parse_text(text, "javascript")[0].root_node

    repaired_source(f"function f(x){{ eval('a' + x); }}\n{noise}", parse)
    assert sum(parsed) <= 300_000


def test_python_dead_code_and_identity_quote_do_not_clean(tmp_path: Path) -> None:
    # `if False: x = shlex.quote(x)`, `if 0: assert x.isalnum()` and a file's own
    # `def quote(v): return v` each silenced the shell finding below them
    path = _write(
        tmp_path,
        "m.py",
        "import os\nimport shlex\n\n\ndef quote(value):\n    return value\n\n\n"
        'def a(x):\n    if False:\n        x = shlex.quote(x)\n    os.system("ls " + x)\n\n\n'
        'def b(x):\n    os.system("ls " + quote(x))\n\n\n'
        'def d(x):\n    if 0:\n        assert x.isalnum()\n    os.system("ls " + x)\n\n\n'
        'def e(x):\n    os.system("ls " + shlex.quote(x))\n',
    )
    pairs = _pairs(_scan(path))
    assert {(12, "CWE-78"), (16, "CWE-78"), (22, "CWE-78")} <= pairs
    assert (26, "CWE-78") not in pairs  # the real shlex.quote still cleans


def test_js_comment_naming_a_guard_or_an_escape_does_not_silence(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "m.js",
        "function merge(target, src) {\n  // keys like __proto__ are handled by the caller\n"
        "  for (const key in src) {\n    target[key] = merge(target[key], src[key]);\n  }\n"
        "  return target;\n}\nfunction q(db, id) {\n"
        '  return db.query("SELECT * FROM users WHERE id = " + /* escape( */ id);\n}\n',
    )
    assert {(4, "CWE-1321"), (9, "CWE-89")} <= _pairs(_scan(path))


def test_jinja2_autoescape_false_is_still_flagged(tmp_path: Path) -> None:
    # any `autoescape=` keyword silenced the check, `autoescape=False` included
    path = _write(
        tmp_path,
        "m.py",
        "from jinja2 import Environment, FileSystemLoader\n"
        'env = Environment(loader=FileSystemLoader("t"), autoescape=False)\n'
        'env2 = Environment(loader=FileSystemLoader("t"), autoescape=True)\n',
    )
    pairs = _pairs(_scan(path))
    assert (2, "CWE-79") in pairs
    assert (3, "CWE-79") not in pairs


def test_a_comment_in_the_arguments_does_not_meet_a_sinks_unless(tmp_path: Path) -> None:
    # the XXE sink's `unless = resolve_entities=False` matched a comment in the call
    path = _write(
        tmp_path,
        "m.py",
        "from flask import request\nfrom lxml import etree\n\n\ndef parse():\n"
        '    data = request.args.get("x")\n    return etree.fromstring(\n'
        "        data,  # resolve_entities=False\n    )\n",
    )
    assert (7, "CWE-611") in _pairs(_scan(path))


def test_c_free_deep_in_ifs_then_thousands_of_mentions(tmp_path: Path) -> None:
    # tree-sitter's `.parent` walks down from the root: a free under 400 nested `if`s
    # and 3,000 later mentions of the pointer took 99 s (each mention climbed the free's
    # 400 ancestors again)
    d = 400
    mentions = "".join("  g(sizeof p);\n" for _ in range(3000))
    path = _write(
        tmp_path,
        "m.c",
        "#include <stdlib.h>\nvoid f(char *p, int c) {\n"
        + "if (c) {" * d
        + " free(p); "
        + "}" * d
        + f"\n{mentions}  use(p);\n}}\n",
    )
    assert (3004, "CWE-416") in _pairs(_scan(path, timeout=60))


def test_c_unset_locals_read_deep_in_loops(tmp_path: Path) -> None:
    # each read climbed its 300 enclosing blocks through tree-sitter's `.parent` and
    # walked every enclosing loop: 2,000 locals read under 300 nested `if`s took 17 s
    # in the check, under nested loops longer
    d, n = 300, 2000
    decls = "".join(f"  int x{i};\n" for i in range(n))
    reads = "".join(f"  g(x{i} + 1);\n" for i in range(n))
    path = _write(
        tmp_path,
        "m.c",
        f"int f(int c) {{\n{decls}" + "while (c) {\n" * d + reads + "}\n" * d + "  return 0;\n}\n",
    )
    assert (n + d + 2, "CWE-457") in _pairs(_scan(path, timeout=60))


def test_c_nested_constant_loops_do_not_each_walk_their_body(tmp_path: Path) -> None:
    # each `for (i = 0; i < N; i++)` walked its whole body for `dst[i] = ...`: 300 nested
    # loops around 3,000 writes took 27 s, 600 around 8,000 far longer
    d, n = 600, 8000
    writes = "".join(f"  buf[{i % 10}] = 1;\n" for i in range(n))
    path = _write(
        tmp_path,
        "m.c",
        "void f(int c) {\n  char buf[10]; char out[4]; int i;\n"
        + "for (i = 0; i < 10; i++) {\n" * d
        + writes
        + "}\n" * d
        + "  for (i = 0; i < 8; i++) out[i] = 0;\n}\n",
    )
    assert (n + 2 * d + 3, "CWE-787") in _pairs(_scan(path, timeout=60))


def test_js_names_deep_in_nested_functions_resolve_fast() -> None:
    # resolving a name climbed tree-sitter's `.parent` (a walk down from the root per
    # step): 2,000 names 300 functions deep took 19 s in the eval check alone (0.6 s
    # fixed); timed in process, on that check only (the scan's other costs are linear)
    import time

    from vulnsight.dataflow.blind import js_code
    from vulnsight.dataflow.blind.run import _file_hits
    from vulnsight.types import SourceFile

    d, n = 300, 2000
    evals = "".join(f"eval(c + x{i});\n" for i in range(n))
    text = 'const c = "a";\n' + "function f(x) {\n" * d + evals + "}\n" * d
    started = time.perf_counter()
    hits = _file_hits(SourceFile("m.js", "javascript", text), (js_code.eval_non_constant,))
    assert time.perf_counter() - started < 6
    assert len(hits) == n


def test_js_merge_check_does_not_walk_each_nested_function() -> None:
    # the prototype-pollution check walked every function's whole body: 300 nested
    # functions around 2,000 statements took it 4.3 s, growing with the nesting times
    # the size; timed in process, on that check only
    import time

    from vulnsight.dataflow.blind import js_injection
    from vulnsight.dataflow.blind.run import _file_hits
    from vulnsight.types import SourceFile

    d, n = 600, 2000
    body = "".join(f"eval(c + x{i});\n" for i in range(n))
    merge = "function merge(t, s) { for (const k in s) { t[k] = merge(t[k], s[k]); } }\n"
    text = merge + "function f(x) {\n" * d + body + "}\n" * d
    started = time.perf_counter()
    hits = _file_hits(
        SourceFile("m.js", "javascript", text), (js_injection.prototype_pollution_merge,)
    )
    assert time.perf_counter() - started < 3
    assert [h.line for h in hits] == [1]
