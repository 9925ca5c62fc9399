"""Property tests of the grouping decider (``domain.grouping``): random arrivals, resolves,
duplicates, acknowledgements and flushes in any order, with channels that sometimes fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from uptime_relay.domain.grouping import (
    Group,
    Spec,
    Timing,
    acknowledge,
    after_flush,
    claim,
    decide_flush,
    join,
    resolve_member,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KEYS = ("web", "api", "db")
CHANNELS = ("slack", "pd", "mail")
TIMING = Timing(wait_s=30, interval_s=300, repeat_s=3600)

event = st.one_of(
    st.tuples(st.just("join"), st.integers(0, 11)),
    st.tuples(st.just("resolve"), st.integers(0, 11)),
    st.tuples(st.just("ack"), st.sampled_from(KEYS)),
    st.tuples(st.just("flush"), st.frozensets(st.sampled_from(CHANNELS))),  # the channels that get it
)
events = st.lists(st.tuples(event, st.integers(0, 400)), max_size=60)


def key_of_incident(n: int) -> str:
    return KEYS[n % len(KEYS)]


def spec(key: str) -> Spec:
    return Spec(key=key, route=0, labels={"team": key}, channels=CHANNELS, timing=TIMING)


class World:
    """Group records per key, driven through the pure decider as the relay and sweep drive it,
    and every message each channel got."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.messages: dict[str, list[tuple[str, str]]] = {c: [] for c in CHANNELS}
        self.now = T0
        self.joined: set[int] = set()
        self.closed: set[int] = set()

    def apply(self, key: str, changed: Group | None) -> None:
        if changed is not None:
            self.groups[key] = changed

    def join(self, n: int) -> None:
        if n in self.closed:  # an incident opens once: the relay never joins a resolved one again
            return
        key = key_of_incident(n)
        self.apply(key, join(self.groups.get(key), spec(key), f"inc-{n}", f"check {n}", self.now))
        self.joined.add(n)

    def resolve(self, n: int) -> None:
        key = key_of_incident(n)
        self.apply(key, resolve_member(self.groups.get(key), f"inc-{n}", self.now))
        if n in self.joined:
            self.closed.add(n)

    def ack(self, key: str) -> None:
        self.apply(key, acknowledge(self.groups.get(key), "alice", self.now))

    def flush(self, reach: frozenset[str] = frozenset(CHANNELS)) -> None:
        for key, group in list(self.groups.items()):
            flush = decide_flush(group, self.now)
            if flush is None:
                continue
            claimed = claim(group, self.now, timedelta(seconds=120))
            got = tuple(c for c in flush.channels if c in reach)
            for channel in got:
                self.messages[channel].append((claimed.id, flush.kind))
            self.groups[key] = after_flush(claimed, flush, self.now, delivered=got)


def run(world: World, script) -> None:
    for (kind, arg), seconds in script:
        world.now += timedelta(seconds=seconds)
        getattr(world, kind)(arg)


def open_incidents(script) -> set[str]:
    """The model: an incident is open once it joined until it resolves (a resolve arriving before
    its join changes nothing; a join repeated after its resolve is a stale duplicate)."""
    open_: set[str] = set()
    closed: set[str] = set()
    for (kind, arg), _ in script:
        name = f"inc-{arg}"
        if kind == "join" and name not in closed:
            open_.add(name)
        elif kind == "resolve" and name in open_:
            open_.discard(name)
            closed.add(name)
    return open_


@settings(max_examples=150, deadline=None)
@given(events)
def test_every_open_incident_is_in_exactly_one_open_group(script):
    """GIVEN any interleaving of joins, duplicate joins, resolves (also before their join), acks
    and flushes WHEN it has played THEN every incident still open is a firing member of exactly
    one unfinished group, and no resolved one fires anywhere."""
    world = World()
    run(world, script)
    firing = [m.id for g in world.groups.values() if not g.finished for m in g.firing]
    assert sorted(firing) == sorted(open_incidents(script))


