"""The VS Code extension's .vsix: .ci/run builds it when npm is there (best effort, like
the SARIF Multitool); it must then hold the compiled extension, its manifest starting
`vulnsight lsp`, and its runtime dependency."""

from __future__ import annotations

import json
import os
import shutil
import zipfile

import pytest

from ..conftest import ROOT

EXTENSION = ROOT / "editors" / "vscode"
VSIX = EXTENSION / "vulnsight.vsix"


def test_vsix_is_built_and_complete():
    if shutil.which("npm") is None:
        pytest.skip("npm not installed: the .vsix is not built")
    if not VSIX.is_file():
        if os.environ.get("CI"):
            pytest.fail(".ci/run had npm but did not build editors/vscode/vulnsight.vsix")
        pytest.skip("build it with: cd editors/vscode && npm ci && npm run package")
    with zipfile.ZipFile(VSIX) as vsix:
        names = set(vsix.namelist())
        manifest = json.loads(vsix.read("extension/package.json"))
        compiled = vsix.read("extension/out/extension.js").decode()
    assert manifest["main"] == "./out/extension.js"
    assert (
        manifest["contributes"]["configuration"]["properties"]["vulnsight.path"]["default"]
        == "vulnsight"
    )
    assert {"onLanguage:python", "onLanguage:c", "onLanguage:solidity"} <= set(
        manifest["activationEvents"]
    )
    assert '"lsp"' in compiled and "vscode-languageclient/node" in compiled
    assert "extension/node_modules/vscode-languageclient/node.js" in names
    assert "extension/readme.md" in {n.lower() for n in names}
    assert not any(n.startswith("extension/src/") for n in names)
