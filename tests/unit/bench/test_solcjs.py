"""The solc-js shim's pure parts: pragma -> version, standard-json -> combined-json,
why a unit failed, and the `solc` command line (answered from the cache, no node)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vulnsight.bench.adapters import solcjs
from vulnsight.bench.adapters.solcjs import (
    SolcJsError,
    choose_version,
    failure_reason,
    fallback_order,
    plan_versions,
    pragma_ranges,
    to_combined,
)

from ...conftest import FIXTURES

HERE = FIXTURES / "solcjs"
INSTALLED = ["0.4.24", "0.4.26", "0.5.17", "0.6.12", "0.7.5", "0.7.6", "0.8.0", "0.8.19", "0.8.30"]


def test_pragma_ranges_reads_every_pragma_in_order() -> None:
    src = "pragma solidity >=0.4.22 <0.6.0;\npragma experimental ABIEncoderV2;\n"
    src += "  pragma solidity ^0.5.0 ;\n"
    assert pragma_ranges(src) == [">=0.4.22 <0.6.0", "^0.5.0"]
    assert pragma_ranges("contract A {}") == []
    assert pragma_ranges("pragma solidity>=0.4.22;\npragma soliditymore 1;") == [">=0.4.22"]


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        (["^0.8.0"], "0.8.30"),
        (["0.8.19"], "0.8.19"),
        (["=0.7.6"], "0.7.6"),
        (["0.7.5"], "0.7.5"),
        (["^0.4.24"], "0.4.26"),
        (["~0.4.24"], "0.4.26"),
        ([">=0.4.22 <0.6.0"], "0.5.17"),
        ([">=0.4.0"], "0.8.30"),
        (["^0.5.16"], "0.5.17"),
        (["^0.6.0 || ^0.7.0"], "0.7.6"),
        (["^0.8.0", "<0.8.20"], "0.8.19"),
        (["0.8.12"], None),
        (["^0.9.0"], None),
        (["^0.4.0", "^0.8.0"], None),
    ],
)
def test_choose_version_is_the_newest_installed_that_every_pragma_accepts(
    ranges: list[str], expected: str | None
) -> None:
    assert choose_version(ranges, INSTALLED) == expected


def test_choose_version_rejects_a_pragma_that_is_no_range() -> None:
    with pytest.raises(SolcJsError, match="unreadable pragma"):
        choose_version(["banana"], INSTALLED)


def test_fallback_order_is_the_newest_of_each_series_newest_first() -> None:
    assert fallback_order(INSTALLED) == ["0.8.30", "0.7.6", "0.6.12", "0.5.17", "0.4.26"]


def test_plan_versions_groups_by_pragma_and_refuses_what_nothing_installed_accepts() -> None:
    units = {
        "a.sol": "pragma solidity ^0.8.0;\ncontract A {}",
        "b.sol": "pragma solidity ^0.8.1;\ncontract B {}",
        "c.sol": "function f() public {}",
        "d.sol": "pragma solidity 0.8.12;\ncontract D {}",
        "e.sol": "pragma solidity ^x;\ncontract E {}",
        "f.sol": "pragma solidity 0.6.12;\npragma solidity 0.8.0;\ncontract F {}",
    }
    planned, free, refused = plan_versions(units, INSTALLED)
    assert planned == {"0.8.30": ["a.sol", "b.sol"]}
    assert free == ["c.sol"]
    assert {n: c.reason for n, c in refused.items()} == {
        "d.sol": "pragma unsupported",
        "e.sol": "pragma unreadable",
        "f.sol": "pragmas conflict",
    }


def _fixture(version: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((HERE / f"bank_{version}.json").read_text("utf-8"))
    return data


@pytest.mark.parametrize("version", ["0.4.26", "0.8.19"])
def test_to_combined_has_the_shape_crytic_compile_parses(version: str) -> None:
    output = _fixture(version)
    combined = to_combined(output, version)
    assert combined["sourceList"] == ["Bank.sol"]
    ast = combined["sources"]["Bank.sol"]["AST"]
    assert ast["nodeType"] == "SourceUnit"  # the compact AST Slither reads
    assert ast["absolutePath"] == "Bank.sol"
    assert list(combined["contracts"]) == ["Bank.sol:Bank"]
    bank = combined["contracts"]["Bank.sol:Bank"]
    evm = output["contracts"]["Bank.sol"]["Bank"]["evm"]  # type: ignore[index]
    assert bank["bin"] == evm["bytecode"]["object"] and bank["bin"].startswith("6080")
    assert bank["bin-runtime"] == evm["deployedBytecode"]["object"]
    assert bank["srcmap"] == evm["bytecode"]["sourceMap"] and ":" in bank["srcmap"]
    assert bank["srcmap-runtime"] == evm["deployedBytecode"]["sourceMap"]
    assert bank["hashes"] == {"deposit()": "d0e30db0", "withdraw()": "3ccfd60b"}
    if version.startswith("0.4"):
        # Before 0.8 combined-json carries abi and the docs as JSON text.
        assert isinstance(bank["abi"], str)
        assert {f["name"] for f in json.loads(bank["abi"])} == {"deposit", "withdraw"}
        assert json.loads(bank["userdoc"])["methods"]["withdraw()"]["notice"] == (
            "Sends the caller's balance."
        )
        assert isinstance(bank["devdoc"], str)
    else:
        assert {f["name"] for f in bank["abi"]} == {"deposit", "withdraw"}
        assert bank["userdoc"]["methods"]["withdraw()"]["notice"] == "Sends the caller's balance."
        assert isinstance(bank["devdoc"], dict)


def test_to_combined_orders_source_list_by_source_id() -> None:
    output = {"sources": {"b.sol": {"id": 1, "ast": {}}, "a.sol": {"id": 0, "ast": {}}}}
    assert to_combined(output, "0.8.19")["sourceList"] == ["a.sol", "b.sol"]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("undeclared", "undeclared identifier"),
        ("unknown_type", "undeclared identifier"),
        ("import", "import missing"),
        ("parser", "parse error"),
        ("pragma", "pragma unsupported"),
    ],
)
def test_failure_reason_on_real_solc_errors(case: str, reason: str) -> None:
    errors = json.loads((HERE / "errors.json").read_text("utf-8"))[case]
    assert failure_reason(errors) == reason


def test_failure_reason_falls_back_to_the_error_type() -> None:
    assert failure_reason([{"type": "TypeError", "message": "Operator + not compatible"}]) == (
        "TypeError"
    )


def _fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "solcjs"
    for v in ("0.4.26", "0.8.19"):
        (root / "node_modules" / f"solc-{v}").mkdir(parents=True)
        (root / "node_modules" / f"solc-{v}" / "soljson.js").write_text("")
    (root / "node_modules" / "solc-0.5.0").mkdir()  # no soljson.js: not installed
    monkeypatch.setenv(solcjs.DIR_ENV, str(root))
    monkeypatch.setenv(solcjs.NODE_ENV, "/nonexistent/node")
    return root


def test_installed_versions_lists_only_complete_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fake_install(tmp_path, monkeypatch)
    assert solcjs.installed_versions(root) == ["0.4.26", "0.8.19"]


def test_main_answers_version_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_install(tmp_path, monkeypatch)
    monkeypatch.setenv(solcjs.VERSION_ENV, "0.4.26")
    assert solcjs.main(["--version"]) == 0
    assert "Version: 0.4.26+" in capsys.readouterr().out


def test_main_prints_combined_json_from_the_cache_and_accepts_crytic_compiles_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_install(tmp_path, monkeypatch)
    source = (HERE / "bank_08.sol").read_text("utf-8")
    monkeypatch.chdir(tmp_path)
    Path("Bank.sol").write_text(source, "utf-8")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / solcjs.cache_key("0.8.19", "Bank.sol", source)).write_text(
        json.dumps(_fixture("0.8.19"))
    )
    monkeypatch.setenv(solcjs.CACHE_ENV, str(cache))
    monkeypatch.setenv(solcjs.VERSION_ENV, "0.8.19")
    fields = "abi,ast,bin,bin-runtime,srcmap,srcmap-runtime,userdoc,devdoc,hashes,compact-format"
    argv = ["Bank.sol", "--combined-json", fields, "--allow-paths", f".,{tmp_path}"]
    assert solcjs.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == to_combined(_fixture("0.8.19"), "0.8.19")


def test_main_fails_clearly_on_what_it_does_not_support(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_install(tmp_path, monkeypatch)
    assert solcjs.main(["A.sol", "--combined-json", "abi", "--optimize"]) == 1
    assert "--optimize is not supported" in capsys.readouterr().err
    assert solcjs.main(["A.sol", "--combined-json", "abi,asm"]) == 1
    assert "not supported: asm" in capsys.readouterr().err
    # Without a cache entry the shim has to run node, which is missing here.
    (tmp_path / "A.sol").write_text("pragma solidity ^0.8.0;\ncontract A {}\n")
    assert solcjs.main([str(tmp_path / "A.sol"), "--combined-json", "abi"]) == 1
    assert "node could not start" in capsys.readouterr().err


class FakeSolcJs(solcjs.SolcJs):
    """Answers from a table instead of node: a unit 'compiles' with a version when its
    source contains `ok<version-series>`; a source containing `hang` makes any batch
    holding it fail as a whole, as a compiler that times out would."""

    calls: list[tuple[str, int]]

    def versions(self) -> list[str]:
        return ["0.4.26", "0.5.17", "0.8.30"]

    def compile_many(self, version, requests):  # type: ignore[no-untyped-def]
        self.calls.append((version, len(requests)))
        contents = [next(iter(r["sources"].values()))["content"] for r in requests]
        if any("hang" in c for c in contents):
            raise SolcJsError(f"solc-js {version} did not finish in 130 s")
        series = ".".join(version.split(".")[:2])
        out = []
        for c in contents:
            if f"ok{series}" in c:
                out.append({"contracts": {}, "sources": {}})
            else:
                err = {"severity": "error", "type": "DeclarationError"}
                out.append({"errors": [{**err, "message": "Undeclared identifier."}]})
        return out


def test_compile_units_uses_the_pragma_falls_back_without_one_and_isolates_a_hang() -> None:
    fake = FakeSolcJs("node", Path("/nonexistent"))
    object.__setattr__(fake, "calls", [])
    units = {
        "pragma.sol": "pragma solidity ^0.5.0;\n// ok0.5",
        "old.sol": "function f() {} // ok0.4",
        "new.sol": "function f() {} // ok0.8",
        "cut.sol": "function f() { y = 1; }",
        "hang.sol": "function f() { hang }",
    }
    result = solcjs.compile_units(fake, units)
    assert {n: (c.version, c.reason) for n, c in result.items()} == {
        "pragma.sol": ("0.5.17", ""),
        "new.sol": ("0.8.30", ""),
        "old.sol": ("0.4.26", ""),
        "cut.sol": (None, "undeclared identifier"),
        "hang.sol": (None, "CompilerFailure"),
    }
    assert "did not finish" in result["hang.sol"].message
    # One batch per version; a failed batch is retried unit by unit.
    assert fake.calls[0] == ("0.5.17", 1)
    assert ("0.8.30", 4) in fake.calls and ("0.8.30", 1) in fake.calls
