"""The cross-repository verdict ledger: one judgement per function text, waits that
cannot deadlock, released claims judged again, and FleetStore on top of it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from vulnsight.fleet.ledger import Answer, Entry, FleetStore, VerdictLedger
from vulnsight.review.cache import function_key
from vulnsight.review.interface import CachedVerdict
from vulnsight.types import Function


def fn(name: str, code: str, file: str = "a.c", start: int = 1) -> Function:
    return Function(
        name=name,
        file=file,
        language="c",
        start_line=start,
        end_line=start + 2,
        code=code,
        signature=name,
    )


class LocalClient:
    """A LedgerClient running the ledger on one event loop in this thread."""

    def __init__(self, ledger: VerdictLedger) -> None:
        self.ledger = ledger
        self.loop = asyncio.new_event_loop()

    def claim(self, owner: int, keys: Sequence[str]) -> dict[str, Answer]:
        return self.loop.run_until_complete(self.ledger.claim(owner, keys))

    def wait(self, keys: Sequence[str], timeout_s: float) -> dict[str, Entry]:
        return self.loop.run_until_complete(self.ledger.wait(keys, timeout_s))

    def put(self, entries: Mapping[str, Entry]) -> None:
        self.loop.run_until_complete(self.ledger.put(entries))


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_first_claims_later_waits_earlier_never_waits_on_later() -> None:
    async def scenario() -> tuple:
        ledger = VerdictLedger()
        first = await ledger.claim(1, ["k"])
        later = await ledger.claim(2, ["k"])  # 2 comes after 1: waits for 1's verdict
        earlier = await ledger.claim(0, ["k"])  # 0 never waits on 1 (no cycle): judges
        return first, later, earlier

    assert run(scenario()) == ({"k": "mine"}, {"k": "wait"}, {"k": "mine"})


def test_wait_returns_the_verdict_once_put_and_counts_the_reuse() -> None:
    async def scenario() -> tuple:
        ledger = VerdictLedger()
        await ledger.claim(0, ["k"])
        await ledger.claim(1, ["k"])
        waiter = asyncio.ensure_future(ledger.wait(["k"], 5.0))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await ledger.put({"k": (0.9, "CWE-78", 2)})
        got = await waiter
        again = await ledger.claim(2, ["k"])
        return got, again, await ledger.stats()

    got, again, stats = run(scenario())
    assert got == {"k": (0.9, "CWE-78", 2)}
    assert again == {"k": (0.9, "CWE-78", 2)}
    assert stats["claims"] == 1 and stats["waits"] == 1 and stats["waited_hits"] == 1
    assert stats["hits"] == 1 and stats["stored"] == 1 and stats["judged_twice"] == 0


def test_a_released_claim_wakes_waiters_empty_handed() -> None:
    async def scenario() -> tuple:
        ledger = VerdictLedger()
        await ledger.claim(0, ["k", "j"])
        await ledger.claim(1, ["k"])
        waiter = asyncio.ensure_future(ledger.wait(["k"], 5.0))
        await asyncio.sleep(0.01)
        released = await ledger.release(0)
        return released, await waiter, await ledger.claim(1, ["k"])

    released, got, retry = run(scenario())
    assert released == 2 and got == {} and retry == {"k": "mine"}


def test_fleet_store_shares_verdicts_by_function_text_across_repositories() -> None:
    ledger = VerdictLedger()
    client = LocalClient(ledger)
    one, two = FleetStore(client, owner=0), FleetStore(client, owner=1, wait_s=0.05)
    code = "void copy(char *d, const char *s) {\n    strcpy(d, s);\n}"
    here = fn("copy", code, "vendor/a.c", 10)
    there = fn("copy", code.replace("    ", "\t") + " /* moved */", "lib/b.c", 40)
    other = fn("other", "int other(void) {\n  return 1;\n}")
    assert function_key("fake", here) == function_key("fake", there)
    assert one.get_many("fake", [here, other]) == {}
    one.put_many("fake", {here: CachedVerdict(0.9, "CWE-120", 1)})
    # `other` is still claimed by repository 0: repository 1 waits (here: 50 ms) for it
    got = two.get_many("fake", [there, other])
    assert got == {there.qualified_id: CachedVerdict(0.9, "CWE-120", 1)}
    assert run(ledger.stats())["waits"] == 1
    assert two.get_many("other-model", [there]) == {}  # the model is part of the key
