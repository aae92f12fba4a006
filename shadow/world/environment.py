"""The simulated world every arm shares: inbound messages, the agent, the sender, restarts.

Guarantees:

1. Common random numbers: every draw is keyed by what it is about, ``("agent", call key)`` and
   ``("send", call key, attempt)``, so the same call gets the same latency, outcome and reply in
   every arm, whatever else was drawn (a call key is the sorted tuple of its members' seqs).
2. A ``script`` entry for a member's ``message_id`` overrides the drawn value: in a batch,
   ``hang`` wins over ``error`` over ``ok`` and the largest latency wins.
3. Drawn latencies are rounded to 1 ms. A ``hang`` fails with ``AgentError`` after
   ``client_timeout`` or, when that is ``None``, never settles.
4. With ``same_input_same_reply``, the reply is a function of the members' normalized text
   hashes (in order) and topics: "Oi" always gets the same greeting. Messages carry the run's
   text classes; a configured text is looked up by its class (``reply_classes``,
   ``key_classes``), so a class is all a replay or ``explain`` needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from struct import Struct

from mypy_extensions import mypyc_attr

from shadow.kernel import Event, Kernel, KeyedRandom, normal_quantile

MS = 1_000
SECOND = 1_000_000
_SCALE = 1.0 / (1 << 64)
_TWO_WORDS = Struct("<2Q")
_THREE_WORDS = Struct("<3Q")


@mypyc_attr(allow_interpreted_subclasses=True)
class Message:
    """One inbound message as the coordinators see it (texts only as hashes).

    A plain class rather than a dataclass: in the compiled build (setup.py) its constructor is
    native code, where a dataclass's generated ``__init__`` stays interpreted (one per message).
    """

    __slots__ = (
        "contact_id",
        "message_id",
        "received_at",
        "repeat_kind",
        "seq",
        "text_hash",
        "text_norm_hash",
        "topic",
        "type",
    )

    def __init__(
        self,
        seq: int,
        message_id: str,
        contact_id: str,
        received_at: int,
        text_hash: str,
        text_norm_hash: str,
        type: str = "text",
        topic: str = "",
        repeat_kind: str = "",
    ) -> None:
        self.seq = seq
        self.message_id = message_id
        self.contact_id = contact_id
        self.received_at = received_at
        self.text_hash = text_hash
        self.text_norm_hash = text_norm_hash
        self.type = type
        self.topic = topic
        self.repeat_kind = repeat_kind

    def fields(self) -> tuple[int, str, str, int, str, str, str, str, str]:
        return (
            self.seq,
            self.message_id,
            self.contact_id,
            self.received_at,
            self.text_hash,
            self.text_norm_hash,
            self.type,
            self.topic,
            self.repeat_kind,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        return "Message" + repr(self.fields())


def message_block(
    start: int,
    message_id: list[str],
    contact_id: list[str],
    received_at: list[int],
    text_hash: list[str],
    text_norm_hash: list[str],
    type: list[str],
    topic: list[str],
    repeat_kind: list[str],
) -> list[Message]:
    """Messages ``start, start + 1, ...`` from equal-length slices of the stream's columns."""
    return [
        Message(
            start + row,
            message_id[row],
            contact_id[row],
            received_at[row],
            text_hash[row],
            text_norm_hash[row],
            type[row],
            topic[row],
            repeat_kind[row],
        )
        for row in range(len(received_at))
    ]


class AgentError(Exception):
    """The agent call threw (``error``), or a hang reached ``client_timeout``."""


