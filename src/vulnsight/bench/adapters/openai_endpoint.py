"""Any OpenAI-compatible endpoint (a cloud API or a local server) as a detector:
`openai:URL#MODEL`, e.g. `openai:https://api.openai.com/v1#gpt-4o-mini` or
`openai:http://127.0.0.1:8080/v1#qwen2.5-coder`. It asks through vulnsight's own prompt
and verdict schema (the llm detector with an endpoint backend), counts the tokens the
endpoint reports, and is priced by tokens (see cost.py). The bearer token comes from
`$VULNSIGHT_API_KEY`."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from vulnsight.bench.adapters.interface import AdapterOptions
from vulnsight.bench.adapters.vulnsight_detectors import VulnsightAdapter

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class EndpointAdapter(VulnsightAdapter):
    """The llm detector against an OpenAI-compatible endpoint."""

    kind = "endpoint"

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        url, _, model = arg.partition("#")
        super().__init__("llm", options, model=arg or "", name=f"openai[{model or url}]")
        self.url = url
        self.model_name = model or "default"
        self.chunk_size = 20

    @property
    def model_id(self) -> str:
        """The model name sent to the endpoint (used for token prices)."""
        return self.model_name

    def available(self) -> str | None:
        """Needs a URL; a remote one also needs an API key (and network)."""
        if not self.url.startswith(("http://", "https://")):
            return "no endpoint given: use openai:URL#MODEL"
        host = urlparse(self.url).hostname or ""
        if host not in LOCAL_HOSTS and not os.environ.get("VULNSIGHT_API_KEY"):
            return (
                f"no API key for {self.url} ($VULNSIGHT_API_KEY unset); "
                "cloud endpoints also need network, which this machine does not have"
            )
        return None

    def describe(self) -> dict[str, Any]:
        """URL and model."""
        return {"endpoint": self.url, "model": self.model_name}


def endpoint_adapter(options: AdapterOptions | None = None, arg: str = "") -> EndpointAdapter:
    """Factory for the registry."""
    return EndpointAdapter(options, arg)
