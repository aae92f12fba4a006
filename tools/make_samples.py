"""Regenerate the bundled captures in replay_data/captures/ (deterministic, format-true).

    .venv/bin/python tools/make_samples.py

Writes, from one generated traffic mix (conversations with resends, legit repeats and
webhook redeliveries), with field names exactly as docs/capture.md gives them:

- ``sample-cloud-api.jsonl``: WhatsApp Cloud API webhook POST bodies, one a line; about a
  third inside the receiver's ``{received_at, headers, body}`` wrapper (every redelivery among
  them, since a redelivery keeps its original ``timestamp``); ``X-Hub-Signature-256`` computed
  with the app secret ``shadow-sample-secret`` over the compact ASCII-escaped body (how Meta
  signs); a few status receipts; a couple of multi-message POSTs; some button replies.
- ``sample-evolution.jsonl``: Evolution API ``messages.upsert`` lines with the bot's own
  ``fromMe`` replies, two ``@lid`` contacts and one group line.
- ``sample-shadow.jsonl`` (+ ``.env.yaml``): a ~500-message shadow JSONL stream.

Same code, same bytes: every choice is a keyed draw.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from shadow.kernel import KeyedRandom
from shadow.streams.generate import generate as generate_stream
from shadow.streams.generate import generate_rows, iso_ms, write_environment, write_stream
from shadow.streams.scenarios import load_scenario, scenario_from_text
from shadow.streams.vocabulary import load_vocabulary

OUT = Path(__file__).resolve().parents[1] / "replay_data" / "captures"
APP_SECRET = "shadow-sample-secret"
BOT_NUMBER = "551140028922"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
NAMES = ["Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Henrique"]
NAMES += ["Isabela", "João", "Larissa", "Marcos", "Natália", "Otávio", "Paula", "Rafael"]
MIX = {
    "name": "sample-mix",
    "description": "the traffic behind the bundled sample captures",
    "duration": "50m",
    "contacts": 250,
    "traffic": [
        {
            "conversations": {
                "rate": "60/min",
                "turns": 6,
                "think_time": {"median": "15s", "p95": "60s"},
            }
        },
        {"resend": {"probability": 0.06, "delay": {"min": "2s", "max": "12s"}}},
        {"legit_repeat": {"probability": 0.3, "texts": ["sim", "não", "ok"]}},
        {"redelivery": {"probability": 0.01, "delay": {"min": "1s", "max": "30m", "log": True}}},
    ],
}
RAND = KeyedRandom(20260105)
EVOLUTION_SPAN = 35 * 60 * 1_000_000


def _rows() -> tuple[list[Any], datetime]:
    scenario = scenario_from_text(yaml.safe_dump(MIX, allow_unicode=True), "sample-mix")
    return generate_rows(scenario, seed=7), scenario.start


def _name(contact: str) -> str:
    return NAMES[int(RAND.uniform("name", contact) * len(NAMES))]


def _wamid(message_id: str) -> str:
    return "wamid.HBgM" + hashlib.blake2b(message_id.encode(), digest_size=18).hexdigest().upper()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- WhatsApp Cloud API ---------------------------------------------------------------------


def _cloud_message(row: Any, seconds: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": row.contact_id,
        "id": _wamid(row.message_id),
        "timestamp": str(seconds),
        "type": row.type,
    }
    media_id = str(int(RAND.uniform("media", row.message_id) * 10**15))
    if row.type == "text":
        if row.text.casefold() in ("sim", "não") and RAND.uniform("button", row.message_id) < 0.3:
            message["type"] = "interactive"
            title = row.text.capitalize()
            button_id = "btn_sim" if title == "Sim" else "btn_nao"
            message["interactive"] = {
                "type": "button_reply",
                "button_reply": {"id": button_id, "title": title},
            }
        else:
            message["text"] = {"body": row.text}
    elif row.type in ("audio", "voice"):
        message["type"] = "audio"
        message["audio"] = {
            "mime_type": "audio/ogg; codecs=opus",
            "sha256": hashlib.sha256(media_id.encode()).hexdigest(),
            "id": media_id,
            "voice": row.type == "voice",
        }
    elif row.type == "location":
        message["location"] = {"latitude": -23.5613, "longitude": -46.6565}
    else:
        mime = {"image": "image/jpeg", "sticker": "image/webp", "document": "application/pdf"}
        media: dict[str, Any] = {"mime_type": mime.get(row.type, "application/octet-stream")}
        media |= {"sha256": hashlib.sha256(media_id.encode()).hexdigest(), "id": media_id}
        if row.text:
            media["caption"] = row.text
        if row.type == "document":
            media["filename"] = row.text or "documento.pdf"
        message[row.type] = media
    return message


def _cloud_body(entries: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> dict[str, Any]:
    body_entries = []
    for messages, statuses in entries:
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": BOT_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
        }
        if messages:
            wa_ids = list(dict.fromkeys(message["from"] for message in messages))
            value["contacts"] = [{"profile": {"name": _name(w)}, "wa_id": w} for w in wa_ids]
            value["messages"] = messages
        if statuses:
            value["statuses"] = statuses
        body_entries.append({"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]})
    return {"object": "whatsapp_business_account", "entry": body_entries}


def _wrapped(body: dict[str, Any], received_at: str) -> dict[str, Any]:
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()
    signature = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "user-agent": "facebookexternalua",
        "x-hub-signature-256": f"sha256={signature}",
    }
    return {"received_at": received_at, "headers": headers, "body": body}


def _status(row: Any, seconds: int, status: str) -> dict[str, Any]:
    return {
        "id": _wamid(row.message_id + ".reply"),
        "status": status,
        "timestamp": str(seconds + 4),
        "recipient_id": row.contact_id,
    }


def cloud_lines(rows: list[Any], start: datetime) -> list[str]:
    epoch = int(start.timestamp())
    bodies: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    index = 0
    multi_at = {len(rows) // 3, (2 * len(rows)) // 3}
    status_at = {len(rows) * k // 7 for k in range(1, 7)}
    while index < len(rows):
        row = rows[index]
        seconds = epoch + row.at // 1_000_000
        received_at = iso_ms(start, row.at + 180_000)  # the webhook reaches the bot ~180 ms later
        if row.message_id in bodies:  # a redelivery: the very same body, arriving again
            lines.append(_dumps(_wrapped(bodies[row.message_id], received_at)))
            index += 1
            continue
        group = [row]
        if index in multi_at and index + 1 < len(rows):
            group.append(rows[index + 1])
        messages = [_cloud_message(r, epoch + r.at // 1_000_000) for r in group]
        if index == max(multi_at):  # two entries in one POST
            body = _cloud_body([([m], []) for m in messages])
        else:
            body = _cloud_body([(messages, [])])
        for r in group:
            bodies[r.message_id] = body
        if RAND.uniform("wrap", row.message_id) < 0.3:
            lines.append(_dumps(_wrapped(body, received_at)))
        else:
            lines.append(_dumps(body))
        if index in status_at:
            statuses = [_status(row, seconds, "sent"), _status(row, seconds + 1, "delivered")]
            if index == min(status_at):
                statuses.append(_status(row, seconds + 9, "read"))
            lines.append(_dumps(_cloud_body([([], statuses)])))
        index += len(group)
    return lines


# --- Evolution API --------------------------------------------------------------------------


def _evolution_message(row: Any) -> tuple[str, dict[str, Any]]:
    u = RAND.uniform("evolution-shape", row.message_id)
    if row.type == "text":
        if u < 0.25:
            return "extendedTextMessage", {"extendedTextMessage": {"text": row.text}}
        return "conversation", {"conversation": row.text}
    if row.type == "image":
        return "imageMessage", {"imageMessage": {"mimetype": "image/jpeg", "caption": row.text}}
    if row.type in ("audio", "voice"):
        ptt = row.type == "voice"
        return "audioMessage", {"audioMessage": {"mimetype": "audio/ogg; codecs=opus", "ptt": ptt}}
    if row.type == "document":
        document = {"mimetype": "application/pdf", "fileName": row.text, "caption": row.text}
        return "documentMessage", {"documentMessage": document}
    if row.type == "location":
        location = {"degreesLatitude": -23.5613, "degreesLongitude": -46.6565}
        return "locationMessage", {"locationMessage": location}
    return "stickerMessage", {"stickerMessage": {"mimetype": "image/webp"}}


def _evolution_line(
    key: dict[str, Any], message_type: str, message: dict[str, Any], at: int, start: datetime
) -> dict[str, Any]:
    seconds = int(start.timestamp()) + at // 1_000_000
    timestamp: int | str = str(seconds) if RAND.uniform("ts", key["id"]) < 0.2 else seconds
    local = start + timedelta(microseconds=at) - timedelta(hours=3)  # local time marked UTC
    data = {
        "key": key,
        "pushName": "Loja" if key["fromMe"] else _name(key["remoteJid"].split("@")[0]),
        "status": "SERVER_ACK" if key["fromMe"] else "DELIVERY_ACK",
        "message": message,
        "messageType": message_type,
        "messageTimestamp": timestamp,
        "instanceId": "5f1c2a3e-0b7d-4e8a-9c61-2d4f8a9b7c10",
        "source": "android" if not key["fromMe"] else "web",
    }
    return {
        "event": "messages.upsert",
        "instance": "loja-bot",
        "data": data,
        "destination": "https://bot.example.com.br/webhook/evolution",
        "date_time": local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}Z",
        "sender": f"{BOT_NUMBER}@s.whatsapp.net",
        "server_url": "https://evolution.example.com.br",
        "apikey": "SAMPLE-0000-API-KEY",
    }


def evolution_lines(rows: list[Any], start: datetime) -> list[str]:
    replies = load_vocabulary("pt_br_support").bot_replies
    lid_contacts = {rows[10].contact_id, rows[20].contact_id}
    timed: list[tuple[int, int, dict[str, Any]]] = []
    seen: set[str] = set()
    for order, row in enumerate(rows):
        if row.message_id in seen:  # Baileys does not redeliver like Meta's webhooks
            continue
        seen.add(row.message_id)
        evolution_id = "3EB0" + hashlib.blake2b(row.message_id.encode(), digest_size=8).hexdigest()
        key: dict[str, Any] = {
            "remoteJid": f"{row.contact_id}@s.whatsapp.net",
            "fromMe": False,
            "id": evolution_id.upper(),
        }
        if row.contact_id in lid_contacts:
            lid = str(10**14 + int(row.contact_id) % 10**14)
            key = {**key, "remoteJid": f"{lid}@lid", "addressingMode": "lid"}
            key["remoteJidAlt"] = f"{row.contact_id}@s.whatsapp.net"
        message_type, message = _evolution_message(row)
        timed.append(
            (row.at, 2 * order, _evolution_line(key, message_type, message, row.at, start))
        )
        u_reply, u_latency, u_text = RAND.uniforms(3, "reply", row.message_id)
        if u_reply < 0.35:
            at = row.at + 2_000_000 + int(u_latency * 6_000_000)
            reply_id = "BAE5" + hashlib.blake2b(evolution_id.encode(), digest_size=6).hexdigest()
            reply_key = {
                "remoteJid": f"{row.contact_id}@s.whatsapp.net",
                "fromMe": True,
                "id": reply_id.upper(),
            }
            text = replies[int(u_text * len(replies))]
            line = _evolution_line(reply_key, "conversation", {"conversation": text}, at, start)
            timed.append((at, 2 * order + 1, line))
    group_row = rows[len(rows) // 2]
    group_key = {
        "remoteJid": "120363025246125486@g.us",
        "fromMe": False,
        "id": "3EB0GROUP0000000001",
        "participant": f"{group_row.contact_id}@s.whatsapp.net",
    }
    group = {"conversation": "Bom dia, grupo! Alguém sabe se a loja abre amanhã?"}
    group_line = _evolution_line(group_key, "conversation", group, group_row.at, start)
    timed.append((group_row.at, -1, group_line))
    timed.sort(key=lambda item: (item[0], item[1]))
    return [_dumps(line) for _, _, line in timed]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    rows, start = _rows()
    early = [row for row in rows if row.at < EVOLUTION_SPAN]
    written = {
        "sample-cloud-api.jsonl": cloud_lines(rows, start),
        # the Evolution lines are bigger: its first 35 minutes keep the file under 2 MB
        "sample-evolution.jsonl": evolution_lines(early, start),
    }
    for name, lines in written.items():
        (OUT / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    sets = ["duration=5m", "contacts=60"]
    write_stream(generate_stream("impatient-duplicates", 1, sets), OUT / "sample-shadow.jsonl")
    environment = load_scenario("impatient-duplicates").environment
    write_environment(environment, OUT / "sample-shadow.jsonl")
    for path in sorted(OUT.glob("sample-*")):
        print(f"{path.relative_to(OUT.parents[1])}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