@dataclass(frozen=True, slots=True)
class Latency:
    """A latency model: ``fixed``, ``lognormal`` (median, p95), ``uniform`` or ``recorded``."""

    kind: str = "lognormal"
    fixed: int = 0
    median: int = 3 * SECOND
    p95: int = 9 * SECOND
    low: int = 0
    high: int = 0

    def draw(self, u: float) -> int:
        """A latency in µs for the uniform ``u``, rounded to 1 ms."""
        return self.sampler()(u)

    def sampler(self) -> Callable[[float], int]:
        """``draw`` with its parameters worked out once (the agent draws once per call); an
        object, not a closure, so an arm's state pickles (kernel guarantee 13)."""
        if self.kind == "fixed":
            return _FixedSampler(max(0, round(self.fixed / MS)) * MS)
        if self.kind == "uniform":
            return _UniformSampler(self.low, self.high - self.low)
        mu = math.log(self.median)
        sigma = max(math.log(self.p95) - mu, 0.0) / 1.6448536269514722
        return _LognormalSampler(mu, sigma)


@mypyc_attr(allow_interpreted_subclasses=True)
class _FixedSampler:
    __slots__ = ("fixed",)

    def __init__(self, fixed: int) -> None:
        self.fixed = fixed

    def __call__(self, u: float) -> int:
        return self.fixed


@mypyc_attr(allow_interpreted_subclasses=True)
class _UniformSampler:
    __slots__ = ("low", "span")

    def __init__(self, low: int, span: int) -> None:
        self.low = low
        self.span = span

    def __call__(self, u: float) -> int:
        return max(0, round((self.low + self.span * u) / MS)) * MS


@mypyc_attr(allow_interpreted_subclasses=True)
class _LognormalSampler:
    __slots__ = ("mu", "sigma")

    def __init__(self, mu: float, sigma: float) -> None:
        self.mu = mu
        self.sigma = sigma

    def __call__(self, u: float) -> int:
        return max(0, round(math.exp(self.mu + self.sigma * normal_quantile(u)) / MS)) * MS


@dataclass(frozen=True, slots=True)
class ScriptEntry:
    latency: int | None = None
    outcome: str | None = None
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class AgentSettings:
    latency: Latency = field(default_factory=Latency)
    error_rate: float = 0.005
    hang_rate: float = 0.0005
    client_timeout: int | None = 600 * SECOND
    same_input_same_reply: bool = True
    replies: Mapping[str, str] = field(default_factory=dict)
    script: Mapping[str, ScriptEntry] = field(default_factory=dict)
    # the run's text classes of the texts above (messages carry classes, not tokens): a reply
    # text -> its exact class, a ``replies`` key -> its normalized class; absent: text_token
    reply_classes: Mapping[str, str] = field(default_factory=dict)
    key_classes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outage:
    start: int
    end: int
    failure_rate: float


@dataclass(frozen=True, slots=True)
class SenderSettings:
    latency: Latency = field(default_factory=lambda: Latency(kind="fixed", fixed=300 * MS))
    failure_rate: float = 0.01
    outages: tuple[Outage, ...] = ()


@dataclass(frozen=True, slots=True)
class Restart:
    at: int
    downtime: int


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """A gateway's webhook redelivery: attempts at 0, ``first``, then waits growing by
    ``factor`` up to ``max_delay``, while the attempt is at most ``horizon`` after the first."""

    first: int
    factor: float
    max_delay: int
    horizon: int

    def attempt_at_or_after(self, sent_at: int, after: int) -> int | None:
        """The first attempt at ``after`` or later for a webhook first sent at ``sent_at``;
        None when the gateway gives up before then."""
        at, wait = sent_at, self.first
        while at < after:
            at += wait
            if at - sent_at > self.horizon:
                return None
            wait = min(int(wait * self.factor), self.max_delay)
        return at


#: ``environment.redelivery``: what the gateway does with webhooks that reach a bot that is
#: down (docs/models.md, "Restart redelivery"). ``burst`` (the harness before issue 19) delivers
#: them all when the bot is back; ``none`` loses them.
REDELIVERY: dict[str, RetrySchedule | None] = {
    # Meta publishes no schedule: "increasing delays up to a certain timeout (typically 24
    # hours)" (On-Premises API webhooks page); 30 s doubling to 1 h is a declared assumption
    "cloud_api": RetrySchedule(30 * SECOND, 2.0, 3600 * SECOND, 24 * 3600 * SECOND),
    # Evolution API >= 2.2.1 defaults: 10 attempts, 5 s doubling to 300 s (jitter left out)
    "evolution": RetrySchedule(5 * SECOND, 2.0, 300 * SECOND, 1215 * SECOND),
    "burst": None,
    "none": None,
}


