"""Discovery on trees built by a hostile repository author: links out of the tree,
pipes, devices, loops, deep nesting and names that are not UTF-8 or hold escapes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vulnsight.discover import discover, read_source
from vulnsight.output.text import render
from vulnsight.types import Report, Skipped

SECRET = "TOKEN = 'outside-the-tree'\n"


def write(p: Path, data: str | bytes) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        p.write_text(data)
    else:
        p.write_bytes(data)
    return p


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def cloned(tmp_path: Path) -> Path:
    """A real git repository whose commits hold symbolic links out of the tree,
    checked out as CI would check it out (a clone)."""
    outside = tmp_path / "outside"
    write(outside / "secret.py", SECRET)
    write(outside / "lib" / "mod.py", SECRET)
    src = tmp_path / "src"
    write(src / "app.py", "def f():\n    return 1\n")
    write(src / "pkg" / "real.py", "def g():\n    return 2\n")
    os.symlink(outside / "secret.py", src / "leak.py")
    os.symlink(outside / "lib", src / "vendor")
    os.symlink("/dev/zero", src / "zero.c")
    os.symlink("/proc/self/environ", src / "env.py")
    os.symlink("pkg/real.py", src / "alias.py")  # inside the tree: read once
    os.symlink("pkg", src / "pkg2")  # a directory link inside the tree
    os.symlink(".", src / "pkg" / "self")  # a loop
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "commit", "-qm", "hostile")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(src), str(clone))
    return clone


def test_links_never_lead_out_of_the_scanned_tree(cloned: Path) -> None:
    found = discover([cloned])
    texts = {f.path: f.text for f in found.files}
    skipped = {s.file: s.reason for s in found.skipped}
    assert sorted(texts) == ["app.py", "pkg/real.py"]
    assert not any("outside-the-tree" in t for t in texts.values())
    assert skipped["leak.py"] == "symbolic link to a file outside the scanned tree"
    assert skipped["vendor"] == "symbolic link to a directory outside the scanned tree"
    assert skipped["zero.c"] == "symbolic link to a file outside the scanned tree"
    assert skipped["env.py"] == "symbolic link to a file outside the scanned tree"
    assert skipped["alias.py"] == "symbolic link to pkg/real.py, scanned there"
    assert skipped["pkg2"] == "directory already scanned (symbolic link loop)"
    assert skipped["pkg/self"] == "directory already scanned (symbolic link loop)"


def test_a_link_inside_the_tree_to_an_excluded_file_is_read_once(tmp_path: Path) -> None:
    write(tmp_path / "node_modules" / "dep.js", "eval(x);\n")
    os.symlink("node_modules/dep.js", tmp_path / "dep.js")
    os.symlink("node_modules/dep.js", tmp_path / "dep2.js")
    found = discover([tmp_path])
    assert [f.path for f in found.files] == ["dep.js"]
    assert {s.file: s.reason for s in found.skipped} == {
        "dep2.js": "symbolic link to a file already scanned"
    }


def test_a_path_the_user_names_is_trusted_even_when_it_is_a_link(tmp_path: Path) -> None:
    write(tmp_path / "real" / "a.py", "x = 1\n")
    os.symlink(tmp_path / "real", tmp_path / "named")
    found = discover([tmp_path / "named"])
    assert [f.path for f in found.files] == ["a.py"]


def test_pipes_and_devices_never_block_or_get_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")  # opening it for reading would block forever
    write(tmp_path / "ok.py", "x = 1\n")
    found = discover([tmp_path])
    assert [f.path for f in found.files] == ["ok.py"]
    assert found.skipped == (Skipped("pipe.py", "not a regular file (named pipe)"),)
    # a device given by name is refused the same way
    assert read_source(Path("/dev/zero"), "zero.c", 1000) == Skipped(
        "zero.c", "not a regular file (character device)"
    )


def test_deep_nesting_does_not_recurse(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(1200):  # deeper than Python's recursion limit; paths stay < PATH_MAX
        deep = deep / "d"
        deep.mkdir()
    write(deep / "x.py", "x = 1\n")
    try:
        found = discover([tmp_path])
        assert [f.path for f in found.files] == ["/".join(["d"] * 1200) + "/x.py"]
    finally:  # shutil.rmtree (pytest's clean-up) recurses too: take it down by hand
        (deep / "x.py").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent


def test_names_that_are_not_utf8_or_hold_escapes_are_scanned_and_shown_safely(
    tmp_path: Path,
) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xff.py"
    with open(raw, "wb") as handle:
        handle.write(b"x = 1\n")
    write(tmp_path / "evil\n\x1b[2Kok.py", "x = 1\n")
    write(tmp_path / "-rf --config=x.py", "x = 1\n")
    found = discover([tmp_path])
    names = sorted(f.path for f in found.files)
    assert names == sorted(["bad\udcff.py", "evil\n\x1b[2Kok.py", "-rf --config=x.py"])
    report = Report(findings=(), skipped=(Skipped("evil\n\x1b[2Kok.py", "demo"),))
    text = render(report)
    assert "skipped: evil\\x0a\\x1b[2Kok.py: demo" in text
    assert "\x1b" not in text and text.count("\n") == 3
