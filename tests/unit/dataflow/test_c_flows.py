"""C flows the engine follows through `switch` cases that end in `break` and through
pointers set to a variable's address (`p = &data; *p = x`)."""

from __future__ import annotations

from pathlib import Path

from .helpers import run_flow


def _hits(tmp_path: Path, code: str, name: str = "a.c") -> list[tuple[int, str]]:
    (tmp_path / name).write_text(code)
    return [(f.line_number, f.cwe) for f in run_flow(tmp_path).findings]


def test_a_case_ending_in_break_carries_its_taint_past_the_switch(tmp_path: Path) -> None:
    code = (
        "void f(int mode) {\n"
        '    char buf[100] = "";\n'
        "    char *data = buf;\n"
        "    switch (mode) {\n"
        "    case 1:\n"
        "        fgets(data, 100, stdin);\n"
        "        break;\n"
        "    default:\n"
        "        break;\n"
        "    }\n"
        "    system(data);\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == [(11, "CWE-78")]


def test_a_break_inside_a_loop_inside_a_case_is_the_loops(tmp_path: Path) -> None:
    code = (
        "void f(int mode) {\n"
        '    char buf[100] = "";\n'
        "    char *data = buf;\n"
        "    switch (mode) {\n"
        "    case 1:\n"
        "        while (1) {\n"
        "            fgets(data, 100, stdin);\n"
        "            break;\n"
        "        }\n"
        '        strcpy(data, "ls");\n'
        '        data = "ls";\n'
        "        break;\n"
        "    }\n"
        "    system(data);\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == []


def test_a_case_that_cleans_the_value_stays_silent(tmp_path: Path) -> None:
    code = (
        "void f(int mode) {\n"
        '    char *data = "ls";\n'
        "    switch (mode) {\n"
        "    case 1:\n"
        '        data = "pwd";\n'
        "        break;\n"
        "    }\n"
        "    system(data);\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == []


def test_a_value_stored_through_an_alias_is_read_through_another(tmp_path: Path) -> None:
    code = (
        "void f(void) {\n"
        "    int data = 0;\n"
        "    int *p1 = &data;\n"
        "    int *p2 = &data;\n"
        "    {\n"
        "        int data = *p1;\n"
        '        fscanf(stdin, "%d", &data);\n'
        "        *p1 = data;\n"
        "    }\n"
        "    {\n"
        "        int data = *p2;\n"
        '        printf("%d", 100 / data);\n'
        "    }\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == [(12, "CWE-369")]


def test_an_alias_moved_elsewhere_no_longer_reads_the_variable(tmp_path: Path) -> None:
    code = (
        "void f(void) {\n"
        "    int data = 0;\n"
        "    int safe = 4;\n"
        "    int *p = &data;\n"
        '    fscanf(stdin, "%d", &data);\n'
        "    p = &safe;\n"
        '    printf("%d", 100 / *p);\n'
        "}\n"
    )
    assert _hits(tmp_path, code) == []


def test_a_byte_variable_indexes_a_table_safely(tmp_path: Path) -> None:
    code = (
        "int table[256];\n"
        "int f(int sock) {\n"
        "    char buf[16];\n"
        "    recv(sock, buf, sizeof buf, 0);\n"
        "    unsigned char c = buf[0];\n"
        "    int i = buf[1];\n"
        "    int a = table[c];\n"
        "    return a + table[i];\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == [(8, "CWE-129")]


def test_a_random_divisor_may_be_zero_unless_it_is_tested(tmp_path: Path) -> None:
    code = (
        "int f(void) {\n"
        "    int r = rand();\n"
        "    int a = 100 / r;\n"
        "    if (r != 0) {\n"
        "        a += 100 % r;\n"
        "    }\n"
        "    return a;\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == [(3, "CWE-369")]


def test_a_file_stream_fills_what_it_is_read_into(tmp_path: Path) -> None:
    code = (
        "#include <fstream>\n"
        "void f(const char *path) {\n"
        "    std::ifstream in(path);\n"
        "    std::string cmd;\n"
        "    in >> cmd;\n"
        "    std::system(cmd.c_str());\n"
        "    std::ofstream out(path);\n"
        '    std::string fixed = "ls";\n'
        "    std::system(fixed.c_str());\n"
        "}\n"
    )
    assert _hits(tmp_path, code, "a.cpp") == [(6, "CWE-78")]


def test_a_member_read_after_another_member_was_stored_holds_its_value(
    tmp_path: Path,
) -> None:
    code = (
        "void f(void) {\n"
        "    int data = 0;\n"
        "    number_u u;\n"
        '    fscanf(stdin, "%d", &data);\n'
        "    u.as_int = data;\n"
        "    int other = u.as_bits;\n"
        '    printf("%d", 100 / other);\n'
        "    config_t cfg;\n"
        "    memset(&cfg, 0, sizeof cfg);\n"
        "    cfg.level = data;\n"
        '    printf("%d", 100 / cfg.width);\n'
        "}\n"
    )
    assert _hits(tmp_path, code) == [(7, "CWE-369")]
