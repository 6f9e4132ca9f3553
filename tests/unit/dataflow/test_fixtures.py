"""The data-flow engine on the per-language fixture trees: every finding's file, line,
CWE and path steps, and the safe near-misses that must stay silent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.dataflow.helpers import FIXTURES, as_records, copy_fixture, run_flow


@pytest.mark.parametrize("language", ["python", "javascript", "c", "solidity"])
def test_findings_and_paths_match_the_snapshot(language: str, tmp_path: Path) -> None:
    expected = json.loads((FIXTURES / language / "expected.json").read_text())
    result = run_flow(copy_fixture(language, tmp_path))
    assert result.errors == ()
    assert as_records(result) == expected


# (file, line, CWE) of each vulnerable case: one per source family and sink family.
PYTHON_FLAGGED = {
    ("helpers.py", 12, "CWE-89"),  # Flask request.args -> helper in another file
    ("helpers.py", 24, "CWE-22"),  # through a list literal into another file
    ("views.py", 25, "CWE-78"),  # Flask route parameter -> os.system
    ("views.py", 36, "CWE-601"),  # request.args -> redirect
    ("views.py", 50, "CWE-1336"),  # f-string -> render_template_string
    ("views.py", 89, "CWE-95"),  # constant-true branch -> eval
    ("api.py", 10, "CWE-22"),  # FastAPI path parameter -> FileResponse
    ("cli_tools.py", 15, "CWE-502"),  # sys.argv -> pickle.loads
    ("cli_tools.py", 16, "CWE-502"),  # os.environ -> yaml.load(Loader=yaml.Loader)
    ("cli_tools.py", 19, "CWE-94"),  # input() -> exec
    ("cli_tools.py", 31, "CWE-89"),  # Django request.GET stored in self.query by __init__
    ("cli_tools.py", 43, "CWE-89"),  # request.POST appended to a list, .format, execute
    ("more_sinks.py", 10, "CWE-918"),  # requests.get(url)
    ("more_sinks.py", 19, "CWE-611"),  # lxml etree.fromstring
    ("more_sinks.py", 29, "CWE-117"),  # logging.info
    ("more_sinks.py", 34, "CWE-79"),  # make_response
}
# (file, line) of each safe near-miss sink.
PYTHON_SILENT = {
    ("views.py", 30),  # subprocess.run with a list, no shell
    ("views.py", 44),  # redirect after a startswith('/') check
    ("views.py", 56),  # constant template, untrusted value as a variable
    ("views.py", 79),  # if False:
    ("views.py", 81),  # if 1 == 2:
    ("helpers.py", 18),  # parameterised query
    ("helpers.py", 29),  # shlex.quote before shell=True
    ("api.py", 15),  # os.path.basename
    ("api.py", 19),  # same sink, not a route handler
    ("cli_tools.py", 17),  # yaml.load with SafeLoader
    ("cli_tools.py", 21),  # int(input())
    ("cli_tools.py", 34),  # parameterised query of the same attribute
    ("cli_tools.py", 52),  # len() of the tainted list
    ("more_sinks.py", 15),  # int() page number in the URL
    ("more_sinks.py", 24),  # resolve_entities=False
    ("more_sinks.py", 30),  # line breaks replaced
}
JS_FLAGGED = {
    ("db.js", 8, "CWE-89"),  # Express req.query -> helper in another file
    ("db.js", 17, "CWE-22"),  # through an array and an object literal into another file
    ("server.js", 20, "CWE-78"),  # template literal -> exec
    ("server.js", 29, "CWE-94"),  # new Function
    ("server.js", 40, "CWE-22"),  # req.params -> path.join -> fs.readFile
    ("server.js", 49, "CWE-601"),  # res.redirect
    ("koa_app.js", 9, "CWE-78"),  # Koa ctx.request.body, destructured
    ("koa_app.js", 10, "CWE-502"),  # ctx.cookies -> unserialize
    ("koa_app.js", 16, "CWE-78"),  # process.argv
    ("app/api/files/route.ts", 7, "CWE-22"),  # Next.js route handler, request.url
    ("app/api/files/route.ts", 13, "CWE-601"),  # await request.json()
    ("fetcher.js", 5, "CWE-918"),  # axios.get(req.query.target)
}
JS_SILENT = {
    ("db.js", 12),  # parameterised query
    ("server.js", 24),  # execFile with an argument array
    ("server.js", 35),  # parseInt before eval
    ("server.js", 45),  # path.basename
    ("server.js", 57),  # redirect after a startsWith('/') check
    ("server.js", 63),  # a file's contents are not the request
    ("server.js", 69),  # if (false)
    ("server.js", 72),  # if (1 === 2)
    ("koa_app.js", 18),  # .length of process.env
    ("app/api/files/route.ts", 18),  # Number() before the path
    ("fetcher.js", 11),  # parseInt before the URL
}


C_FLAGGED = {
    ("util.c", 7, "CWE-78"),  # recv() into a buffer -> helper in another file -> system()
    ("server.c", 28, "CWE-134"),  # fgets() -> printf(name)
    ("server.c", 39, "CWE-129"),  # fscanf(&index) -> buffer[index], lower bound only
    ("server.c", 52, "CWE-369"),  # fgets -> atoi -> 100 / divisor
    ("server.c", 62, "CWE-78"),  # argv[1] strncat'ed into command -> system()
}
C_SILENT = {
    ("server.c", 29),  # printf("%s\n", name)
    ("server.c", 42),  # index checked against both bounds
    ("server.c", 55),  # divisor != 0
    ("server.c", 63),  # fopen(argv[2]): a CLI opens the file it is given
    ("server.c", 65),  # if (0)
}

SOL_FLAGGED = {
    ("Wallet.sol", 18, "CWE-829"),  # public argument -> delegatecall target
    ("Wallet.sol", 35, "CWE-829"),  # call to a chosen target with chosen calldata
    ("Wallet.sol", 45, "CWE-284"),  # selfdestruct(chosen beneficiary)
    ("Wallet.sol", 53, "CWE-284"),  # transfer: chosen recipient, chosen amount
    ("Wallet.sol", 73, "CWE-829"),  # staticcall's returned data -> delegatecall target
    ("Wallet.sol", 78, "CWE-829"),  # through a storage array (push)
    ("Wallet.sol", 87, "CWE-284"),  # constant-true branch
    ("Forwarder.sol", 13, "CWE-829"),  # Wallet.forward -> Forwarder.run -> _go, across files
    ("Forwarder.sol", 23, "CWE-829"),  # msg.sender as a delegatecall target
}
SOL_SILENT = {
    ("Wallet.sol", 22),  # onlyOwner modifier
    ("Wallet.sol", 27),  # require(msg.sender == owner) guard
    ("Wallet.sol", 31),  # delegatecall to address(this)
    ("Wallet.sol", 40),  # call{value: msg.value}(""): no chosen calldata
    ("Wallet.sol", 49),  # selfdestruct to the owner, owner only
    ("Wallet.sol", 59),  # amount checked against the caller's balance (sanitiser)
    ("Wallet.sol", 83),  # if (false)
}


@pytest.mark.parametrize(
    ("language", "flagged", "silent"),
    [
        ("python", PYTHON_FLAGGED, PYTHON_SILENT),
        ("javascript", JS_FLAGGED, JS_SILENT),
        ("c", C_FLAGGED, C_SILENT),
        ("solidity", SOL_FLAGGED, SOL_SILENT),
    ],
)
def test_each_case_is_flagged_and_each_near_miss_is_silent(
    language: str,
    flagged: set[tuple[str, int, str]],
    silent: set[tuple[str, int]],
    tmp_path: Path,
) -> None:
    found = {
        (f.file, f.line_number, f.cwe) for f in run_flow(copy_fixture(language, tmp_path)).findings
    }
    assert found == flagged
    assert not {(file, line) for file, line, _ in found} & silent


def test_cross_file_path_runs_from_the_handler_into_the_helper(tmp_path: Path) -> None:
    result = run_flow(copy_fixture("python", tmp_path))
    (finding,) = [f for f in result.findings if f.file == "helpers.py" and f.line_number == 12]
    assert [(s.file, s.line, s.function, s.description) for s in finding.path] == [
        (
            "views.py",
            13,
            "user",
            "source: request.args (HTTP request data (Flask/Django/FastAPI/Pyramid request))",
        ),
        ("views.py", 13, "user", "assigned to name"),
        ("views.py", 14, "user", "passed to load_user() as name"),
        ("helpers.py", 10, "load_user", "parameter name"),
        ("helpers.py", 12, "load_user", "sink: cur.execute() (SQL query, CWE-89)"),
    ]
    assert finding.rule_id == "vulnsight.flow.python.sql-injection"
    assert finding.function == "load_user"
    assert finding.snippet == "cur.execute(\"SELECT * FROM users WHERE name = '%s'\" % name)"


def test_a_sanitised_caller_does_not_make_the_helper_a_finding(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("def load(db, name):\n    db.execute('SELECT ' + name)\n")
    handler = (
        "from flask import request\nfrom helper import load\n\n"
        "def view(db):\n    load(db, {value})\n"
    )
    (tmp_path / "view.py").write_text(handler.format(value="int(request.args['n'])"))
    assert run_flow(tmp_path).findings == ()
    (tmp_path / "view.py").write_text(handler.format(value="request.args['n']"))
    assert [(f.file, f.line_number, f.cwe) for f in run_flow(tmp_path).findings] == [
        ("helper.py", 2, "CWE-89")
    ]


def test_returned_source_and_recursion(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import os, sys\n\n"
        "def arg():\n    return sys.argv[1]\n\n"
        "def ping(n, host):\n    if n:\n        return ping(n - 1, host)\n"
        "    os.system('ping ' + host)\n\n"
        "def main():\n    ping(3, arg())\n"
    )
    result = run_flow(tmp_path)
    (finding,) = result.findings
    assert (finding.file, finding.line_number, finding.cwe) == ("a.py", 9, "CWE-78")
    assert [(s.line, s.function, s.description) for s in finding.path] == [
        (4, "arg", "source: sys.argv (command-line arguments (sys.argv))"),
        (4, "arg", "returned"),
        (12, "main", "returned by arg()"),
        (12, "main", "passed to ping() as host"),
        (6, "ping", "parameter host"),
        (9, "ping", "sink: os.system() (shell command, CWE-78)"),
    ]
    # every function once: arg, ping, main
    assert result.stats["flow_functions_analysed"] == 3


def test_constant_variables_decide_branches(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import os, sys\n\n"
        "def main():\n"
        "    num = 86\n"
        "    param = sys.argv[1]\n"
        "    bar = 'safe' if (7 * 42) - num > 200 else param\n"
        "    os.system(bar)\n"
        "    baz = param if (7 * 42) - num > 200 else 'safe'\n"
        "    os.system(baz)\n"
    )
    assert [f.line_number for f in run_flow(tmp_path).findings] == [9]


def test_reassignment_with_a_constant_clears_the_taint(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text(
        "function h(req, res) {\n"
        "  let q = req.query.q;\n"
        "  q = 'fixed';\n"
        "  res.redirect(q);\n"
        "  let r = req.query.r;\n"
        "  res.redirect(r);\n"
        "}\n"
    )
    assert [(f.line_number, f.cwe) for f in run_flow(tmp_path).findings] == [(6, "CWE-601")]


def test_files_of_other_languages_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "a.sol").write_text(
        "contract A { function f(bytes memory d) public { address(this).call(d); } }\n"
    )
    result = run_flow(tmp_path)
    assert result.findings == () and result.errors == ()


def test_local_sources_count_for_code_execution_not_for_file_paths(tmp_path: Path) -> None:
    (tmp_path / "tool.py").write_text(
        "import os, sys\n\n"
        "def main():\n"
        "    with open(sys.argv[1]) as fh:\n"
        "        fh.read()\n"
        "    os.system(sys.argv[2])\n"
    )
    assert [(f.line_number, f.cwe) for f in run_flow(tmp_path).findings] == [(6, "CWE-78")]


def test_validators_in_compound_conditions_and_ternaries(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text(
        "function go(req, res) {\n"
        "  const next = String(req.query.next || '/');\n"
        "  res.redirect(next.startsWith('/') && !next.startsWith('//') ? next : '/');\n"
        "  res.redirect(next.startsWith('/') || other ? next : '/');\n"
        "}\n"
    )
    (tmp_path / "b.py").write_text(
        "from flask import request, redirect\n\n"
        "def view():\n"
        "    target = request.args['next']\n"
        "    if ok and target in ALLOWED:\n"
        "        return redirect(target)\n"
        "    if target not in ALLOWED or other:\n"
        "        return redirect(target)\n"
    )
    found = [(f.file, f.line_number) for f in run_flow(tmp_path).findings]
    assert found == [("a.js", 4), ("b.py", 8)]


def test_fixed_hosts_regex_checks_and_checked_normalised_paths(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import os, re, requests\n"
        "from flask import request, send_file, redirect\n\n"
        "def view():\n"
        "    env = request.args['env']\n"
        "    requests.get('https://example.com/%s/age' % env)\n"
        "    requests.get('https://%s.example.com/age' % env)\n"
        "    name = request.args['name']\n"
        "    if not os.path.normpath(name).startswith('images/'):\n"
        "        raise ValueError(name)\n"
        "    send_file(name)\n"
        "    target = request.args['next']\n"
        "    if not re.match(r'^https://[a-z]+\\.example\\.com/', target):\n"
        "        return 'no'\n"
        "    return redirect(target)\n"
    )
    assert [(f.line_number, f.cwe) for f in run_flow(tmp_path).findings] == [(7, "CWE-918")]


def test_c_helper_called_with_a_constant_is_silent(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text(
        "void run(const char *cmd) { system(cmd); }\n"
        'void ok(void) { char d[100] = "ls"; run(d); }\n'
    )
    assert run_flow(tmp_path).findings == ()


def test_do_while_zero_runs_once_and_branches_forget_constants(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text(
        "void f(int sock, int flag) {\n"
        "    char input[16];\n"
        "    int data = -1;\n"
        "    do {\n"
        "        if (recv(sock, input, 15, 0) <= 0) { break; }\n"
        "        data = atoi(input);\n"
        "    } while (0);\n"
        '    printf("%d", 100 / data);\n'
        "    int n = -1;\n"
        '    if (flag) { fscanf(stdin, "%d", &n); }\n'
        '    if (n != 0) { printf("%d", 100 / n); }\n'
        '    printf("%d", 100 % n);\n'
        "}\n"
    )
    assert [(f.line_number, f.cwe) for f in run_flow(tmp_path).findings] == [
        (8, "CWE-369"),
        (12, "CWE-369"),
    ]


def test_the_count_recv_returns_is_not_the_data(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text(
        "void f(int sock) {\n"
        "    char input[16];\n"
        "    int n = recv(sock, input, 15, 0);\n"
        "    input[n] = '\\0';\n"
        "    printf(input);\n"
        "}\n"
    )
    assert [(f.line_number, f.cwe) for f in run_flow(tmp_path).findings] == [(5, "CWE-134")]


def test_a_byte_cast_indexes_a_table_safely(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text(
        "int f(FILE *fp, int *table) {\n"
        "    char buf[64];\n"
        "    fread(buf, 1, 64, fp);\n"
        "    int a = table[(unsigned char)buf[0]];\n"
        "    return a + table[buf[1]];\n"
        "}\n"
    )
    assert [(f.line_number, f.cwe) for f in run_flow(tmp_path).findings] == [(5, "CWE-129")]


def test_solidity_cross_file_path_runs_from_the_public_function_into_the_library(
    tmp_path: Path,
) -> None:
    result = run_flow(copy_fixture("solidity", tmp_path))
    (finding,) = [f for f in result.findings if f.file == "Forwarder.sol" and f.line_number == 13]
    assert [(s.file, s.line, s.function, s.description) for s in finding.path] == [
        (
            "Wallet.sol",
            62,
            "Wallet.forward",
            "source: parameter target (argument of a public/external function)",
        ),
        ("Wallet.sol", 63, "Wallet.forward", "passed to run() as target"),
        ("Forwarder.sol", 7, "Forwarder.run", "parameter target"),
        ("Forwarder.sol", 9, "Forwarder.run", "passed to _go() as target"),
        ("Forwarder.sol", 12, "Forwarder._go", "parameter target"),
        (
            "Forwarder.sol",
            13,
            "Forwarder._go",
            "sink: target.delegatecall() (delegatecall to a caller-chosen contract, CWE-829)",
        ),
    ]
    assert finding.rule_id == "vulnsight.flow.solidity.delegatecall-untrusted-target"
