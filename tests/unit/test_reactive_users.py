"""Reactive users' pacing (arm_loop guarantee 7): later messages keep their delay after the
arm's own reply to the message before them."""

from __future__ import annotations

from dataclasses import replace

from unified_support import MS, S, msg, quiet, run

from shadow.world.environment import Environment, ScriptEntry


def reactive(environment: Environment | None = None, pacing_max: int = 300 * S) -> Environment:
    base = environment or quiet()
    return Environment(replace(base.settings, users="reactive", pacing_max=pacing_max))


def conversation() -> list:  # type: ignore[type-arg]
    # "oi" at 0 s, then the order 8 s later, then a new conversation 10 min later
    return [msg(0, 0, text="oi"), msg(1, 8, text="quero pizza"), msg(2, 608, text="oi de novo")]


def test_open_users_send_at_the_stream_times() -> None:
    result = run(conversation())
    assert [result.at(seq, "arrived") for seq in range(3)] == [0, 8 * S, 608 * S]
    assert result.arm.sent_at == {}


def test_a_reply_paces_the_next_message_a_new_conversation_keeps_its_time() -> None:
    result = run(conversation(), environment=reactive())
    # the reply to "oi" is sent at 5.3 s (5 s agent + 0.3 s send): the order follows 8 s later
    assert result.at(1, "arrived") == 13300 * MS
    # 608 s after "quero pizza"'s stream time is more than pacing_max: a new conversation
    assert result.at(2, "arrived") == 608 * S
    assert result.arm.sent_at == {1: 13300 * MS}
    assert result.arm.stats["users.paced"] == 1


def test_pacing_max_bounds_the_pacing() -> None:
    result = run(conversation(), environment=reactive(pacing_max=5 * S))
    assert result.at(1, "arrived") == 8 * S  # 8 s after the reference reply: a new conversation


def test_recorded_replies_are_the_reference_and_a_faster_arm_is_not_pulled_ahead() -> None:
    # production answered "oi" at 2 s: the order came 6 s after that reply
    slower = run(conversation(), environment=reactive(), reference_replies={0: 2 * S})
    assert slower.at(1, "arrived") == 11300 * MS  # 5.3 s + 6 s
    # production answered at 7 s (gap 1 s); this arm answers at 5.3 s, but the user's message
    # stays at its stream time (8 s): the stream cannot be read ahead
    faster = run(conversation(), environment=reactive(), reference_replies={0: 7 * S})
    assert faster.at(1, "arrived") == 8 * S


def test_a_user_without_a_reply_writes_anyway_after_pacing_max() -> None:
    hang = {"m0": ScriptEntry(outcome="hang")}
    environment = reactive(quiet(script=hang, client_timeout=None), pacing_max=60 * S)
    result = run(conversation()[:2], environment=environment, drain=200 * S)
    assert result.at(1, "arrived") == 68 * S  # 8 s + pacing_max


def test_a_resend_keeps_its_delay_after_its_original_and_is_withheld_once_answered() -> None:
    messages = [
        msg(0, 0, text="oi"),
        msg(1, 2, text="quero pizza"),
        # the user's patience: 4 s after sending the order, no reply yet, the same text again
        msg(2, 6, text="quero pizza"),
    ]
    messages[2].repeat_kind = "resend"
    result = run(messages, environment=reactive())
    # the order waits for the reply to "oi" (5.3 s) plus its 2 s: 7.3 s; its resend 4 s later
    assert result.at(1, "arrived") == 7300 * MS
    assert result.at(2, "arrived") == 11300 * MS
    # not answered yet (the reply comes at 12.6 s): the resend is sent, and unified's window
    # suppresses it
    assert result.fate(2) == "duplicate_suppressed"
    quick = run(messages, environment=reactive(quiet(latency=1 * S)))
    # replies come 1.3 s after each message: "oi" at 1.3 s, the order at 3.3 s, answered at
    # 4.6 s, before its resend at 7.3 s: the user does not resend
    assert quick.at(1, "arrived") == 3300 * MS
    assert quick.fate(2) == "dropped"
    assert quick.rule(2) == "environment.users"
