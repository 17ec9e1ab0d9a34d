"""Per-host politeness: a concurrency cap and a minimum interval, plus jitter, between request starts.

Timing assertions are lower bounds only; "does not wait" is shown by ordering, never by a deadline.
`HANG_GUARD` only turns a deadlock into a failure instead of a stuck test run.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from ingest.http.politeness import Politeness
from ingest.http.throttle import HostGate, HostGates, Reserve

HANG_GUARD = 10.0
# asyncio may run a timer up to one clock tick early; allow that much below a lower bound.
EARLY = 1e-3


class InFlight:
    """Counts requests inside a gate and remembers the most at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.starts: list[float] = []

    async def request(self, gate: HostGate, work: float = 0.0) -> None:
        async with gate:
            self.starts.append(time.monotonic())
            self.now += 1
            self.most = max(self.most, self.now)
            await asyncio.sleep(work)
            self.now -= 1


async def guarded(*aws):
    return await asyncio.wait_for(asyncio.gather(*aws), HANG_GUARD)


async def until(condition, *, steps: int = 1000) -> None:
    """Let other tasks run until `condition()` holds (no wall clock involved)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


def assert_spaced(starts: list[float], gaps: list[float]) -> None:
    """Each start is at least the sum of the gaps before it after the first: a start woken late does not
    move the schedule, so only the distance from the first (never late) start is bounded, not each gap."""
    assert len(starts) == len(gaps) + 1
    for n, start in enumerate(sorted(starts)):
        assert start - min(starts) >= sum(gaps[:n]) - EARLY, (n, start - min(starts), sum(gaps[:n]))


# -- concurrency -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cap", [1, 3, 8])
async def test_no_more_requests_in_flight_than_the_cap(cap):
    gate, seen = HostGate(cap, 0.0), InFlight()
    await guarded(*(seen.request(gate, work=0.002) for _ in range(40)))
    assert seen.most == cap
    assert len(seen.starts) == 40 and seen.now == 0


async def test_the_cap_holds_with_a_min_interval_too():
    gate, seen = HostGate(2, 0.005), InFlight()
    await guarded(*(seen.request(gate, work=0.02) for _ in range(12)))
    assert seen.most == 2


async def test_a_request_that_fails_inside_the_gate_frees_its_slot():
    gate = HostGate(1, 0.0)
    with pytest.raises(RuntimeError):
        async with gate:
            raise RuntimeError("request failed")
    seen = InFlight()
    await guarded(seen.request(gate))
    assert len(seen.starts) == 1


# -- request spacing -------------------------------------------------------------------------------

@pytest.mark.parametrize("cap", [1, 4])
async def test_request_starts_are_at_least_min_interval_apart(cap):
    interval, count = 0.03, 6
    gate, seen = HostGate(cap, interval), InFlight()
    await guarded(*(seen.request(gate) for _ in range(count)))
    starts = sorted(seen.starts)
    for n, start in enumerate(starts):
        assert start - starts[0] >= n * interval - EARLY
    assert all(later - earlier > 0 for earlier, later in zip(starts, starts[1:]))


async def test_spacing_counts_from_the_previous_start_across_bursts():
    interval = 0.03
    gate, seen = HostGate(4, interval), InFlight()
    await guarded(seen.request(gate))
    await guarded(seen.request(gate), seen.request(gate))
    first, second, third = seen.starts
    assert second - first >= interval - EARLY
    assert third - first >= 2 * interval - EARLY


async def test_without_min_interval_requests_up_to_the_cap_are_inside_at_once():
    gate = HostGate(10, 0.0)
    order: list[str] = []

    async def request(name: str) -> None:
        async with gate:
            order.append(f"{name} in")
            await until(lambda: len(order) >= 10)

    # All ten are inside at once: none waited for another to start or finish.
    await guarded(*(request(str(n)) for n in range(10)))
    assert len(order) == 10


# -- per host --------------------------------------------------------------------------------------

def test_one_gate_per_host():
    gates = HostGates(lambda host: Politeness(0.0, 2))
    assert gates["a.example"] is gates["a.example"]
    assert gates["a.example"] is not gates["b.example"]


async def test_a_full_host_does_not_hold_up_another_host():
    gates = HostGates(lambda host: Politeness(0.0, 1))
    order: list[str] = []
    release_a = asyncio.Event()

    async def busy_a() -> None:
        async with gates["a.example"]:
            order.append("a in")
            await release_a.wait()
            order.append("a out")

    async def queued_a() -> None:
        await until(lambda: "a in" in order)
        async with gates["a.example"]:
            order.append("a2 in")

    async def to_b() -> None:
        await until(lambda: "a in" in order)
        async with gates["b.example"]:
            order.append("b in")
        release_a.set()

    await guarded(busy_a(), queued_a(), to_b())
    assert order.index("b in") < order.index("a out") < order.index("a2 in")


async def test_one_hosts_min_interval_does_not_delay_another_host():
    gates = HostGates(lambda host: Politeness(3600.0, 4))  # a second request to the same host would wait an hour
    order: list[str] = []

    async def request(host: str, name: str) -> None:
        async with gates[host]:
            order.append(name)

    await guarded(request("a.example", "a1"))
    waiting = asyncio.create_task(request("a.example", "a2"))
    await guarded(request("b.example", "b1"), request("c.example", "c1"))
    assert order == ["a1", "b1", "c1"]
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


def test_each_hosts_gate_is_made_with_its_own_politeness_looked_up_once():
    asked: list[str] = []

    def politeness(host: str) -> Politeness:
        asked.append(host)
        return Politeness(0.0, 1)

    gates = HostGates(politeness)
    gates["a.example"], gates["a.example"], gates["b.example"]
    assert asked == ["a.example", "b.example"]


async def test_each_host_has_its_own_cap():
    caps = {"solo.example": Politeness(0.0, 1), "busy.example": Politeness(0.0, 4)}
    gates, solo, busy = HostGates(caps.__getitem__), InFlight(), InFlight()
    await guarded(*(solo.request(gates["solo.example"], work=0.002) for _ in range(12)),
                  *(busy.request(gates["busy.example"], work=0.002) for _ in range(12)))
    assert (solo.most, busy.most) == (1, 4)


async def test_each_host_has_its_own_interval():
    slow, fast = 0.04, 0.01
    intervals = {"slow.example": Politeness(slow, 4), "fast.example": Politeness(fast, 4)}
    gates = HostGates(intervals.__getitem__)
    starts: list[tuple[float, str]] = []

    async def request(host: str) -> None:
        async with gates[host]:
            starts.append((time.monotonic(), host))

    await guarded(*(request(host) for host in ("slow.example", "fast.example") for _ in range(3)))
    for host, interval in (("slow.example", slow), ("fast.example", fast)):
        assert_spaced([at for at, h in starts if h == host], [interval] * 2)
    # The fast host's third request (two short intervals in) starts before the slow host's second.
    order = [host for _, host in starts]
    assert order[-2:] == ["slow.example", "slow.example"]


# -- jitter ----------------------------------------------------------------------------------------

def draws(seed: int, jitter: float, count: int) -> list[float]:
    """The jitter a gate given `random.Random(seed)` adds to its first `count` intervals."""
    rng = random.Random(seed)
    return [rng.uniform(0, jitter) for _ in range(count)]


@pytest.mark.parametrize("cap", [1, 4])
async def test_starts_are_spaced_by_the_interval_plus_each_requests_drawn_jitter(cap):
    interval, jitter, count = 0.02, 0.05, 5
    gate, seen = HostGate(cap, interval, jitter=jitter, rng=random.Random(7)), InFlight()
    await guarded(*(seen.request(gate) for _ in range(count)))
    assert_spaced(seen.starts, [interval + drawn for drawn in draws(7, jitter, count - 1)])


async def test_jitter_alone_spaces_requests():
    jitter, count = 0.05, 4
    gate, seen = HostGate(4, 0.0, jitter=jitter, rng=random.Random(3)), InFlight()
    await guarded(*(seen.request(gate) for _ in range(count)))
    assert_spaced(seen.starts, draws(3, jitter, count - 1))


# -- cancellation ----------------------------------------------------------------------------------

async def test_cancelled_while_waiting_for_a_slot_takes_no_slot():
    gate = HostGate(1, 0.0)
    release = asyncio.Event()
    order: list[str] = []

    async def holder() -> None:
        async with gate:
            order.append("holder in")
            await release.wait()

    holding = asyncio.create_task(holder())
    await until(lambda: order == ["holder in"])
    waiter = asyncio.create_task(gate.__aenter__())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await guarded(holding)

    seen = InFlight()
    await guarded(seen.request(gate), seen.request(gate))
    assert len(seen.starts) == 2 and seen.most == 1


async def test_cancelled_while_waiting_for_its_start_time_gives_the_slot_back():
    interval = 0.05
    gate = HostGate(1, interval)
    await guarded(InFlight().request(gate))  # the next start is now `interval` away

    order: list[str] = []

    async def spaced() -> None:
        async with gate:
            order.append("spaced in")

    pending = asyncio.create_task(spaced())  # holds the only slot while it sleeps until its start
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert order == []

    # With the slot leaked this would never get in.
    seen = InFlight()
    await guarded(seen.request(gate))
    assert len(seen.starts) == 1


async def test_many_cancelled_waiters_leave_the_gate_usable():
    gate = HostGate(2, 0.0)
    release = asyncio.Event()
    seen = InFlight()

    async def hold() -> None:
        async with gate:
            seen.now += 1
            await release.wait()
            seen.now -= 1

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await until(lambda: seen.now == 2)
    waiters = [asyncio.create_task(seen.request(gate)) for _ in range(10)]
    await asyncio.sleep(0)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    release.set()
    await guarded(*holders)

    await guarded(*(seen.request(gate, work=0.001) for _ in range(6)))
    assert len(seen.starts) == 6 and seen.most == 2


# -- spacing kept elsewhere (e.g. the shared database) ---------------------------------------------

def recording_reserve() -> tuple[list[tuple[str, float]], Reserve]:
    """A reserve function that never makes anyone wait, and the (host, interval) it was asked for."""
    asked: list[tuple[str, float]] = []

    async def reserve(host: str, interval: float) -> float:
        asked.append((host, interval))
        return 0.0

    return asked, reserve


async def test_with_a_reserve_function_the_gate_waits_as_long_as_it_says():
    asked: list[tuple[str, float]] = []

    async def reserve(host: str, interval: float) -> float:
        asked.append((host, interval))
        return 0.05 * len(asked)  # what a shared schedule answers as other workers take turns

    gates, seen = HostGates(lambda host: Politeness(0.01, 4), reserve), InFlight()
    began = time.monotonic()
    await guarded(*(seen.request(gates["a.example"]) for _ in range(3)))
    assert asked == [("a.example", 0.01)] * 3
    starts = sorted(at - began for at in seen.starts)
    assert all(start >= 0.05 * (n + 1) - EARLY for n, start in enumerate(starts))


async def test_without_a_min_interval_or_jitter_the_reserve_function_is_never_asked():
    asked, reserve = recording_reserve()
    gates, seen = HostGates(lambda host: Politeness(0.0, 4), reserve), InFlight()
    await guarded(*(seen.request(gates["a.example"]) for _ in range(3)))
    assert asked == [] and len(seen.starts) == 3


async def test_a_crawl_delay_widens_the_interval_the_reserve_function_is_asked_for():
    asked, reserve = recording_reserve()
    gates = HostGates(lambda host: Politeness(0.01, 4), reserve)
    gates["a.example"].space_at_least(2.5)
    async with gates["a.example"]:
        pass
    assert asked == [("a.example", 2.5)]


async def test_the_reserve_function_is_asked_for_the_interval_plus_the_drawn_jitter():
    asked, reserve = recording_reserve()
    gates = HostGates(lambda host: Politeness(0.5, 4, 2.0), reserve, random.Random(11))
    for _ in range(3):
        async with gates["a.example"]:
            pass
    assert asked == [("a.example", 0.5 + drawn) for drawn in draws(11, 2.0, 3)]
    assert len({interval for _, interval in asked}) == 3  # no metronome


async def test_a_crawl_delay_widens_the_interval_and_jitter_still_adds_to_it():
    asked, reserve = recording_reserve()
    gates = HostGates(lambda host: Politeness(0.5, 4, 2.0), reserve, random.Random(5))
    gates["a.example"].space_at_least(3.0)
    gates["a.example"].space_at_least(1.0)  # narrower: no effect
    async with gates["a.example"]:
        pass
    assert asked == [("a.example", 3.0 + draws(5, 2.0, 1)[0])]
