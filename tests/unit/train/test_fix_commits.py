"""The security-fix commit filter and the vulnerable/fixed pairing (pure core)."""

from __future__ import annotations

from collections import Counter

import pytest

from vulnsight.train.fix_commits import (
    CommitInfo,
    FixPolicy,
    advisories,
    cwe_for,
    cwe_of,
    is_code_path,
    select_commit,
)
from vulnsight.train.fix_pairs import (
    FileVersions,
    changed_lines,
    commit_records,
    deduplicate,
    focus,
    function_pairs,
    noise_reason,
    touched_rows,
)

P = "a" * 40
C = "b" * 40
POLICY = FixPolicy()


def commit(message: str, paths: tuple[str, ...] = ("src/x.c",), parents=(P,)) -> CommitInfo:
    return CommitInfo(C, tuple(parents), message, paths)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("Fix heap overflow in parser (CVE-2024-12345)", "CVE-2024-12345"),
        ("Merge fix for ghsa-9wv6-86v2-598j", "GHSA-9wv6-86v2-598j"),
        ("Prevent path traversal when extracting", "wording: path traversal"),
        ("Fix a security issue in the cookie parser", "wording: security issue"),
        ("fix: XSS in link renderer", "wording: XSS"),
    ],
)
def test_security_fix_commits_are_kept_with_their_reason(message, reason):
    sel = select_commit(commit(message), POLICY)
    assert sel.kept and sel.reason == reason


@pytest.mark.parametrize(
    ("c", "reason"),
    [
        (commit("Bump version to 1.0.1"), "no security wording"),
        (commit("Refactor the overflow handling for speed"), "no security wording"),
        (commit("Add security policy document"), "no security wording"),
        (
            commit("Tidy build\n\nThis also fixes a security issue in passing"),
            "no security wording",
        ),
        (commit("Fix harmless integer overflow in hash (CVE-2024-1111)"), "not a security fix"),
        (commit("Fix regressions introduced by CVE-2014-0191 patch"), "not a security fix"),
        (commit("Merge CVE-2024-1111 fix", parents=(P, C)), "merge"),
        (commit("Initial import, fixes CVE-2024-1111", parents=()), "root commit"),
        (commit('Revert "Fix CVE-2024-1111"'), "revert"),
        (commit("Test for CVE-2024-1111", ("tests/test_x.py",)), "no code changed"),
        (commit("CVE-2024-1111: document", ("docs/security.rst", "CHANGES")), "no code changed"),
        (commit("CVE-2024-1111", tuple(f"src/f{i}.c" for i in range(21))), "too many files"),
    ],
)
def test_other_commits_are_skipped_with_a_reason(c, reason):
    sel = select_commit(c, POLICY)
    assert not sel.kept and sel.reason.startswith(reason)


def test_extra_patterns_extend_the_wording():
    policy = FixPolicy(patterns=(r"\bhardening\b",))
    assert select_commit(commit("Parser hardening"), policy).kept
    assert not select_commit(commit("Parser hardening"), POLICY).kept
    with pytest.raises(ValueError):
        FixPolicy(max_files=0)


def test_advisories_and_cwes_from_the_message():
    msg = "Fix CVE-2021-3999 and cve-2021-3999, see GHSA-JFH8-C2JP-5V3Q; CWE-787"
    assert advisories(msg) == (("CVE-2021-3999",), ("GHSA-jfh8-c2jp-5v3q",))
    assert cwe_of(msg) == (("CWE-787",), "id")
    assert cwe_of("Fix SQL injection and a buffer overflow") == (("CWE-89", "CWE-787"), "wording")
    assert cwe_of("Fix crash") == ((), None)
    both = ("CWE-89", "CWE-787")
    assert cwe_for(both, "python") == "CWE-89"  # memory weaknesses need C or C++
    assert cwe_for(both, "c") is None  # ambiguous: C can have both
    assert cwe_for(("CWE-190",), "solidity") == "CWE-190"
    assert cwe_for(("CWE-190",), "javascript") is None


def test_code_paths_exclude_tests_vendored_and_other_languages():
    assert is_code_path("lib/parse.js") and is_code_path("src/expat/xmlparse.c")
    for path in (
        "tests/test_db.py",
        "lib/db_test.py",
        "src/parse.test.ts",
        "fuzz/fuzz_xml.c",
        "dist/purify.js",
        "lib/marked.min.js",
        "third_party/zlib/inflate.c",
        "docs/conf.py",
        "README.md",
        "setup.cfg",
    ):
        assert not is_code_path(path), path


