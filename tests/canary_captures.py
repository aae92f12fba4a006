"""Captures in every supported format, seeded with canary values, for the leak test.

Every value a capture may carry about a person or a secret is a canary: phone numbers in every
form the gateways use, names with accents, CPF-like ids, texts and captions (each with a made-up
marker word), message ids (wamids embed the phone number in base64), media ids, lids, group
ids, the business's ``phone_number_id`` and WABA id, API keys and tokens in headers, bodies and
URLs, webhook signatures, and the secrets the harness is given (app secret, Twilio auth token,
redaction key). Malformed lines carry canaries too, in the very fields their error is about.

``write_captures`` returns where each capture went and how many lines of each must be rejected,
so a test can check the malformed lines really went through the error paths.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

# --- the canaries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Canary:
    """A value that must never leave the capture. ``secret``: not even with ``--keep-raw``.
    ``markers``: distinctive fragments also searched alone (a truncated copy still leaks); a
    text starts with its marker, so that any prefix of it is distinctive too."""

    name: str
    value: str
    kind: str  # phone, name, id, text, secret
    markers: tuple[str, ...] = ()

    @property
    def secret(self) -> bool:
        return self.kind == "secret"


# contacts: Brazilian mobiles, one in the 13-digit form, one in the old 12-digit form
PHONE_A = "5531984270615"
PHONE_B = "553176429813"  # without the ninth digit, as old Baileys jids carry it
PHONE_BUSINESS = "5531930471862"
LID = "27461993021508"
GROUP = "120363041122334455"
PHONE_NUMBER_ID = "618273645501928"
WABA_ID = "731846205917364"
NAME_A = "Iracema Quintanilha-Araújo"
NAME_B = "Joãozinho Piçarra Ñandú"
CPF = "529.982.247-25"
TEXT_A = "Xilografúndio: oi, quero trocar o tênis tamanho 42"
TEXT_B = "Ornitorrincária, meu CPF é 529.982.247-25 e o pedido não chegou"
TEXT_CAPTION = "Pirilampejante comprovante do pagamento"
TEXT_BUTTON = "Quelônioduto rastrear"
TEXT_REPLY = "Zimbramolar: olá Iracema! Seu pedido está a caminho"
TEXT_CONTINUATION = "Borbotoaria e já faz uma semana"
TEXT_EDITED = "Trapezoidália: na verdade é tamanho 43"
MEDIA_ID = "1479537139650973"
# content keys (shadow/streams/content.py): media hashes and a place, never written as they are
MEDIA_SHA256 = "UXVpbmNhamFndWFyYUltYWdlbUhhc2g="
VOICE_SHA256 = "Qm9yb3JvY2FWb2ljZU5vdGVIYXNoMDE="
VOICE_MEDIA_ID = "2958164370215846"
EVOLUTION_SHA256 = "VGFtYW5kdWFWb3pFdm9sdXRpb25IYXNo"
LATITUDE = "-19.9173846"
LONGITUDE = "-43.9346521"
EVOLUTION_ID = "3EB0C72A19F5D8F49A1F"
ZAPI_ID = "3EB0D41B7E2C96A8F05B"
TWILIO_SID = "SM5f8e2d1c9b7a6f4e3d2c1b0a9f8e7d6c"
WWEBJS_ID = "3EB0E9F1A2B3C4D5E6F7"
ACCOUNT_SID = "AC7a1b2c3d4e5f60718293a4b5c6d7e8f9"

# secrets: never written nor printed, even with --keep-raw
APP_SECRET = "appsecret-Vq8Lm2Rt6Yp0Wx4Zc7"
TWILIO_TOKEN = "twiliotoken-Hj3Kd9Fs1Ga5Lq8Pe"
REDACT_KEY = "redactkey-Nb6Tc2Xv7Mz4Qw1Ue"
EVOLUTION_APIKEY = "EVOKEY7C1E9A2B4D6F8091A3C5E7F9B1D3"
BEARER = "EAAGm0PX4ZCpsBAKZCtokenYq2Wm9Rk"
X_API_KEY = "xapikey-Ud5Ri8Oe3Wa6Sd9Fg"
CLIENT_TOKEN = "F7c2d9e4a1b8c3d6e5f0a9b8c7d6e5f4a"
URL_TOKEN = "urltoken-Lp4Ko7Ji0Hu3Gy6Ft"
ACCESS_TOKEN = "EAAJaccessTokenZx3Cv6Bn9Mq2We5"


def wamid(phone: str, ident: str) -> str:
    """A Cloud API message id as Meta makes them: base64 of a protobuf holding the phone."""
    raw = (
        b"\x1c\x18"
        + bytes([len(phone)])
        + phone.encode()
        + b"\x15\x02\x00\x12\x18"
        + bytes([len(ident)])
        + ident.encode()
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode()


WAMID_A1 = wamid(PHONE_A, "3EB0A1B2C3D4E5F6A7B8C9")
WAMID_A2 = wamid(PHONE_A, "3EB0F9E8D7C6B5A4F3E2D1")
WAMID_B1 = wamid(PHONE_B, "3EB077665544332211AABB")
WAMID_OUT = wamid(PHONE_A, "HBEUGFNRAIYSGONPMQXHDS")
WAMID_EDIT = wamid(PHONE_A, "3EB0E0D1C2B3A4F5E6D7C8")
WAMID_REVOKE = wamid(PHONE_A, "3EB0F1E2D3C4B5A6978899")

CANARIES: tuple[Canary, ...] = (
    Canary("phone A", PHONE_A, "phone"),
    Canary("phone B", PHONE_B, "phone"),
    Canary("business phone", PHONE_BUSINESS, "phone"),
    Canary("lid", LID, "id"),
    Canary("group id", GROUP, "id"),
    Canary("phone_number_id", PHONE_NUMBER_ID, "id"),
    Canary("WABA id", WABA_ID, "id"),
    Canary("name A", NAME_A, "name", ("Quintanilha",)),
    Canary("name B", NAME_B, "name", ("Piçarra", "Joãozinho")),
    Canary("CPF", CPF, "id"),
    Canary("text A", TEXT_A, "text", ("Xilografúndio",)),
    Canary("text B", TEXT_B, "text", ("Ornitorrincária",)),
    Canary("caption", TEXT_CAPTION, "text", ("Pirilampejante",)),
    Canary("button title", TEXT_BUTTON, "text", ("Quelônioduto",)),
    Canary("reply text", TEXT_REPLY, "text", ("Zimbramolar",)),
    Canary("continuation", TEXT_CONTINUATION, "text", ("Borbotoaria",)),
    Canary("edited text", TEXT_EDITED, "text", ("Trapezoidália",)),
    Canary("media id", MEDIA_ID, "id"),
    Canary("media sha256", MEDIA_SHA256, "id"),
    Canary("voice sha256", VOICE_SHA256, "id"),
    Canary("voice media id", VOICE_MEDIA_ID, "id"),
    Canary("evolution sha256", EVOLUTION_SHA256, "id"),
    # the place as the capture gives it, and as its content key rounds it
    Canary("latitude", LATITUDE, "id", ("19.91738",)),
    Canary("longitude", LONGITUDE, "id", ("43.93465",)),
    Canary("wamid A1", WAMID_A1, "id"),
    Canary("wamid A2", WAMID_A2, "id"),
    Canary("wamid B1", WAMID_B1, "id"),
    Canary("wamid out", WAMID_OUT, "id"),
    Canary("wamid edit", WAMID_EDIT, "id"),
    Canary("wamid revoke", WAMID_REVOKE, "id"),
    Canary("evolution id", EVOLUTION_ID, "id"),
    Canary("z-api id", ZAPI_ID, "id"),
    Canary("twilio sid", TWILIO_SID, "id"),
    Canary("wwebjs id", WWEBJS_ID, "id"),
    Canary("account sid", ACCOUNT_SID, "id"),
    Canary("app secret", APP_SECRET, "secret"),
    Canary("twilio token", TWILIO_TOKEN, "secret"),
    Canary("redact key", REDACT_KEY, "secret"),
    Canary("evolution apikey", EVOLUTION_APIKEY, "secret"),
    Canary("bearer token", BEARER, "secret"),
    Canary("x-api-key", X_API_KEY, "secret"),
    Canary("client-token", CLIENT_TOKEN, "secret"),
    Canary("url token", URL_TOKEN, "secret"),
    Canary("access_token", ACCESS_TOKEN, "secret"),
)

SECRET_ENV = {
    "SHADOW_APP_SECRET": APP_SECRET,
    "SHADOW_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
}

# --- the captures ------------------------------------------------------------------------------

T0 = 1714560000  # 2024-05-01T10:40:00Z


@dataclass(slots=True)
class CaptureSet:
    """Where each capture went (by format), its expected rejected lines, and the canaries that
    were computed while writing (signatures)."""

    files: dict[str, Path] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    canaries: list[Canary] = field(default_factory=lambda: list(CANARIES))

    def secret(self, name: str, value: str) -> str:
        """Note a secret computed while writing (a signature) and return it."""
        self.canaries.append(Canary(f"{name} #{len(self.canaries)}", value, "secret"))
        return value


def _dump(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _iso(offset: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(T0 + offset, UTC).isoformat().replace("+00:00", "Z")


def _hub_signature(body: str) -> str:
    mac = hmac.new(APP_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def _twilio_signature(url: str, params: dict[str, str]) -> str:
    data = url + "".join(key + params[key] for key in sorted(params))
    mac = hmac.new(TWILIO_TOKEN.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def _cloud_body(value: dict[str, object]) -> dict[str, object]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": PHONE_BUSINESS, "phone_number_id": PHONE_NUMBER_ID},
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def _contacts(name: str, phone: str) -> list[dict[str, object]]:
    return [{"profile": {"name": name}, "wa_id": phone}]


def _signed(cs: CaptureSet, offset: int, body: dict[str, object], **headers: str) -> str:
    raw = _dump(body)
    signature = cs.secret("hub signature", _hub_signature(raw))
    return _dump(
        {
            "received_at": _iso(offset),
            "headers": {"content-type": "application/json", "x-hub-signature-256": signature}
            | headers,
            "body": raw,
        }
    )


def cloud_lines(cs: CaptureSet, malformed: bool) -> tuple[list[str], int]:
    text_a = {
        "from": PHONE_A,
        "id": WAMID_A1,
        "timestamp": str(T0),
        "type": "text",
        "text": {"body": TEXT_A},
    }
    image = {
        "from": PHONE_B,
        "id": WAMID_B1,
        "timestamp": str(T0 + 5),
        "type": "image",
        "image": {
            "caption": TEXT_CAPTION,
            "mime_type": "image/jpeg",
            "sha256": MEDIA_SHA256,
            "id": MEDIA_ID,
        },
    }
    # an uncaptioned voice note sent twice (one file: one sha256), then a place
    voices = [
        {
            "from": PHONE_B,
            "id": ident,
            "timestamp": str(T0 + 6),
            "type": "audio",
            "audio": {
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": VOICE_SHA256,
                "id": VOICE_MEDIA_ID,
                "voice": True,
            },
        }
        for ident in (wamid(PHONE_B, "3EB0V01CE0000000000001"), wamid(PHONE_B, "3EB0V01CE02"))
    ]
    place = {
        "from": PHONE_B,
        "id": wamid(PHONE_B, "3EB0L0CA7100000000000001"),
        "timestamp": str(T0 + 7),
        "type": "location",
        "location": {"latitude": float(LATITUDE), "longitude": float(LONGITUDE)},
    }
    button = {
        "from": PHONE_A,
        "id": WAMID_A2,
        "timestamp": str(T0 + 9),
        "type": "interactive",
        "context": {"from": PHONE_BUSINESS, "id": WAMID_OUT},
        "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": TEXT_BUTTON}},
    }
    status = {
        "id": WAMID_OUT,
        "status": "read",
        "timestamp": str(T0 + 8),
        "recipient_id": PHONE_A,
        "conversation": {"id": "c0f1e2d3", "origin": {"type": "service"}},
    }
    lines = [
        _signed(cs, 1, _cloud_body({"contacts": _contacts(NAME_A, PHONE_A), "messages": [text_a]})),
        _signed(cs, 6, _cloud_body({"contacts": _contacts(NAME_B, PHONE_B), "messages": [image]})),
        _signed(
            cs,
            7,
            _cloud_body({"contacts": _contacts(NAME_B, PHONE_B), "messages": [*voices, place]}),
        ),
        _signed(cs, 8, _cloud_body({"statuses": [status]})),
        _signed(
            cs, 10, _cloud_body({"contacts": _contacts(NAME_A, PHONE_A), "messages": [button]})
        ),
        # a redelivery logged without its headers: nothing to verify
        _dump(_cloud_body({"contacts": _contacts(NAME_A, PHONE_A), "messages": [text_a]})),
        # events: the first message edited, then deleted (edits reach the models on request)
        _signed(
            cs,
            11,
            _cloud_body(
                {
                    "contacts": _contacts(NAME_A, PHONE_A),
                    "messages": [
                        {
                            "from": PHONE_A,
                            "id": WAMID_EDIT,
                            "timestamp": str(T0 + 11),
                            "type": "edit",
                            "edit": {
                                "original_message_id": WAMID_A1,
                                "message": {"type": "text", "text": {"body": TEXT_EDITED}},
                            },
                        },
                        {
                            "from": PHONE_A,
                            "id": WAMID_REVOKE,
                            "timestamp": str(T0 + 11),
                            "type": "revoke",
                            "revoke": {"original_message_id": WAMID_A2},
                        },
                    ],
                }
            ),
        ),
    ]
    if not malformed:
        return lines, 0
    edited = _signed(
        cs, 12, _cloud_body({"contacts": _contacts(NAME_A, PHONE_A), "messages": [text_a]})
    )
    edited = edited.replace("tamanho 42", "tamanho 43")  # the body changed after signing
    no_timestamp = {k: v for k, v in text_a.items() if k != "timestamp"}
    name_as_phone = {**text_a, "from": NAME_A, "id": WAMID_A2}
    text_as_type = {**text_a, "type": TEXT_B, "id": WAMID_A2}  # an unknown type: an event
    lines += [
        edited,
        _signed(
            cs,
            13,
            _cloud_body({"contacts": _contacts(NAME_A, PHONE_A), "messages": [no_timestamp]}),
        ),
        _signed(cs, 14, _cloud_body({"messages": [name_as_phone]})),
        _signed(
            cs,
            15,
            _cloud_body({"messages": [text_as_type]}),
            authorization=f"Bearer {BEARER}",
            **{"x-api-key": X_API_KEY},
        ),
        # truncated: not JSON
        _dump(_cloud_body({"contacts": _contacts(NAME_B, PHONE_B), "messages": [image]}))[:-40],
        # a record keyed by data, and a token in a URL
        _dump(
            {
                "object": "whatsapp_business_account",
                "entry": {PHONE_A: {NAME_A: TEXT_B}},
                "callback": f"https://bot.example/hook?access_token={ACCESS_TOKEN}&x=1",
            }
        ),
    ]
    return lines, 5


def evolution_lines(cs: CaptureSet, malformed: bool) -> tuple[list[str], int]:
    def upsert(data: dict[str, object], event: str = "messages.upsert") -> str:
        return _dump(
            {
                "event": event,
                "instance": "loja",
                "data": data,
                "destination": "https://bot.example/webhook",
                "date_time": "2024-05-01T07:40:00.000Z",
                "sender": f"{PHONE_BUSINESS}@s.whatsapp.net",
                "server_url": f"https://evo.example/manager?token={URL_TOKEN}",
                "apikey": EVOLUTION_APIKEY,
            }
        )

    def key(jid: str, ident: str, from_me: bool = False, **extra: str) -> dict[str, object]:
        return {"remoteJid": jid, "fromMe": from_me, "id": ident, **extra}

    lines = [
        upsert(
            {
                "key": key(f"{PHONE_A}@s.whatsapp.net", EVOLUTION_ID),
                "pushName": NAME_A,
                "message": {"conversation": TEXT_A},
                "messageType": "conversation",
                "messageTimestamp": T0,
                "instanceId": "e1f2",
                "source": "android",
            }
        ),
        upsert(
            {
                "key": key(
                    f"{LID}@lid",
                    EVOLUTION_ID + "B",
                    remoteJidAlt=f"{PHONE_B}@s.whatsapp.net",
                    addressingMode="lid",
                ),
                "pushName": NAME_B,
                "message": {
                    "imageMessage": {
                        "caption": TEXT_CAPTION,
                        "mimetype": "image/jpeg",
                        "fileSha256": EVOLUTION_SHA256,
                    },
                    "messageContextInfo": {},
                },
                "messageType": "imageMessage",
                "messageTimestamp": str(T0 + 3),
            }
        ),
        upsert(
            {
                "key": key(
                    f"{GROUP}@g.us", EVOLUTION_ID + "G", participant=f"{PHONE_B}@s.whatsapp.net"
                ),
                "pushName": NAME_B,
                "message": {"conversation": TEXT_B},
                "messageTimestamp": T0 + 4,
            }
        ),
        upsert(
            {
                "key": key(f"{PHONE_A}@s.whatsapp.net", EVOLUTION_ID + "R", from_me=True),
                "pushName": "Loja",
                "message": {"extendedTextMessage": {"text": TEXT_REPLY}},
                "messageType": "extendedTextMessage",
                "messageTimestamp": T0 + 6,
            }
        ),
        upsert(
            {
                "keyId": EVOLUTION_ID + "R",
                "remoteJid": f"{PHONE_A}@s.whatsapp.net",
                "status": "READ",
            },
            "messages.update",
        ),
        upsert(
            {
                "key": key(f"{PHONE_A}@s.whatsapp.net", EVOLUTION_ID),
                "type": "MESSAGE_EDIT",
                "editedMessage": {"conversation": TEXT_EDITED},
                "timestampMs": str((T0 + 8) * 1000),
            },
            "messages.edited",
        ),
    ]
    if not malformed:
        return lines, 0
    lines += [
        upsert(
            {
                "key": key(f"{LID}@lid", EVOLUTION_ID + "L", addressingMode="lid"),
                "pushName": NAME_A,
                "message": {"conversation": TEXT_B},
                "messageTimestamp": T0 + 7,
            }
        ),
        upsert(
            {
                "key": key(f"{NAME_A}@s.whatsapp.net", EVOLUTION_ID + "N"),
                "message": {"conversation": TEXT_B},
                "messageTimestamp": T0 + 8,
            }
        ),
        upsert(
            {
                "key": key(f"{PHONE_A}@s.whatsapp.net", EVOLUTION_ID + "T"),
                "message": {"conversation": TEXT_B},
                "messageTimestamp": TEXT_A,
            }
        ),
        upsert({"key": key(f"{PHONE_A}@s.whatsapp.net", EVOLUTION_ID + "T")})[:-30],
    ]
    return lines, 4


def zapi_lines(cs: CaptureSet, malformed: bool) -> tuple[list[str], int]:
    def callback(**fields: object) -> str:
        base: dict[str, object] = {
            "isStatusReply": False,
            "chatLid": f"{LID}@lid",
            "connectedPhone": PHONE_BUSINESS,
            "isEdit": False,
            "isGroup": False,
            "isNewsletter": False,
            "instanceId": "3C01",
            "phone": PHONE_A,
            "fromMe": False,
            "status": "RECEIVED",
            "chatName": NAME_A,
            "senderName": NAME_A,
            "senderPhoto": f"https://pps.whatsapp.net/v/{PHONE_A}.jpg",
            "type": "ReceivedCallback",
        }
        return _dump(base | fields)

    lines = [
        callback(messageId=ZAPI_ID, momment=T0 * 1000 + 123, text={"message": TEXT_A}),
        callback(
            messageId=ZAPI_ID + "I",
            momment=(T0 + 2) * 1000,
            image={"caption": TEXT_CAPTION, "imageUrl": "https://z.example/i.jpg"},
        ),
        callback(
            messageId=ZAPI_ID + "G",
            momment=(T0 + 3) * 1000,
            isGroup=True,
            phone=f"{GROUP}-group",
            participantPhone=PHONE_B,
            text={"message": TEXT_B},
        ),
        callback(
            messageId=ZAPI_ID + "R",
            momment=(T0 + 4) * 1000,
            fromMe=True,
            text={"message": TEXT_REPLY},
        ),
        _dump(
            {
                "status": "READ",
                "ids": [ZAPI_ID + "R"],
                "momment": (T0 + 5) * 1000,
                "phone": PHONE_A,
                "type": "MessageStatusCallback",
                "instanceId": "3C01",
            }
        ),
    ]
    if not malformed:
        return lines, 0
    lines += [
        callback(messageId=ZAPI_ID + "S", momment=T0 + 6, text={"message": TEXT_B}),
        callback(
            messageId=ZAPI_ID + "P",
            momment=(T0 + 7) * 1000,
            phone=NAME_B,
            text={"message": TEXT_B},
            **{"client-token": CLIENT_TOKEN},
        ),
        callback(momment=(T0 + 8) * 1000, text={"message": TEXT_B}),
    ]
    return lines, 3


TWILIO_URL = "https://bot.example/twilio/inbound"


def twilio_lines(cs: CaptureSet, malformed: bool) -> tuple[list[str], int]:
    def signed(offset: int | None, params: dict[str, str], tamper: bool = False) -> str:
        signature = cs.secret("twilio signature", _twilio_signature(TWILIO_URL, params))
        body = dict(params)
        if tamper:
            body["Body"] = body["Body"] + "!"
        line: dict[str, object] = {
            "headers": {"x-twilio-signature": signature},
            "url": TWILIO_URL,
            "body": urlencode(body),
        }
        if offset is not None:
            line["received_at"] = _iso(offset)
        return _dump(line)

    def message(sid: str, **fields: str) -> dict[str, str]:
        return {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": NAME_A,
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": PHONE_A,
            "SmsStatus": "received",
            "Body": TEXT_A,
            "To": f"whatsapp:+{PHONE_BUSINESS}",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:+{PHONE_A}",
            "ApiVersion": "2010-04-01",
        } | fields

    lines = [
        signed(1, message(TWILIO_SID)),
        signed(
            4,
            message(
                TWILIO_SID + "1",
                NumMedia="1",
                MessageType="image",
                Body=TEXT_CAPTION,
                MediaContentType0="image/jpeg",
                MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Media/ME1",
                WaId=PHONE_B,
                From=f"whatsapp:+{PHONE_B}",
                ProfileName=NAME_B,
            ),
        ),
        signed(
            6,
            {
                "MessageSid": TWILIO_SID + "9",
                "MessageStatus": "delivered",
                "To": f"whatsapp:+{PHONE_A}",
                "AccountSid": ACCOUNT_SID,
            },
        ),
    ]
    if not malformed:
        return lines, 0
    lines += [
        signed(7, message(TWILIO_SID + "2", Body=TEXT_B), tamper=True),
        signed(None, message(TWILIO_SID + "3", Body=TEXT_B)),
        signed(9, message(TWILIO_SID + "4", NumMedia=NAME_B, MessageType="")),
        signed(10, message(TWILIO_SID + "5", WaId=NAME_A, From=f"whatsapp:{NAME_A}")),
    ]
    return lines, 4


def wwebjs_lines(cs: CaptureSet, malformed: bool) -> tuple[list[str], int]:
    def message(**fields: object) -> str:
        base: dict[str, object] = {
            "id": {
                "fromMe": False,
                "remote": f"{PHONE_A}@c.us",
                "id": WWEBJS_ID,
                "_serialized": f"false_{PHONE_A}@c.us_{WWEBJS_ID}",
            },
            "ack": 1,
            "hasMedia": False,
            "body": TEXT_A,
            "type": "chat",
            "timestamp": T0,
            "from": f"{PHONE_A}@c.us",
            "to": f"{PHONE_BUSINESS}@c.us",
            "deviceType": "android",
            "isForwarded": False,
            "_data": {"notifyName": NAME_A},
        }
        return _dump(base | fields)

    def ident(phone: str, suffix: str, from_me: bool = False) -> dict[str, object]:
        return {
            "fromMe": from_me,
            "remote": f"{phone}@c.us",
            "id": WWEBJS_ID + suffix,
            "_serialized": f"{str(from_me).lower()}_{phone}@c.us_{WWEBJS_ID}{suffix}",
        }

    lines = [
        message(),
        message(
            id=ident(PHONE_B, "P"),
            body="",
            type="ptt",
            timestamp=T0 + 2,
            hasMedia=True,
            **{"from": f"{PHONE_B}@c.us"},
        ),
        message(
            id={**ident(GROUP, "G"), "remote": f"{GROUP}@g.us"},
            body=TEXT_B,
            timestamp=T0 + 3,
            author=f"{PHONE_B}@c.us",
            **{"from": f"{GROUP}@g.us"},
        ),
        message(
            id=ident(PHONE_A, "R", True),
            body=TEXT_REPLY,
            timestamp=T0 + 5,
            fromMe=True,
            to=f"{PHONE_A}@c.us",
            **{"from": f"{PHONE_BUSINESS}@c.us"},
        ),
    ]
    if not malformed:
        return lines, 0
    lines += [
        message(id=ident(PHONE_A, "T"), timestamp=TEXT_B),
        message(id=ident(PHONE_A, "N"), **{"from": f"{NAME_B}@c.us"}, timestamp=T0 + 7),
        message(id=ident(PHONE_A, "Y"), type=42, timestamp=T0 + 8),
    ]
    return lines, 3


def shadow_lines(cs: CaptureSet, malformed: bool) -> tuple[list[bytes], int]:
    def record(**fields: object) -> dict[str, object]:
        return {
            "received_at": _iso(1),
            "contact_id": PHONE_A,
            "message_id": WAMID_A1,
            "text": TEXT_A,
        } | fields

    lines = [
        _dump({"shadow_header": {"generator": "canaries"}}),
        _dump(record()),
        _dump(record(received_at=_iso(3), contact_id=PHONE_B, message_id=WAMID_B1, text=TEXT_B)),
        _dump(record(received_at=_iso(4), message_id=WAMID_A2, text=TEXT_CAPTION, type="image")),
        _dump(
            {
                "received_at": _iso(6),
                "direction": "out",
                "contact_id": PHONE_A,
                "reply_to": WAMID_A1,
                "text": TEXT_REPLY,
            }
        ),
    ]
    if not malformed:
        return [line.encode() for line in lines], 0
    lines += [
        _dump(record(contact_id=NAME_A)),
        _dump(record(direction=TEXT_B)),
        _dump(record(type=TEXT_BUTTON)),
        _dump(record(bucket=CPF)),
        _dump(record(repeat_kind=NAME_B)),
        _dump(record(received_at=TEXT_A)),
        _dump({PHONE_A: {NAME_A: TEXT_B}}),
        _dump([PHONE_A, NAME_A, TEXT_B]),
    ]
    encoded = [line.encode() for line in lines]
    # a line in Latin-1, not UTF-8
    encoded.append(_dump(record(contact_id=PHONE_B, text=TEXT_B)).encode("latin-1"))
    return encoded, 9


def csv_lines(cs: CaptureSet, malformed: bool) -> tuple[list[str], int]:
    lines = [
        "received_at,contact_id,message_id,text,type",
        f'{_iso(1)},{PHONE_A},{WAMID_A1},"{TEXT_A}",text',
        f"{_iso(2)},{PHONE_B},{WAMID_B1},{TEXT_CAPTION},image",
    ]
    if not malformed:
        return lines, 0
    lines += [
        f'{_iso(3)},{PHONE_A},{WAMID_A2},"{TEXT_B}",text,{NAME_A}',
        f"{_iso(4)},{NAME_B},{WAMID_A2},{TEXT_BUTTON},text",
        f"{CPF},{PHONE_A},{WAMID_A2},{TEXT_BUTTON},text",
    ]
    return lines, 3


def export_lines(cs: CaptureSet, malformed: bool) -> tuple[list[str], int]:
    lines = [
        "[01/05/2024, 07:39:58] Loja Exemplo: \u200eMessages and calls are end-to-end encrypted.",
        f"[01/05/2024, 07:40:00] {NAME_A}: {TEXT_A}",
        f"[01/05/2024, 07:40:02] {NAME_A}: {TEXT_B}",
        TEXT_CONTINUATION,
        f"contato: +55 31 98427-0615, CPF {CPF}",
        f"[01/05/2024, 07:40:09] Loja Exemplo: {TEXT_REPLY}",
        f"[01/05/2024, 07:40:30] {NAME_A}: \u200eimage omitted",
    ]
    if not malformed:
        return lines, 0
    lines = [f"{NAME_B}: {TEXT_CONTINUATION}", *lines]
    lines.append(f"[31/02/2024, 07:41:00] {NAME_B}: {TEXT_BUTTON}")
    return lines, 2


WRITERS = {
    "cloud": (cloud_lines, "jsonl"),
    "evolution": (evolution_lines, "jsonl"),
    "zapi": (zapi_lines, "jsonl"),
    "twilio": (twilio_lines, "jsonl"),
    "wwebjs": (wwebjs_lines, "jsonl"),
    "shadow": (shadow_lines, "jsonl"),
    "csv": (csv_lines, "csv"),
    "export": (export_lines, "txt"),
}


def write_captures(folder: Path, malformed: bool = True) -> CaptureSet:
    """One capture per format in ``folder`` (file named after the format); with ``malformed``,
    each also holds bad lines carrying canaries."""
    folder.mkdir(parents=True, exist_ok=True)
    captures = CaptureSet()
    for fmt, (writer, suffix) in WRITERS.items():
        lines, bad = writer(captures, malformed)
        path = folder / f"{fmt}.{suffix}"
        data = [line if isinstance(line, bytes) else line.encode() for line in lines]
        path.write_bytes(b"\n".join(data) + b"\n")
        captures.files[fmt] = path
        captures.rejected[fmt] = bad
    return captures
