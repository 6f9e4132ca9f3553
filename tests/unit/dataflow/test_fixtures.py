"""The data-flow engine on the per-language fixture trees: every finding's file, line,
CWE and path steps, and the safe near-misses that must stay silent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.dataflow.helpers import FIXTURES, as_records, copy_fixture, run_flow


@pytest.mark.parametrize(
    "language", ["python", "javascript", "c", "cpp", "solidity", "solidity-sources"]
)
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
    ("more_sources.py", 17, "CWE-78"),  # request.get_json() -> subprocess shell=True
    ("more_sources.py", 24, "CWE-79"),  # Markup
    ("more_sources.py", 37, "CWE-643"),  # tree.xpath
    ("more_sources.py", 51, "CWE-90"),  # conn.search_s
    ("more_sources.py", 65, "CWE-78"),  # os.getenv -> os.system
    ("more_sources.py", 71, "CWE-94"),  # sys.stdin -> exec
    ("parsers.py", 11, "CWE-730"),  # request.args as a regex pattern
    ("parsers.py", 21, "CWE-776"),  # request.form -> xml.etree fromstring
    ("parsers.py", 25, "CWE-776"),  # request.data -> minidom.parseString
    ("parsers.py", 35, "CWE-601"),  # Django response['Location'] = request.GET[...]
    ("parsers.py", 41, "CWE-601"),  # Flask response.headers['Location'] = request.args
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
    ("more_sources.py", 18),  # argument list, no shell
    ("more_sources.py", 30),  # escape() inside Markup
    ("more_sources.py", 44),  # XPath variable binding
    ("more_sources.py", 60),  # isalnum() check before the LDAP filter
    ("more_sources.py", 66),  # shlex.quote of the environment value
    ("more_sources.py", 73),  # int() of stdin
    ("more_sources.py", 80),  # escape() in make_response
    ("more_sources.py", 84),  # a CLI opening the file it is given
    ("parsers.py", 16),  # re.escape() of the request value
    ("parsers.py", 29),  # a constant XML file
    ("parsers.py", 46),  # a constant Location
    ("parsers.py", 47),  # the request value in another header
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
    ("browser.js", 3, "CWE-95"),  # location.search -> eval
    ("koa_router.js", 7, "CWE-22"),  # Koa router ctx.params
    ("pages/api/user.js", 5, "CWE-22"),  # Next.js pages API req.query
    ("more_sinks.js", 11, "CWE-79"),  # res.send(html)
    ("more_sinks.js", 19, "CWE-1336"),  # ejs.render(string)
    ("more_sinks.js", 27, "CWE-78"),  # spawn(..., { shell: true })
    ("more_sinks.js", 35, "CWE-89"),  # Sequelize.literal
    ("more_sinks.js", 45, "CWE-95"),  # if (true) eval
    ("more_sinks.js", 47, "CWE-95"),  # setTimeout(string)
    ("more_sinks.js", 48, "CWE-94"),  # Function(...)
    ("more_sinks.js", 61, "CWE-78"),  # process.env -> exec
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
    ("browser.js", 8),  # parseInt of location.hash
    ("koa_router.js", 11),  # Number() of ctx.params
    ("pages/api/user.js", 6),  # path.basename
    ("more_sinks.js", 15),  # escapeHtml
    ("more_sinks.js", 23),  # template constant, data as locals
    ("more_sinks.js", 31),  # spawn without a shell
    ("more_sinks.js", 39),  # literal of a constant choice
    ("more_sinks.js", 54),  # setTimeout(function)
    ("more_sinks.js", 55),  # Function of constants
    ("more_sinks.js", 62),  # process.env as a file path (local source)
    ("more_sinks.js", 71),  # new Function with Number()
    ("more_sinks.js", 72),  # unserialize of parseInt
    ("more_sinks.js", 75),  # the length of a tainted array
    ("more_sinks.js", 80),  # execFileSync without a shell
}


C_FLAGGED = {
    ("util.c", 7, "CWE-78"),  # recv() into a buffer -> helper in another file -> system()
    ("server.c", 28, "CWE-134"),  # fgets() -> printf(name)
    ("server.c", 39, "CWE-129"),  # fscanf(&index) -> buffer[index], lower bound only
    ("server.c", 52, "CWE-369"),  # fgets -> atoi -> 100 / divisor
    ("server.c", 62, "CWE-78"),  # argv[1] strncat'ed into command -> system()
    ("more.c", 10, "CWE-78"),  # getenv -> system
    ("more.c", 19, "CWE-190"),  # scanf -> n * sizeof(int)
    ("more.c", 19, "CWE-680"),  # ... as a malloc size
    ("more.c", 33, "CWE-680"),  # read() -> realloc size
    ("more.c", 33, "CWE-190"),  # ... extra + 16 may wrap first
    ("more.c", 45, "CWE-190"),  # fgets -> side * side
    ("more.c", 56, "CWE-134"),  # recv -> fprintf format
    ("more.c", 59, "CWE-134"),  # recv -> snprintf format
    ("more.c", 67, "CWE-22"),  # recv -> fopen
    ("more.c", 78, "CWE-134"),  # fread of a file -> printf
    ("more.c", 86, "CWE-78"),  # if (1)
    ("more.c", 108, "CWE-190"),  # fscanf -> total += 1
    ("more.c", 125, "CWE-190"),  # rand() -> ++seed
    ("more.c", 139, "CWE-190"),  # SHRT_MAX -> level += 1
    ("more.c", 159, "CWE-22"),  # recv -> an opener's open(path) callback
}
C_SILENT = {
    ("server.c", 29),  # printf("%s\n", name)
    ("server.c", 42),  # index checked against both bounds
    ("server.c", 55),  # divisor != 0
    ("server.c", 63),  # fopen(argv[2]): a CLI opens the file it is given
    ("server.c", 65),  # if (0)
    ("more.c", 117),  # total += 1 after total < INT_MAX
    ("more.c", 132),  # rand() % 100, then += 1
    ("more.c", 147),  # level += 1 after level < SHRT_MAX
    ("more.c", 12),  # printf("%s", getenv(...))
    ("more.c", 21),  # n bounded above before malloc
    ("more.c", 35),  # bounded before realloc
    ("more.c", 47),  # bounded before the multiplication
    ("more.c", 57),  # fprintf("%s", msg)
    ("more.c", 60),  # snprintf("%s", msg)
    ("more.c", 68),  # fopen of a constant
    ("more.c", 79),  # printf("%.63s", cfg)
    ("more.c", 101),  # snprintf of strlen(argv[1]) -> system
    ("util.c", 12),  # printf("%s") in a helper called with received data
    ("more.c", 160),  # the opener's open() of a constant path
}
CPP_FLAGGED = {
    ("runner.cpp", 9, "CWE-78"),  # std::cin >> word -> tools::run_command in another file
    ("server.cpp", 20, "CWE-134"),  # recv -> std::printf
    ("server.cpp", 27, "CWE-134"),  # read -> std::fprintf
    ("server.cpp", 30, "CWE-134"),  # read -> std::snprintf format
    ("server.cpp", 37, "CWE-22"),  # recv -> std::fopen
    ("server.cpp", 61, "CWE-369"),  # std::getline(std::cin) -> divisor
    ("server.cpp", 74, "CWE-129"),  # std::getline(ifstream) -> index
    ("server.cpp", 84, "CWE-190"),  # std::scanf -> n * sizeof(int)
    ("server.cpp", 84, "CWE-680"),  # ... as a malloc size
    ("server.cpp", 89, "CWE-190"),  # n * n
    ("server.cpp", 93, "CWE-680"),  # realloc size
    ("server.cpp", 93, "CWE-190"),  # ... total + 16 may wrap first
    ("server.cpp", 103, "CWE-78"),  # std::getenv -> std::system
    ("server.cpp", 113, "CWE-78"),  # argv pushed into a vector -> c_str() -> system
    ("server.cpp", 119, "CWE-78"),  # if (true)
    ("server.cpp", 131, "CWE-22"),  # recv -> std::ofstream::open
    ("server.cpp", 141, "CWE-129"),  # std::ifstream in >> count -> table[count]
}
CPP_SILENT = {
    ("runner.cpp", 16),  # only the size of the value reaches the shell
    ("server.cpp", 21),  # printf("%s")
    ("server.cpp", 28),  # fprintf("%s")
    ("server.cpp", 31),  # snprintf("%s")
    ("server.cpp", 38),  # fopen of a constant
    ("server.cpp", 63),  # divisor != 0
    ("server.cpp", 76),  # index checked against both bounds
    ("server.cpp", 86),  # bounded before malloc
    ("server.cpp", 91),  # bounded before the multiplication
    ("server.cpp", 95),  # bounded before realloc
    ("server.cpp", 105),  # printf("%s", getenv(...))
    ("server.cpp", 117),  # only a vector's size reaches the shell
    ("server.cpp", 122),  # if (false)
    ("server.cpp", 133),  # a stream opened on a constant path
    ("server.cpp", 143),  # count checked against both bounds
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
        ("cpp", CPP_FLAGGED, CPP_SILENT),
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


def test_cpp_stream_extraction_fills_each_operand_and_a_shift_fills_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.cpp").write_text(
        "int f(int sock) {\n"
        "    std::string a, b;\n"
        "    std::cin >> a >> b;\n"
        "    std::system(b.c_str());\n"
        "    char buf[16];\n"
        "    recv(sock, buf, 15, 0);\n"
        "    int n = atoi(buf);\n"
        "    int k = 2;\n"
        "    int m = n >> k;\n"
        "    return 100 / k;\n"
        "}\n"
    )
    result = run_flow(tmp_path)
    assert [(f.line_number, f.cwe) for f in result.findings] == [(4, "CWE-78")]
    (finding,) = result.findings
    assert [(s.line, s.description) for s in finding.path] == [
        (3, "source: cin (standard input (std::cin))"),
        (3, "read into b"),
        (4, "sink: std.system() (shell command, CWE-78)"),
    ]


def test_cpp_namespaced_calls_resolve_across_files(tmp_path: Path) -> None:
    (tmp_path / "util.cpp").write_text(
        "namespace util {\nint run(const std::string &c) { return std::system(c.c_str()); }\n}\n"
    )
    (tmp_path / "main.cpp").write_text(
        "int main(int argc, char **argv) {\n    return util::run(argv[1]);\n}\n"
    )
    (finding,) = run_flow(tmp_path).findings
    assert (finding.file, finding.line_number, finding.cwe) == ("util.cpp", 2, "CWE-78")
    assert [(s.file, s.description) for s in finding.path] == [
        ("main.cpp", "source: argv (command-line arguments (argv))"),
        ("main.cpp", "passed to run() as c"),
        ("util.cpp", "parameter c"),
        ("util.cpp", "sink: std.system() (shell command, CWE-78)"),
    ]
