import os
from pathlib import Path

from vulnsight.discover import discover


def write(p: Path, data: bytes | str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        p.write_text(data)
    else:
        p.write_bytes(data)
    return p


def test_bad_input_is_listed_and_the_rest_is_scanned(tmp_path):
    write(tmp_path / "ok.py", "def f():\n    return 1\n")
    write(tmp_path / "bin.c", b"\x7fELF\x00\x00\x01")
    write(tmp_path / "big.js", "x = 1;\n" * 200)
    write(tmp_path / "latin1.c", b"int f(void) { return 0; } /* caf\xe9 */\n")
    write(tmp_path / "odd name \u00e9 [1].py", "x = 1\n")
    write(tmp_path / "notes.txt", "hello")
    write(tmp_path / "node_modules" / "dep.js", "eval(x)")
    (tmp_path / "loop").mkdir()
    os.symlink(tmp_path, tmp_path / "loop" / "again")  # a directory symlink loop
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")
    secret = write(tmp_path / "secret.py", "x = 1\n")
    secret.chmod(0)

    found = discover([tmp_path], max_bytes=1000)

    scanned = sorted(f.path for f in found.files)
    skipped = {s.file: s.reason for s in found.skipped}
    errors = {e.file: e.reason for e in found.errors}
    assert "ok.py" in scanned and "odd name \u00e9 [1].py" in scanned
    assert skipped["bin.c"] == "binary file"
    assert skipped["big.js"].startswith("file too large")
    # a stray non-UTF-8 byte no longer hides the file: it is scanned, lines kept
    latin1 = next(f for f in found.files if f.path == "latin1.c")
    assert latin1.text == "int f(void) { return 0; } /* caf\ufffd */\n"
    assert found.replaced == ("latin1.c",)
    assert skipped["loop/again"] == "directory already scanned (symbolic link loop)"
    assert skipped["dangling.py"] == "broken symbolic link"
    assert not any(p.startswith("node_modules") for p in scanned)
    assert not any("again" in p for p in scanned)
    assert found.ignored == 1  # notes.txt
    if os.geteuid() != 0:  # root reads anything
        assert errors["secret.py"].startswith("cannot read file")


def test_files_given_directly_are_relative_to_their_common_parent(tmp_path):
    a = write(tmp_path / "src" / "a.c", "int a;\n")
    b = write(tmp_path / "lib" / "b.py", "b = 1\n")
    found = discover([a, b, tmp_path / "nope.c"])
    assert sorted(f.path for f in found.files) == ["lib/b.py", "src/a.c"]
    assert found.errors[0].reason == "no such file or directory"