def test_changed_lines_map_deletions_and_rewrites_onto_each_side():
    before = "a\nb\nc\nd\n"
    after = "a\nB\nc\nc2\nd\n"
    assert changed_lines(before, after) == ((2,), (2, 4))
    assert changed_lines("x\ny", "x\n  y") == ((2,), (2,))  # indentation counts
    assert changed_lines("x  \ny", "x\ny") == ((), ())  # trailing blanks do not
    assert changed_lines("x\ny\nz", "x\nz") == ((2,), ())


C_BEFORE = """#include <string.h>

int helper(int a) {
    return a + 1;  /* add */
}

void copy_name(char *dst, const char *src) {
    char buf[16];
    strcpy(buf, src);
    strcpy(dst, buf);
}

int scale(int n) {
    int total = n * 2;
    return total;
}

void test_copy(void) {
    copy_name(0, "x");
}
"""
C_AFTER = """#include <string.h>

int helper(int a) {
    return a + 1;  /* increment */
}

void copy_name(char *dst, const char *src) {
    char buf[16];
    strncpy(buf, src, sizeof buf - 1);
    buf[sizeof buf - 1] = '\\0';
    strcpy(dst, buf);
}

int scale(int n) {
    int result = n * 2;
    return result;
}

void test_copy(void) {
    copy_name(0, "y");
}
"""


def test_function_pairs_and_noise_filters():
    pairs = function_pairs(FileVersions("src/copy.c", "c", C_BEFORE, C_AFTER))
    by_name = {p.before.name: p for p in pairs}
    assert sorted(by_name) == ["copy_name", "helper", "scale", "test_copy"]
    copy = by_name["copy_name"]
    assert copy.deleted == (3,) and copy.added == (3, 4)
    assert copy.before.code.split("\n")[2].strip() == "strcpy(buf, src);"
    assert noise_reason(copy, POLICY) is None
    assert noise_reason(by_name["helper"], POLICY) == "whitespace or comments only"
    assert noise_reason(by_name["scale"], POLICY) == "renames only"
    assert noise_reason(by_name["test_copy"], POLICY) == "test function"
    assert noise_reason(copy, FixPolicy(max_changed_lines=2)) == "too many changed lines"


def test_a_renamed_call_is_a_fix_not_a_rename():
    before = "import yaml\n\n\ndef load(s):\n    return yaml.load(s)\n"
    after = "import yaml\n\n\ndef load(s):\n    return yaml.safe_load(s)\n"
    (pair,) = function_pairs(FileVersions("cfg.py", "python", before, after))
    assert noise_reason(pair, POLICY) is None


def test_commit_records_pairs_and_the_refactor_cap():
    sel = select_commit(commit("Fix buffer overflow (CVE-2024-12345)"), POLICY)
    files = [FileVersions("src/copy.c", "c", C_BEFORE, C_AFTER)]
    dropped: Counter[str] = Counter()
    before, after = commit_records(commit("x"), sel, files, POLICY, "acme/copy", dropped)
    assert (before["label"], after["label"]) == (1, 0)
    assert before["lines"] == [3] and after["lines"] == []
    assert before["cwe"] == after["cwe"] == "CWE-787"
    assert before["meta"]["pair_id"] == after["meta"]["pair_id"]
    assert before["meta"]["cve"] == "CVE-2024-12345"
    assert before["source"] == "fixes" and before["project"] == "acme/copy"
    assert dropped == Counter(
        {"whitespace or comments only": 1, "renames only": 1, "test function": 1}
    )
    capped: Counter[str] = Counter()
    policy = FixPolicy(max_functions=2)  # copy_name, scale, test_copy changed: 3 > 2
    assert commit_records(commit("x"), sel, files, policy, "acme/copy", capped) == []
    assert capped["commit changes too many functions"] == 1


def test_deduplicate_drops_repeats_and_code_seen_with_both_labels():
    def pair(pid, old, new):
        return [
            {"code": old, "label": 1, "meta": {"pair_id": pid}},
            {"code": new, "label": 0, "meta": {"pair_id": pid}},
        ]

    recs = pair("p1", "f(a)", "g(a)") + pair("p2", "f( a )", "g(a)") + pair("p3", "h()", "k()")
    recs += pair("p4", "k()", "m()")  # p3's fixed twin is p4's vulnerable side
    recs += pair("p5", "x()", "y()")
    dropped: Counter[str] = Counter()
    kept = deduplicate(recs, dropped)
    assert [r["meta"]["pair_id"] for r in kept] == ["p1", "p1", "p5", "p5"]
    assert dropped == Counter({"duplicate pair": 1, "code seen with both labels": 2})


