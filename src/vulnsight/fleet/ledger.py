"""Model verdicts shared by every repository of a fleet run: a function that several
repositories hold (a vendored library, a copied helper) is judged once.

Verdicts are content-addressed with the verdict cache's key (`review.cache.function_key`:
model, prompt version, language, the function's text without comments), so a fleet run
reuses a verdict exactly where a warm `vulnsight scan` cache would.

Two repositories scanned at the same time may reach the same function together. The
first to ask claims it and judges it; a later one waits for that verdict instead of
judging it again, but only on a repository earlier in the run's order (so no two scans
ever wait on each other). A claim whose scan ends without a verdict (a failure, a
retry) is released and the waiters judge the function themselves: a verdict may be
computed twice, never lost.

`VerdictLedger` is plain Python (Ray runs it as an async actor); `FleetStore` is the
`VerdictStore` a repository's scan uses, over any `LedgerClient`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from vulnsight.review.cache import function_key
from vulnsight.review.interface import CachedVerdict
from vulnsight.types import Function

#: A verdict as it travels: (p_vulnerable, cwe, line_offset).
Entry = tuple[float, str | None, int | None]
#: What `claim` says about one key: the verdict, "mine" (judge it), or "wait".
Answer = Entry | str


class VerdictLedger:
    """The run's verdicts by key, with claims on keys being judged."""

    def __init__(self) -> None:
        self._verdicts: dict[str, Entry] = {}
        self._claims: dict[str, int] = {}
        self._events: dict[str, asyncio.Event] = {}
        self._counts: dict[str, int] = {
            "lookups": 0,
            "hits": 0,
            "claims": 0,
            "waits": 0,
            "waited_hits": 0,
            "stored": 0,
            "judged_twice": 0,
        }

    def _event(self, key: str) -> asyncio.Event:
        if key not in self._events:
            self._events[key] = asyncio.Event()
        return self._events[key]

    async def claim(self, owner: int, keys: Sequence[str]) -> dict[str, Answer]:
        """Per key: its verdict, "mine" (this owner judges it) or "wait" (an earlier
        repository is judging it)."""
        out: dict[str, Answer] = {}
        for key in dict.fromkeys(keys):
            self._counts["lookups"] += 1
            if key in self._verdicts:
                self._counts["hits"] += 1
                out[key] = self._verdicts[key]
                continue
            holder = self._claims.get(key)
            if holder is None:
                self._claims[key] = owner
                self._event(key).clear()
                self._counts["claims"] += 1
                out[key] = "mine"
            elif holder < owner:
                self._counts["waits"] += 1
                out[key] = "wait"
            else:  # a later repository holds it: never wait on it (no cycles)
                out[key] = "mine"
        return out

    async def wait(self, keys: Sequence[str], timeout_s: float) -> dict[str, Entry]:
        """The verdicts of `keys` as their claims resolve (those that had none by the
        timeout, or whose claim was released, are left out)."""
        deadline = time.monotonic() + timeout_s
        for key in keys:
            if key in self._verdicts or key not in self._claims:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(self._event(key).wait(), left)
            except TimeoutError:
                break
        found = {k: self._verdicts[k] for k in keys if k in self._verdicts}
        self._counts["waited_hits"] += len(found)
        return found

    async def put(self, entries: Mapping[str, Entry]) -> None:
        """Store verdicts and resolve their claims."""
        for key, entry in entries.items():
            if key in self._verdicts:
                self._counts["judged_twice"] += 1
            else:
                self._counts["stored"] += 1
            self._verdicts[key] = entry
            self._claims.pop(key, None)
            self._event(key).set()

    async def release(self, owner: int) -> int:
        """Drop the claims `owner` still holds (its scan ended); waiters then judge
        those functions themselves. Returns how many were released."""
        mine = [k for k, o in self._claims.items() if o == owner]
        for key in mine:
            del self._claims[key]
            self._event(key).set()
        return len(mine)

    async def stats(self) -> dict[str, int]:
        """Counts: lookups, hits (answered from another repository's verdict), claims,
        waits, waited_hits, stored, judged_twice."""
        return dict(self._counts)


class LedgerClient(Protocol):
    """Synchronous access to a `VerdictLedger` (Ray: through an actor handle)."""

    def claim(self, owner: int, keys: Sequence[str]) -> dict[str, Answer]:
        """See `VerdictLedger.claim`."""
        ...

    def wait(self, keys: Sequence[str], timeout_s: float) -> dict[str, Entry]:
        """See `VerdictLedger.wait`."""
        ...

    def put(self, entries: Mapping[str, Entry]) -> None:
        """See `VerdictLedger.put`."""
        ...


class FleetStore:
    """The `VerdictStore` of one repository's scan in a fleet run."""

    def __init__(self, client: LedgerClient, owner: int, wait_s: float = 900.0) -> None:
        self.client = client
        self.owner = owner
        self.wait_s = wait_s

    def get_many(
        self,
        model: str,
        functions: Sequence[Function],
        salts: Mapping[str, str] | None = None,
    ) -> dict[str, CachedVerdict]:
        """Verdicts other repositories (or this one) already have, after waiting for
        those an earlier repository is judging right now (`salts`: the facts digests by
        `qualified_id`, part of the key as in the verdict cache)."""
        salt = salts or {}
        keys = {
            fn.qualified_id: function_key(model, fn, salt=salt.get(fn.qualified_id, ""))
            for fn in functions
        }
        if not keys:
            return {}
        answers = self.client.claim(self.owner, list(dict.fromkeys(keys.values())))
        known = {k: a for k, a in answers.items() if isinstance(a, tuple)}
        waiting = [k for k, a in answers.items() if a == "wait"]
        if waiting:
            known.update(self.client.wait(waiting, self.wait_s))
        return {qid: CachedVerdict(*known[key]) for qid, key in keys.items() if key in known}

    def put_many(
        self,
        model: str,
        verdicts: Mapping[Function, CachedVerdict],
        salts: Mapping[str, str] | None = None,
    ) -> None:
        """Share this repository's new verdicts with the rest of the run."""
        salt = salts or {}
        entries = {
            function_key(model, fn, salt=salt.get(fn.qualified_id, "")): (
                v.p_vulnerable,
                v.cwe,
                v.line_offset,
            )
            for fn, v in verdicts.items()
        }
        if entries:
            self.client.put(entries)
