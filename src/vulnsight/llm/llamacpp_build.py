"""What the installed llama.cpp was built for, and the one load setting that depends on it.

`pip install` builds llama-cpp-python from source, and ggml optimises that build for the
machine it runs on (`-march=native`). On a CPU that reports AMX, such a build carries
ggml's AMX weight buffers, and a build made with GCC 12 (Debian 12's compiler) ends the
process with a segmentation fault at the first prompt: GCC 12's `_tile_loadconfig` is an
asm statement without a memory operand, so the optimiser drops the stores that fill ggml's
tile configuration and `ldtilecfg` loads garbage (`benchmarks/amx_tilecfg.sh` checks a
compiler). The host's AMX itself works: a clang build runs the AMX kernels (same next
token, logits within compiler noise) and for the 270M default they gain about a tenth per
CPU-second over AVX-512/VNNI (`benchmarks/results/llama_build-amx.json`). Nothing can
catch a segfault in Python, and nothing in the build says which compiler made it, so a
build with AMX loads its weights without ggml's extra buffer types (AMX and repacked
layouts) unless the user says otherwise. The same build keeps its AVX-512 and VNNI
kernels, which is where its speed comes from (benchmarks/llama_build.py).

`VULNSIGHT_LLAMA_EXTRA_BUFFERS=1` forces the extra buffers on (a clang-built llama.cpp),
`=0` forces them off.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

#: Environment override: "1" keeps ggml's extra buffer types, "0" drops them.
EXTRA_BUFFERS_ENV = "VULNSIGHT_LLAMA_EXTRA_BUFFERS"
_FEATURE = re.compile(r"([A-Z0-9_]+) = 1")
_LOCK = threading.Lock()


def build_features(system_info: str) -> frozenset[str]:
    """The CPU features a llama.cpp build reports as enabled (`AVX2`, `AMX_INT8`, ...)."""
    return frozenset(_FEATURE.findall(system_info))


def use_extra_buffers(features: frozenset[str], env: str | None) -> bool:
    """Whether to load weights into ggml's extra buffer types, given the build's
    features and the value of `VULNSIGHT_LLAMA_EXTRA_BUFFERS` (None when unset)."""
    if env is not None and env.strip() in ("0", "1"):
        return env.strip() == "1"
    return "AMX_INT8" not in features


def installed_features() -> frozenset[str]:
    """Features of the llama.cpp build that llama-cpp-python loaded (empty when absent)."""
    try:
        import llama_cpp
    except ImportError:
        return frozenset()
    info = llama_cpp.llama_print_system_info()
    return build_features(info.decode("utf-8", "replace") if isinstance(info, bytes) else info)


@contextlib.contextmanager
def load_settings() -> Iterator[dict[str, Any]]:
    """Around a `Llama(...)` call: applies the extra-buffer choice to the model parameters
    llama-cpp-python builds (it has no keyword for it) and yields what was chosen."""
    features = installed_features()
    extra = use_extra_buffers(features, os.environ.get(EXTRA_BUFFERS_ENV))
    chosen = {"extra_buffers": extra, "build": sorted(features & _REPORTED)}
    if extra:
        yield chosen
        return
    import llama_cpp.llama_cpp as low

    with _LOCK:
        original = low.llama_model_default_params

        def without_extra_buffers() -> Any:
            params = original()
            if hasattr(params, "use_extra_bufts"):
                params.use_extra_bufts = False
            return params

        low.llama_model_default_params = without_extra_buffers
        try:
            yield chosen
        finally:
            low.llama_model_default_params = original


#: The features worth naming in a report's model information.
_REPORTED = frozenset({"AVX2", "AVX512", "AVX512_VNNI", "AVX_VNNI", "AMX_INT8", "NEON", "SVE"})
