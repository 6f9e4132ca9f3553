"""Solidity storage across transactions: a state variable anyone can set is a source.

A public function nobody restricts writes its caller's data into a state variable
(`setOwner(address a) public { owner = a; }`); in a later transaction another function
of the same contract (or of a contract deriving from it, or a base it runs in) reads the
variable and hands it to a sink (`selfdestruct(payable(owner))`, `target.delegatecall`).

The engine records each write of tainted data into a state variable as a hit on a
pseudo-sink (`state_sink`): parameter writes travel up through function summaries like
any sink (`_setOwner(a)` called from an unguarded `setOwner`), and the source writes of
unrestricted public functions (constructors excluded) become the stored taints that a
second pass of the analysis reads back (`StateAccess`). A finding that goes through
storage is reported where the data was stored (the setter to fix), its path showing the
writing function, the variable, and the sink in the other function. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from vulnsight.dataflow.spec import SinkSpec
from vulnsight.dataflow.taint import CLEAN, SinkHit, Value, union
from vulnsight.types import PathStep

#: The pseudo-weakness of a storage write (never a finding).
STATE_CWE = "state-write"
_PREFIX = "state:"


def state_sink(name: str) -> SinkSpec:
    """The pseudo-sink of writing state variable `name`."""
    return SinkSpec(id=_PREFIX + name, patterns=(), cwe=STATE_CWE, label=f"state variable {name}")


def is_state_write(hit: SinkHit) -> bool:
    """Whether a hit is a storage write, not a sink."""
    return hit.sink.cwe == STATE_CWE


def stored_taints(hit: SinkHit) -> tuple[str, Value]:
    """The variable a source write stores into, and the taints it holds from then on
    (their path ends at the write; `stored_at` marks the first such write, the setter
    anyone can call, when stored data is copied on into another variable)."""
    name = hit.sink.id.removeprefix(_PREFIX)
    taint = replace(hit.taint.then(hit.step), stored_at=hit.taint.stored_at or hit.step)
    return name, (taint,)


class StateAccess:
    """One Solidity function's view of storage: the state variables it sees (its
    contract's and its bases', less its own parameters and locals) and the taints
    stored in them by functions anyone can call."""

    def __init__(self, names: frozenset[str], stored: Mapping[str, Value]) -> None:
        self.names = names
        self.stored = stored

    def is_state(self, dotted: str) -> bool:
        """Whether `dotted` (`owner`, `config.target`) lives in storage."""
        return dotted.split(".", 1)[0] in self.names

    def read(self, dotted: str, step: PathStep) -> Value:
        """The taints stored in `dotted` (or in the whole variable it is part of)."""
        base = dotted.split(".", 1)[0]
        value = union(self.stored.get(dotted, CLEAN), self.stored.get(base, CLEAN))
        return tuple(t.then(step) for t in value)
