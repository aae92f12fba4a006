"""A minimal synthetic load: the bench's and the demo's steady traffic, deterministic.

``steady_load(messages, contacts, seed)`` yields inbound records at the seed's validation rhythm
(100 msgs/min), with 12% impatient resends of the previous text 2-12 s later. Draws are keyed
(``("load", i)``), so the same arguments give the same stream everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator

from shadow.kernel import KeyedRandom
from shadow.streams.record import InboundRecord

START = 1_767_614_400_000_000  # 2026-01-05T12:00:00Z in µs: a fixed origin, never the clock
TEXTS = (
    "Oi",
    "Olá, boa tarde",
    "Cadê meu pedido?",
    "Qual o prazo de entrega?",
    "sim",
    "não",
    "Obrigado!",
    "Quero trocar o produto",
    "Meu pagamento foi aprovado?",
    "Pode me passar o código de rastreio?",
)


def steady_load(
    messages: int, contacts: int, seed: int = 1, per_minute: float = 100.0, resend: float = 0.12
) -> Iterator[InboundRecord]:
    """``messages`` inbound records over ``contacts`` contacts, sorted by arrival."""
    random = KeyedRandom(seed)
    gap = 60_000_000 / per_minute
    pending: list[tuple[int, int, InboundRecord]] = []  # resends due later: (at, order, record)
    at = float(START)
    emitted = 0
    order = 0
    last_text: dict[int, str] = {}
    while emitted < messages:
        u_gap, u_contact, u_text, u_resend, u_delay = random.uniforms(5, "load", order)
        at += -gap * _log(u_gap)
        while pending and pending[0][0] <= at and emitted < messages:
            yield pending.pop(0)[2]
            emitted += 1
        if emitted >= messages:
            break
        contact = int(u_contact * contacts)
        text = TEXTS[int(u_text * len(TEXTS))]
        record = _record(order, contact, int(at), text, "")
        last_text[contact] = text
        yield record
        emitted += 1
        if u_resend < resend:
            due = int(at + 2_000_000 + u_delay * 10_000_000)
            pending.append((due, order, _record(order, contact, due, text, "resend", "r")))
            pending.sort(key=lambda item: (item[0], item[1]))
        order += 1


def _log(u: float) -> float:
    import math

    return math.log(max(u, 1e-12))


def _record(
    order: int, contact: int, at: int, text: str, repeat_kind: str, suffix: str = ""
) -> InboundRecord:
    return InboundRecord(
        message_id=f"wamid.load.{order}{suffix}",
        contact_id=f"55119{contact:08d}",
        received_at=at,
        sent_at=at,
        type="text",
        text=text,
        topic=f"t{order}",
        repeat_kind=repeat_kind,
        bucket=None,
        file="<load>",
        line=order + 1,
    )