@settings(max_examples=150, deadline=None)
@given(events)
def test_no_channel_gets_a_resolve_for_a_group_it_never_saw(script):
    """GIVEN any interleaving, with channels missing some flushes WHEN everything then resolves and
    the groups are flushed THEN a channel's resolve of a group always follows a message of that
    group on the same channel, and each group resolves at most once per channel."""
    world = World()
    run(world, script)
    for (kind, arg), _ in script:
        if kind == "join":
            world.resolve(arg)
    world.now += timedelta(hours=1)
    world.flush()
    for channel, got in world.messages.items():
        seen: set[str] = set()
        resolved: list[str] = []
        for group_id, kind in got:
            if kind in ("first", "update", "repeat"):  # a message showing the group
                seen.add(group_id)
            if kind == "resolve":
                assert group_id in seen, f"{channel} got the resolve of {group_id} it never saw"
                resolved.append(group_id)
        assert len(resolved) == len(set(resolved))


@settings(max_examples=150, deadline=None)
@given(events)
def test_group_state_is_right_after_any_interleaving(script):
    """GIVEN any interleaving WHEN time passes long enough for every due flush to go out THEN each
    group lists exactly its open members as firing, was told everything (no change unsent), is
    finished exactly when none fires, and its repeat and acknowledgement state is consistent."""
    world = World()
    run(world, script)
    for _ in range(3):  # long enough for wait, interval and any pending ack or resolve
        world.now += timedelta(minutes=10)
        world.flush()
    expected = open_incidents(script)
    for key, group in world.groups.items():
        mine = {i for i in expected if key_of_incident(int(i.split("-")[1])) == key}
        assert {m.id for m in group.firing} == mine
        assert len({m.id for m in group.members}) == len(group.members)  # no member twice
        assert group.finished == (not mine)
        if not group.finished:
            assert group.sent and group.sent_revision == group.revision
            if group.acknowledged_by is not None:  # told once; no repeats until a new member
                assert group.ack_sent and group.due_at is None
            else:  # its next repeat
                assert group.due_at is not None and group.due_at > world.now
        assert group.claimed_until is None


def test_a_member_joining_an_acknowledged_group_rearms_its_repeats():
    """GIVEN an acknowledged group WHEN a new member joins THEN it is no longer acknowledged and
    its next repeat is due again."""
    world = World()
    world.join(0)
    world.now += timedelta(seconds=30)
    world.flush()
    world.ack("web")
    world.flush()
    acked = world.groups["web"]
    assert acked.acknowledged_by == "alice" and acked.ack_sent
    world.join(3)  # same key
    rearmed = world.groups["web"]
    assert rearmed.acknowledged_by is None
    assert rearmed.due_at is not None


def test_a_group_that_resolves_inside_its_wait_sends_nothing_and_the_next_member_starts_anew():
    """GIVEN a member that joins and resolves before group_wait WHEN the group is flushed THEN
    nothing is sent, the group ends, and the next member opens generation 2 (a new group id)."""
    world = World()
    world.join(0)
    first_id = world.groups["web"].id
    world.now += timedelta(seconds=10)
    world.resolve(0)
    world.flush()
    assert world.groups["web"].finished
    assert all(not got for got in world.messages.values())
    world.join(3)
    assert world.groups["web"].id != first_id and world.groups["web"].generation == 2


def test_a_flush_claimed_by_someone_else_is_not_sent_twice():
    """GIVEN a due group claimed by one flusher WHEN another looks before the lease ends THEN it
    finds nothing to do."""
    world = World()
    world.join(0)
    world.now += timedelta(seconds=30)
    group = world.groups["web"]
    assert decide_flush(group, world.now) is not None
    claimed = claim(group, world.now, timedelta(seconds=120))
    assert decide_flush(claimed, world.now + timedelta(seconds=60)) is None
    # a member joining meanwhile does not make it due before the lease ends
    joined = join(claimed, spec("web"), "inc-3", "check 3", world.now)
    assert joined is not None and joined.due_at == claimed.claimed_until
    assert decide_flush(joined, world.now + timedelta(seconds=121)) is not None