@dataclass(frozen=True, slots=True)
class EnvironmentSettings:
    seed: int = 1
    agent: AgentSettings = field(default_factory=AgentSettings)
    sender: SenderSettings = field(default_factory=SenderSettings)
    restarts: tuple[Restart, ...] = ()
    redelivery: str = "cloud_api"
    users: str = "open"
    #: reactive users: the longest delay after a reply that is still conversation pacing
    pacing_max: int = 300 * SECOND


_OUTCOME_RANK = {"ok": 0, "error": 1, "hang": 2}


@mypyc_attr(allow_interpreted_subclasses=True)
class AgentCall:
    """One agent call: its event (value: reply text hash) and what was drawn for it."""

    __slots__ = ("event", "key", "latency", "outcome", "reply")

    def __init__(
        self, key: tuple[int, ...], event: Event, outcome: str, latency: int, reply: str
    ) -> None:
        self.key = key
        self.event = event
        self.outcome = outcome
        self.latency = latency
        self.reply = reply


def text_token(text: str) -> str:
    """The hash under which a text (a reply, or a map key) is known: 16 hex digits."""
    return blake2b(text.encode(), digest_size=8).hexdigest()


def normalize_text(text: str) -> str:
    """NFC, casefold, trimmed, inner whitespace collapsed (docs/capture.md)."""
    import unicodedata

    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


