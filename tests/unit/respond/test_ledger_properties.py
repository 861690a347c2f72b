from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from swarmguard.records.decision import Decision
from swarmguard.respond.ledger import DecisionLedger

T0 = datetime(2026, 1, 1, tzinfo=UTC)

ops = st.lists(
    st.tuples(st.sampled_from(["add", "revoke", "pull"]), st.integers(0, 30), st.integers(1, 100)),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_following_the_change_stream_reproduces_the_active_set(
    steps: list[tuple[str, int, int]],
) -> None:
    """A follower applying (new, deleted) from successive cursors ends with exactly the active
    decisions, whatever the interleaving of additions, revocations and pulls."""
    led = DecisionLedger(":memory:")
    now = T0 + timedelta(seconds=50)
    made: list[Decision] = []
    follower: dict[str, Decision] = {}
    cursor = 0

    def pull() -> None:
        nonlocal cursor
        new, gone, cursor = led.changes(cursor, now=now)
        for d in new:
            follower[d.uid] = d
        for d in gone:
            follower.pop(d.uid, None)

    for op, i, ttl in steps:
        if op == "add":
            d = Decision(
                ts=T0, action="block", scope="ip", value=f"192.0.2.{i}", ttl_s=ttl, origin="t"
            )
            made.append(d)
            led.add(d)
        elif op == "revoke" and made:
            led.revoke(made[i % len(made)].uid, by="t")
        else:
            pull()
    pull()
    live = {uid for uid, d in follower.items() if d.expires_at > now}
    assert live == {d.uid for d in led.active(now)}
    assert led.count_active(now) == len(live)
    assert sum(led.offences(f"192.0.2.{i}") for i in range(31)) == len(made)