def test_focus_blanks_only_the_definitions_no_change_touches():
    before = (
        "class Store:\n"
        "    def get(self, key):\n"
        "        return self.db.query('SELECT v FROM t WHERE k = %s' % key)\n"
        "\n"
        "    def size(self):\n"
        "        return len(self.db)\n"
        "\n"
        "\n"
        "def helper(x):\n"
        "    return x * 2\n"
    )
    after = before.replace(
        "'SELECT v FROM t WHERE k = %s' % key", "'SELECT v FROM t WHERE k = ?', (key,)"
    )
    rows_before, rows_after = touched_rows(before, after)
    assert 2 in rows_before and 2 in rows_after and 8 not in rows_before
    focused = focus(before, "python", "store.py", rows_before).split("\n")
    assert focused[:3] == before.split("\n")[:3]  # the class header and the changed method
    assert focused[4:6] == ["", ""] and focused[8:10] == ["", ""]  # size() and helper() blanked
    assert len(focused) == len(before.split("\n"))
    (pair,) = function_pairs(FileVersions("store.py", "python", before, after))
    assert pair.before.name.endswith("get") and pair.deleted == (2,)


def test_an_unreadable_commit_is_counted_and_the_harvest_goes_on():
    from vulnsight.errors import VulnsightError
    from vulnsight.train.fix_harvest import harvest_fixes

    class Change:
        def __init__(self, old, new):
            self.status, self.old_blob, self.new_blob = "M", old, new
            self.old_path = self.new_path = "src/copy.c"
            self.regular = True

    class History:
        def commits(self, rev="HEAD", max_count=None):
            yield CommitInfo("c" * 40, (P,), "Fix buffer overflow, CVE-2024-1")
            yield CommitInfo(C, (P,), "Fix heap overflow, CVE-2024-2")

        def changes(self, parent, sha):
            if sha == "c" * 40:
                raise VulnsightError("fatal: unable to read 7b28dfbe")  # a partial copy
            return [Change("1" * 40, "2" * 40)]

        def blobs(self, ids):
            return {"1" * 40: C_BEFORE.encode(), "2" * 40: C_AFTER.encode()}

    result = harvest_fixes(History(), "acme/copy")
    assert result.skipped == Counter({"unreadable commit": 1})
    assert result.pairs == 1 and result.used[0].sha == C


def test_listed_commits_are_mined_alone_in_the_listed_order(tmp_path):
    """A real repository with two fix commits and one other: `ListedHistory` reads only
    the commits named (`named_commits`, in the order given), never the rest of history."""
    import os
    import subprocess

    from vulnsight.errors import VulnsightError
    from vulnsight.train.fix_harvest import ListedHistory, harvest_fixes
    from vulnsight.train.gitread import GitRepo

    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *ident, *args], cwd=tmp_path, env=env, check=True, capture_output=True
        )
        return done.stdout.decode().strip()

    git("init", "-q")
    src = tmp_path / "src"
    src.mkdir()
    (src / "copy.c").write_text(C_BEFORE)
    git("add", "-A")
    git("commit", "-q", "-m", "initial import")
    (src / "copy.c").write_text(C_AFTER)
    git("commit", "-q", "-am", "Fix buffer overflow in copy_name (CVE-2024-1)")
    fix = git("rev-parse", "HEAD")
    (src / "copy.c").write_text(C_BEFORE)
    git("commit", "-q", "-am", "Revert the strncpy change")
    (src / "copy.c").write_text(C_AFTER.replace("sizeof buf - 1", "sizeof(buf) - 1"))
    git("commit", "-q", "-am", "Prevent a stack overflow again, CVE-2024-2")
    again = git("rev-parse", "HEAD")
    repo = GitRepo(tmp_path)

    assert [c.sha for c in repo.named_commits([fix, again])] == [fix, again]
    assert [c.sha for c in repo.named_commits([again, fix])] == [again, fix]
    with pytest.raises(VulnsightError):
        list(repo.named_commits(["not-a-sha"]))

    full = harvest_fixes(repo, "acme/copy")
    listed = harvest_fixes(ListedHistory(repo, (fix,)), "acme/copy")
    assert full.commits_seen == 4 and listed.commits_seen == 1
    assert [u.sha for u in listed.used] == [fix]
    assert [
        (r["id"].endswith(":before"), r["label"], r["meta"]["commit"]) for r in listed.records
    ] == [
        (True, 1, fix),
        (False, 0, fix),
    ]
    assert listed.records[0]["lines"] == [3]  # strcpy(buf, src): line 3 of copy_name
    # the same commit mined from the whole history gives the same records
    assert [r for r in full.records if r["meta"]["commit"] == fix] == listed.records