@mypyc_attr(allow_interpreted_subclasses=True)
class Environment:
    """Agent and sender of one arm; stateless apart from what was drawn (guarantee 1)."""

    def __init__(
        self,
        settings: EnvironmentSettings,
        recorded_latency: Mapping[int, int] | None = None,
    ) -> None:
        self.settings = settings
        self.random = KeyedRandom(settings.seed)
        self._recorded = recorded_latency or {}
        self.recorded_fallbacks = 0
        agent = settings.agent
        fallback = Latency() if agent.latency.kind == "recorded" else agent.latency
        self._agent_latency = fallback.sampler()
        self._recorded_latency = agent.latency.kind == "recorded"
        self._send_latency = settings.sender.latency.sampler()
        self._hang_or_error = agent.hang_rate + agent.error_rate
        prefix = f"{settings.seed}\x1e".encode()
        self._agent_prefix = prefix + b"agent\x1f"
        self._send_prefix = prefix + b"send\x1f"
        self._reply_prefix = prefix + b"reply\x1f"
        # the replies map is keyed by a topic or a normalized text; messages carry hashes
        self._replies: dict[str, str] = {}
        for key, reply in agent.replies.items():
            value = self._reply_text(reply)
            self._replies[key] = value
            self._replies[agent.key_classes.get(key) or text_token(normalize_text(key))] = value

    def use_recorded_latency(self, recorded_latency: Mapping[int, int]) -> None:
        """Replace the recorded latencies (a longer stream's: the same for every seq drawn
        so far, ``shadow.simulation.warm`` guarantee 2)."""
        self._recorded = recorded_latency

    def agent_call(self, kernel: Kernel, members: Sequence[Message]) -> AgentCall:
        """Start an agent call on ``members`` now; its event settles per guarantee 2-3."""
        agent = self.settings.agent
        if len(members) == 1:  # the common case, without sorting or joining
            seq = members[0].seq
            key: tuple[int, ...] = (seq,)
            encoded = f"({seq},)"  # str(key), built directly
        else:
            key = tuple(sorted(message.seq for message in members))
            encoded = str(key)
        # bytes as KeyedRandom.uniforms(3, "agent", key) would hash them; the third is spare
        digest = blake2b(self._agent_prefix + encoded.encode(), digest_size=24).digest()
        word_outcome, word_latency, _ = _THREE_WORDS.unpack(digest)
        u_outcome = word_outcome * _SCALE
        u_latency = word_latency * _SCALE
        if u_outcome < agent.hang_rate:
            outcome = "hang"
        elif u_outcome < self._hang_or_error:
            outcome = "error"
        else:
            outcome = "ok"
        latency = self._latency(self._recorded_latency, u_latency, key)
        reply = self._reply(members, key)
        if agent.script:
            entries = [e for m in members if (e := agent.script.get(m.message_id)) is not None]
            outcomes = [e.outcome for e in entries if e.outcome is not None]
            if outcomes:
                outcome = max(outcomes, key=_OUTCOME_RANK.__getitem__)
            latencies = [e.latency for e in entries if e.latency is not None]
            if latencies:
                latency = max(latencies)
            replies = [e.reply for e in entries if e.reply is not None]
            if replies:
                reply = self._reply_text(replies[0])
        event = kernel.event()
        # ``fire``: the timer settles the event and runs its waiters (kernel.Event.fire)
        if outcome == "ok":
            kernel.schedule(kernel.now + latency, event.fire, reply, None)
        elif outcome == "error":
            kernel.schedule(
                kernel.now + latency, event.fire_failure, AgentError("agent error"), None
            )
        elif agent.client_timeout is not None:
            kernel.schedule(
                kernel.now + agent.client_timeout,
                event.fire_failure,
                AgentError("agent hang reached client_timeout"),
                None,
            )
        return AgentCall(key, event, outcome, latency, reply)

    def send_attempt(
        self, kernel: Kernel, key: tuple[int, ...], attempt: int, contact_id: str = ""
    ) -> Event:
        """One send attempt started now; settles with ``True`` (delivered) or ``False``."""
        sender = self.settings.sender
        # bytes as KeyedRandom.uniforms(2, "send", key, attempt) would hash them
        encoded = f"({key[0]},)\x1f{attempt}" if len(key) == 1 else f"{key}\x1f{attempt}"
        digest = blake2b(self._send_prefix + encoded.encode(), digest_size=16).digest()
        word_fail, word_latency = _TWO_WORDS.unpack(digest)
        u_fail = word_fail * _SCALE
        u_latency = word_latency * _SCALE
        rate = sender.failure_rate
        now = kernel.now
        for outage in sender.outages:
            if outage.start <= now < outage.end:
                rate = max(rate, outage.failure_rate)
        latency = self._send_latency(u_latency)
        event = kernel.event()
        kernel.schedule(now + latency, event.fire, u_fail >= rate, None)
        return event

    def _latency(self, recorded: bool, u: float, key: tuple[int, ...]) -> int:
        """The drawn latency, or the capture's recorded one (fallback counted)."""
        if recorded:
            known = self._recorded.get(key[-1])
            if known is not None:
                return known
            self.recorded_fallbacks += 1
        return self._agent_latency(u)

    def _reply_text(self, text: str) -> str:
        """A configured reply as messages know texts: its class in the run, else its token."""
        return self.settings.agent.reply_classes.get(text) or text_token(text)

    def _reply(self, members: Sequence[Message], key: tuple[int, ...]) -> str:
        agent = self.settings.agent
        if self._replies:
            for message in members:
                mapped = self._replies.get(message.topic) if message.topic else None
                mapped = mapped or self._replies.get(message.text_norm_hash)
                if mapped is not None:
                    return mapped
        if agent.same_input_same_reply:
            basis = "|".join([f"{m.text_norm_hash}/{m.topic}" for m in members])
            # as KeyedRandom.hex("reply", basis): 16 hex digits of an 8-byte blake2b
            return blake2b(self._reply_prefix + basis.encode(), digest_size=8).hexdigest()
        return self.random.hex("reply", key)
