"""The real embedded model through llama.cpp, and the OpenAI-compatible backend against
llama-cpp-python's own server on loopback (no mocks)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from vulnsight.llm.prompt import render
from vulnsight.llm.schema import VERDICT_SCHEMA, parse_verdict

pytestmark = pytest.mark.model

CODE = "10| void copy(char *s) {\n11|     char buf[16];\n12|     strcpy(buf, s);\n13| }"


@pytest.fixture(scope="module")
def embedded():
    """The embedded model alone (the mechanics below do not depend on the adapter)."""
    from vulnsight.llm.models import load

    backend = load("base")
    yield backend
    backend.close()


def test_the_default_is_the_embedded_model_with_the_shipped_adapter(embedded, no_network):
    import math

    from vulnsight.llm.models import load

    shipped = load("default")
    try:
        assert shipped.name == "vulnsight-default-v1"
        # off where the held-out decision says it adds nothing (model card): not asked
        assert shipped.language_thresholds["solidity"] == math.inf
        assert shipped.language_thresholds["c"] == math.inf
        assert 0.0 < shipped.language_thresholds["javascript"] < 1.0
        prompt = [render(CODE, "c")]
        tuned, base = shipped.decide(prompt)[0], embedded.decide(prompt)[0]
        assert tuned.p_vulnerable != pytest.approx(base.p_vulnerable, abs=1e-3)
    finally:
        shipped.close()


def test_decision_is_a_probability_and_prefix_cache_is_exact(embedded, no_network):
    p1 = render(CODE, "c")
    p2 = render("1| def f(x):\n2|     return x + 1", "python")
    a = embedded.decide([p1])[0].p_vulnerable
    embedded.decide([p2])
    b = embedded.decide([p1])[0].p_vulnerable  # reused prefix, different body before
    assert 0.0 < a < 1.0
    assert a == pytest.approx(b, abs=1e-4)


def test_flagged_completion_is_a_schema_valid_verdict(embedded):
    reply = embedded.complete_flagged([render(CODE, "c")])[0]
    verdict = parse_verdict(reply.text)
    assert verdict.vulnerability is True
    assert verdict.type.startswith("CWE-")


def test_count_tokens_uses_the_model_tokenizer(embedded):
    assert embedded.count_tokens("strcpy(buf, s);") > 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    pytest.importorskip("llama_cpp.server")
    from vulnsight.llm.models import embedded_model_path

    port = _free_port()
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w+b")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(embedded_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--chat_format",
            "gemma",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"server died: {log.read().decode()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama.cpp server did not start")
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def test_openai_compatible_backend_returns_schema_valid_verdicts(llama_server, no_network):
    from vulnsight.llm.models import load

    backend = load(llama_server + "#gemma")
    replies = backend.generate([render(CODE, "c")], schema=VERDICT_SCHEMA)
    data = json.loads(replies[0].text)
    assert set(data) >= {"vulnerability", "type", "line_number", "confidence"}
    assert isinstance(data["vulnerability"], bool)
    assert replies[0].prompt_tokens > 50  # usage is read for cost accounting


def test_decision_head_reads_the_same_logits(embedded, tmp_path):
    import numpy as np

    from vulnsight.llm.head import DecisionHead, feature_tokens
    from vulnsight.llm.llamacpp import LlamaCppBackend

    ids = feature_tokens(embedded._llm.n_vocab(), k=64, always=embedded.true_false_ids)
    rng = np.random.default_rng(0)
    head = DecisionHead(
        ids,
        rng.normal(size=len(ids)),
        np.ones(len(ids)) * 3.0,
        rng.normal(size=len(ids)) * 0.1,
        0.2,
    )
    head.save(tmp_path / "head.npz")
    prompts = [render(CODE, "c"), render("1| def f(x):\n2|     return eval(x)", "python")]
    features = embedded.decision_logits(prompts, ids)
    expected = [float(head.predict(row)) for row in features]
    with_head = LlamaCppBackend(
        embedded._llm.model_path, head_path=tmp_path / "head.npz", threshold=0.4, n_ctx=4096
    )
    try:
        got = [d.p_vulnerable for d in with_head.decide(prompts)]
        assert got == pytest.approx(expected, abs=1e-6)
        assert with_head.default_threshold == 0.4
        # the head changes the answer compared with the model's own true/false logits
        own = [d.p_vulnerable for d in embedded.decide(prompts)]
        assert got != pytest.approx(own, abs=1e-3)
    finally:
        with_head.close()
