"""The pieces the streaming replay is built of (issue 20), each against its whole-run twin:
``RepeatIndex`` against ``repeat_facts``, ``SignatureGroups.absorb`` against one group fed in
pair order, and the recorder's take-out of settled seqs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.compare.frame import RepeatIndex, answered_repeats, content_identity, repeat_facts
from shadow.compare.signatures import SignatureGroups
from shadow.kernel import Kernel, OutcomeTaken, Recorder
from shadow.simulation import Codes

rows = st.lists(
    st.tuples(
        st.sampled_from("abc"),  # contact
        st.sampled_from(["m1", "m2", "m3", "m4", ""]),  # message id
        st.sampled_from(["t1", "t2", "t3"]),  # text
        st.integers(0, 30),  # gap to the previous row
        st.sampled_from(["", "resend", "legit", "other"]),  # label
    ),
    max_size=40,
)


@settings(deadline=None, max_examples=150)
@given(rows, st.integers(1, 12), st.integers(1, 40))
def test_repeat_index_in_chunks_gives_repeat_facts(
    stream: list[tuple[str, str, str, int, str]], chunk: int, horizon: int
) -> None:
    """With a retention longer than the stream, the chunked index is ``repeat_facts``."""
    contact = [r[0] for r in stream]
    message = [r[1] for r in stream]
    text = [r[2] for r in stream]
    received = list(itertools.accumulate(r[3] for r in stream))
    labels = [r[4] for r in stream]
    expected_of, expected_kind = repeat_facts(
        Codes.encode(contact).codes,
        Codes.encode(message).codes,
        Codes.encode(text).codes,
        np.asarray(received, dtype=np.int64),
        Codes.encode(labels),
        horizon,
    )
    index = RepeatIndex(horizon, id_retention=10_000)
    got_of: list[int] = []
    got_kind: list[str | None] = []
    for start in range(0, len(stream), chunk):
        part = slice(start, start + chunk)
        of, kind = index.add(
            start, contact[part], message[part], text[part], received[part], labels[part]
        )
        got_of += of.tolist()
        got_kind += [kind[i] for i in range(len(kind))]
    assert got_of == expected_of.tolist()
    assert got_kind == [expected_kind[i] for i in range(len(expected_kind))]


typed_rows = st.lists(
    st.tuples(
        st.sampled_from("ab"),  # contact
        st.sampled_from(["m1", "m2", "m3", ""]),  # message id
        st.sampled_from(["t1", "t2", ""]),  # text class ("": no text)
        st.integers(0, 30),  # gap to the previous row
        st.sampled_from(["", "resend", "legit"]),  # label
        st.sampled_from(["text", "", "audio"]),  # type
        st.integers(-1, 40),  # the baseline's first reply, relative to the arrival (-1: none)
        st.sampled_from(["", "", "k1", "k2"]),  # content class ("": none)
    ),
    max_size=40,
)


@settings(deadline=None, max_examples=150)
@given(typed_rows, st.integers(1, 12), st.integers(1, 40), st.booleans())
def test_repeat_index_with_content_and_replies_gives_repeat_facts(
    stream: list[tuple[str, str, str, int, str, str, int, str]],
    chunk: int,
    horizon: int,
    with_classes: bool,
) -> None:
    """Content identity (captionless media without a content class is never a copy; with
    one it is the same content as another of its class) and the baseline's replies
    (``answered_repeats``, once the originals' replies are known) as ``repeat_facts``."""
    contact = [r[0] for r in stream]
    message = [r[1] for r in stream]
    text = [r[2] for r in stream]
    received = list(itertools.accumulate(r[3] for r in stream))
    labels = [r[4] for r in stream]
    types = [r[5] for r in stream]
    classes = [r[7] if with_classes else "" for r in stream]
    answered = np.asarray(
        [-1 if r[6] < 0 else at + r[6] for r, at in zip(stream, received, strict=True)],
        dtype=np.int64,
    )
    expected_of, expected_kind = repeat_facts(
        Codes.encode(contact).codes,
        Codes.encode(message).codes,
        content_identity(
            Codes.encode(types), Codes.encode(text), Codes.encode(classes) if with_classes else None
        ),
        np.asarray(received, dtype=np.int64),
        Codes.encode(labels),
        horizon,
        answered,
    )
    index = RepeatIndex(horizon, id_retention=10_000)
    got_of: list[int] = []
    got_kind: list[int] = []
    for start in range(0, len(stream), chunk):
        part = slice(start, start + chunk)
        of, kind = index.add(
            start,
            contact[part],
            message[part],
            text[part],
            received[part],
            labels[part],
            types[part],
            classes[part] if with_classes else None,
        )
        replied = answered[np.maximum(of, 0)]
        got_kind += answered_repeats(kind.codes, np.asarray(received[part]), replied).tolist()
        got_of += of.tolist()
    assert got_of == expected_of.tolist()
    assert got_kind == np.asarray(expected_kind.codes).tolist()


def test_repeat_index_forgets_a_message_id_after_its_retention() -> None:
    index = RepeatIndex(repeat_horizon=5, id_retention=100)
    first, _ = index.add(0, ["a", "a"], ["m1", "m1"], ["x", "y"], [0, 50], ["", ""])
    later, kinds = index.add(2, ["a", "a"], ["m1", "m2"], ["z", "w"], [200, 201], ["", ""])
    assert first.tolist() == [-1, 0]  # a redelivery within the retention
    assert later.tolist() == [-1, -1]  # seen last at 50, forgotten by 200
    assert kinds[0] == "distinct"  # every seq has a class (main: issue 15)


divergences = st.lists(
    st.tuples(
        st.integers(0, 2),  # pair
        st.sampled_from(["s1", "s2", "s3"]),  # signature
        st.sampled_from(["regression", "change", "improvement"]),
    ),
    max_size=60,
)


@settings(deadline=None, max_examples=150)
@given(divergences)
def test_absorbing_per_pair_groups_in_pair_order_gives_the_one_group(
    found: list[tuple[int, str, str]],
) -> None:
    """Seqs come in order within each pair (as a streaming run adds them), interleaved
    across pairs; the whole run adds them pair after pair."""
    pairs = [("legacy", "unified"), ("legacy", "rollout@10"), ("rollout@10", "rollout@50")]
    tagged = [(pair, seq, sig, sev) for seq, (pair, sig, sev) in enumerate(found)]
    whole = SignatureGroups()
    for pair, seq, sig, sev in sorted(tagged, key=lambda item: item[0]):
        whole.add_divergence(*pairs[pair], seq, sig, ["lost_reply"], sev, "c1", "c2")
    per_pair = [SignatureGroups() for _ in pairs]
    for pair, seq, sig, sev in tagged:
        per_pair[pair].add_divergence(*pairs[pair], seq, sig, ["lost_reply"], sev, "c1", "c2")
    merged = SignatureGroups()
    for groups in per_pair:
        merged.absorb(groups)
    assert merged.summary() == whole.summary()


def test_recorder_hands_settled_rows_over_and_refuses_later_decisions() -> None:
    kernel = Kernel()
    recorder = Recorder(kernel, 0)
    recorder.grow(3)
    for seq in range(3):
        recorder.event("arrived", seq)
    recorder.event("reply_sent", (0, 1), detail="h")
    kernel.now = 10
    assert recorder.settled_until(3, settle=5) == 2  # seq 2 is still open
    assert recorder.settled_until(3, settle=20) == 0  # nothing arrived 20 µs ago
    taken = recorder.take(2)
    assert taken["fate"] == [0, 0] and taken["reply_text_hash"] == ["h", "h"]
    assert recorder.base == 2 and recorder.size == 1
    recorder.event("reply_sent", 2, detail="k")
    assert recorder.take(3)["first_reply_at"] == [10]
    with pytest.raises(OutcomeTaken):
        recorder.event("reply_sent", 1)


@settings(deadline=None, max_examples=100)
@given(rows, st.integers(1, 12), st.integers(0, 40))
def test_repeat_index_forgets_the_same_ids_whatever_the_chunks(
    stream: list[tuple[str, str, str, int, str]], chunk: int, retention: int
) -> None:
    columns = (
        [r[0] for r in stream],
        [r[1] for r in stream],
        [r[2] for r in stream],
        list(itertools.accumulate(r[3] for r in stream)),
        [r[4] for r in stream],
    )

    def facts(size: int) -> list[int]:
        index = RepeatIndex(10, retention)
        found: list[int] = []
        for start in range(0, len(stream), size):
            part = [column[start : start + size] for column in columns]
            found += index.add(start, *part)[0].tolist()
        return found

    assert facts(chunk) == facts(max(1, len(stream)))
