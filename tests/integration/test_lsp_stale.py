"""A document edited faster than the model answers never shows the older answer: the
server runs in a thread with a slow model, the test talks to it over pipes."""

from __future__ import annotations

import os
import threading

import pytest

from vulnsight.llm.fake import FakeBackend
from vulnsight.llm.prompt import Prompt

from .lsp_client import LspClient, initialize

pytest.importorskip("pygls")
pytestmark = pytest.mark.semgrep

V1 = 'def evaluate_threshold(expression, metrics):\n    return eval(expression, {"m": metrics})\n'
V2 = "import os\n\n\nLIMIT = 3\n\n" + V1  # the eval call moves from line 1 to line 6 (0-based)


class SlowModel(FakeBackend):
    """Flags functions that call eval; its first answer waits until the test says so."""

    def __init__(self) -> None:
        super().__init__(responder=self._verdict)
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    @staticmethod
    def _verdict(prompt: Prompt) -> dict[str, object]:
        flagged = "eval(" in prompt.body
        return {
            "vulnerability": flagged,
            "type": "CWE-95" if flagged else "none",
            "line_number": 0,
            "confidence": 0.95 if flagged else 0.9,
        }

    def decide(self, prompts):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            assert self.release.wait(120), "the test never released the model"
        return super().decide(prompts)


def _eval_lines(params: dict) -> set[int]:
    return {
        d["range"]["start"]["line"]
        for d in params["diagnostics"]
        if d["code"] == "vulnsight.python.code-eval-non-constant"
    }


def test_model_answer_for_an_older_version_is_dropped(tmp_path):
    from vulnsight.lsp.scanning import LspSettings
    from vulnsight.lsp.server import create_server

    (tmp_path / ".git").mkdir()
    path = tmp_path / "calc.py"
    path.write_text(V1)
    uri = path.as_uri()
    model = SlowModel()
    server = create_server(LspSettings(workspace=tmp_path, use_cache=False), backend=model)
    c2s_r, c2s_w = os.pipe()
    s2c_r, s2c_w = os.pipe()
    server_in, server_out = os.fdopen(c2s_r, "rb"), os.fdopen(s2c_w, "wb")
    thread = threading.Thread(target=server.start_io, args=(server_in, server_out), daemon=True)
    thread.start()
    client = LspClient(os.fdopen(c2s_w, "wb"), os.fdopen(s2c_r, "rb"))
    try:
        initialize(client, tmp_path.as_uri())
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": V1}},
        )
        rules_v1 = client.wait_for(
            "textDocument/publishDiagnostics", lambda p: p.get("version") == 1
        )
        assert _eval_lines(rules_v1) == {1}
        assert model.started.wait(120), "the model scan of version 1 never started"

        edited = client.mark()
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": V2}]},
        )
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        rules_v2 = client.wait_for(
            "textDocument/publishDiagnostics", lambda p: p.get("version") == 2, after=edited
        )
        assert _eval_lines(rules_v2) == {6}
        assert rules_v2["diagnostics"][0]["data"]["detectors"] == ["rules"]

        model.release.set()  # version 1's answer arrives now, after the edit
        model_v2 = client.wait_for(
            "textDocument/publishDiagnostics",
            lambda p: any("llm" in d["data"]["detectors"] for d in p["diagnostics"]),
            after=edited,
        )
        assert model_v2["version"] == 2 and _eval_lines(model_v2) == {6}
        assert model.calls == 2  # version 1 was judged, and its answer dropped

        client.request("shutdown", None)
        published = client.since(edited, "textDocument/publishDiagnostics")
        assert [p["params"]["version"] for p in published] == [2, 2]
        for p in published:
            assert all(d["range"]["start"]["line"] != 1 for d in p["params"]["diagnostics"])
        client.notify("exit", None)
        thread.join(30)
        assert not thread.is_alive()
    finally:
        model.release.set()
