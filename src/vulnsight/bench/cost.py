"""What a review costs: measured compute seconds times an hourly price, or tokens times a
per-token price for endpoints.

Default prices (USD, on-demand, Linux, us-east-1, as listed on the AWS EC2 and OpenAI
pricing pages in 2025; override them on the command line):

* CPU: AWS EC2 ``c7i.large`` (2 vCPU, 4 GiB) at $0.08925/hour = **$0.0446 per
  vCPU-hour**. CPU-seconds are user + system time of the detector's processes, so a
  tool that keeps two cores busy for one second costs two CPU-seconds.
* GPU: AWS EC2 ``g5.xlarge`` (1 NVIDIA A10G, 4 vCPU) at **$1.006 per GPU-hour**; a
  GPU detector is charged its wall-clock seconds (the GPU is held for all of them).
* Tokens: ``KNOWN_TOKEN_PRICES`` (per million input / output tokens); an endpoint
  whose model is not listed and has no ``--token-price`` is reported as unpriced.
"""

from __future__ import annotations

from dataclasses import dataclass

CPU_HOUR_USD = 0.08925 / 2
GPU_HOUR_USD = 1.006
PRICE_SOURCES: dict[str, str] = {
    "cpu": "AWS EC2 c7i.large on-demand, us-east-1, Linux: $0.08925/h for 2 vCPU (2025)",
    "gpu": "AWS EC2 g5.xlarge (1x A10G) on-demand, us-east-1, Linux: $1.006/h (2025)",
    "tokens": "OpenAI API pricing page, standard tier (2025)",
}
#: USD per million (input, output) tokens.
KNOWN_TOKEN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


@dataclass(frozen=True)
class Prices:
    """Prices used for one evaluation (saved in its results)."""

    cpu_hour_usd: float = CPU_HOUR_USD
    gpu_hour_usd: float = GPU_HOUR_USD
    token_in_per_m: float | None = None  # None: look the model up in KNOWN_TOKEN_PRICES
    token_out_per_m: float | None = None

    def token_prices(self, model: str | None) -> tuple[float, float] | None:
        """(input, output) USD per million tokens for a model, or None if unknown."""
        if self.token_in_per_m is not None:
            return (self.token_in_per_m, self.token_out_per_m or 0.0)
        return KNOWN_TOKEN_PRICES.get((model or "").lower())


def compute_cost_per_1k(n: int, cpu_s: float, wall_s: float, compute: str, prices: Prices) -> float:
    """USD per 1,000 reviews from measured seconds over `n` reviews."""
    if n <= 0:
        return 0.0
    if compute == "gpu":
        return wall_s / n * 1000 * prices.gpu_hour_usd / 3600
    return cpu_s / n * 1000 * prices.cpu_hour_usd / 3600


def token_cost_per_1k(n: int, tokens_in: int, tokens_out: int, per_m: tuple[float, float]) -> float:
    """USD per 1,000 reviews from token counts over `n` reviews."""
    if n <= 0:
        return 0.0
    return (tokens_in * per_m[0] + tokens_out * per_m[1]) / 1e6 / n * 1000
