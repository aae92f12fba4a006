"""Invariants of reactive users (arm_loop guarantees 6 and 7) on random streams (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st
from unified_support import MS, S, msg, quiet, run

from shadow.world.environment import Environment, Message


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Message], Environment, dict[int, int] | None]:
    size = draw(st.integers(1, 14))
    times = sorted(draw(st.lists(st.integers(0, 40_000), min_size=size, max_size=size)))
    messages = []
    for seq, at in enumerate(times):
        message = msg(
            seq,
            at / 1000,
            contact=draw(st.sampled_from(["a", "b"])),
            text=draw(st.sampled_from(["oi", "sim", "pizza"])),
        )
        if seq and draw(st.booleans()):
            message.repeat_kind = "resend"
        messages.append(message)
    base = quiet(latency=draw(st.integers(1, 8)) * S)
    pacing_max = draw(st.sampled_from([2 * S, 30 * S, 300 * S]))
    environment = Environment(replace(base.settings, users="reactive", pacing_max=pacing_max))
    reference = None
    if draw(st.booleans()):
        reference = {
            m.seq: m.received_at + draw(st.integers(0, 9_000)) * MS
            for m in messages
            if draw(st.booleans())
        }
    return messages, environment, reference


@given(streams())
def test_each_message_reaches_the_arm_once_never_early_or_is_a_withheld_answered_resend(
    case: tuple[list[Message], Environment, dict[int, int] | None],
) -> None:
    messages, environment, reference = case
    result = run(messages, environment=environment, drain=900 * S, reference_replies=reference)
    sent = result.arm.sent_at
    withheld = set(result.arm.withheld)
    for message in messages:
        seq = message.seq
        arrivals = [e.at for e in result.events(seq, "arrived")]
        if seq in withheld:
            assert message.repeat_kind == "resend"
            assert arrivals == []
            assert result.rule(seq) == "environment.users"
            # the original (same contact and text, sent before) was answered by then
            dropped_at = result.at(seq, "dropped")
            earlier = [
                m.seq
                for m in messages
                if m.contact_id == message.contact_id
                and m.text_hash == message.text_hash
                and m.seq != seq
                and 0 <= result.rec.first_reply_at[m.seq] <= dropped_at
            ]
            assert earlier
            continue
        assert arrivals == [sent.get(seq, message.received_at)]
        assert arrivals[0] >= message.received_at
        assert seq not in sent or sent[seq] > message.received_at


@given(streams())
def test_the_derived_stream_is_a_function_of_the_inputs(
    case: tuple[list[Message], Environment, dict[int, int] | None],
) -> None:
    messages, environment, reference = case
    first = run(messages, environment=environment, reference_replies=reference)
    second = run(messages, environment=environment, reference_replies=reference)
    assert first.arm.sent_at == second.arm.sent_at
    assert first.arm.withheld == second.arm.withheld
    assert [(e.at, e.kind, e.seqs) for e in first.rec.events] == [
        (e.at, e.kind, e.seqs) for e in second.rec.events
    ]
