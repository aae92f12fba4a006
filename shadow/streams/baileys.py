"""What a Baileys message is (WAProto.proto's ``Message``): a customer message of a canonical
type, or an event (docs/capture.md), or nothing (key distribution alone).

Guarantees:

1. A message inside a wrapper (``ephemeralMessage``, ``viewOnceMessage``, ... every
   ``FutureProofMessage``, and ``deviceSentMessage``) is read as the message it wraps.
2. Edits (``protocolMessage`` type ``MESSAGE_EDIT``, ``editedMessage``,
   ``secretEncryptedMessage``), deletions (``protocolMessage`` type ``REVOKE``, stub
   ``REVOKE``), other protocol and stub messages and call logs (``system``), placeholders and
   the ``CIPHERTEXT`` stub (``error``) and keys no documentation names (``unknown_type``) are
   events; the customer messages Baileys documents that the harness does not model (polls,
   orders, payments, ...) are messages of type ``unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shadow.streams.base import LineError, opt_str
from shadow.streams.content import geo_key, media_key, reaction_key, reply_key
from shadow.streams.fields import maybe_time, millis_to_us
from shadow.streams.record import EventKind

#: Baileys message keys -> canonical types; the caption/text field of each.
_TYPES: dict[str, tuple[str, str]] = {
    "conversation": ("text", ""),
    "extendedTextMessage": ("text", "text"),
    "imageMessage": ("image", "caption"),
    "videoMessage": ("video", "caption"),
    "ptvMessage": ("video", "caption"),
    "audioMessage": ("audio", ""),
    "documentMessage": ("document", "caption"),
    "documentWithCaptionMessage": ("document", ""),
    "stickerMessage": ("sticker", ""),
    "locationMessage": ("location", ""),
    "liveLocationMessage": ("location", ""),
    "contactMessage": ("contacts", ""),
    "contactsArrayMessage": ("contacts", ""),
    "reactionMessage": ("reaction", "text"),
    "buttonsResponseMessage": ("button", "selectedDisplayText"),
    "templateButtonReplyMessage": ("button", "selectedDisplayText"),
    "listResponseMessage": ("interactive", "title"),
    "interactiveResponseMessage": ("interactive", ""),
}
#: Keys that carry no message: key distribution and context, alongside or alone.
_NOT_MESSAGES = frozenset(
    {
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
        "messageContextInfo",
    }
)
#: Baileys ``FutureProofMessage`` wrappers (and ``deviceSentMessage``): ``{"message": {...}}``.
_WRAPPERS = frozenset(
    {
        "ephemeralMessage",
        "viewOnceMessage",
        "viewOnceMessageV2",
        "viewOnceMessageV2Extension",
        "deviceSentMessage",
        "groupMentionedMessage",
        "botInvokeMessage",
        "lottieStickerMessage",
        "eventCoverImage",
        "statusMentionMessage",
        "pollCreationOptionImageMessage",
        "associatedChildMessage",
        "groupStatusMentionMessage",
        "pollCreationMessageV4",
        "statusAddYours",
        "groupStatusMessage",
        "groupStatusMessageV2",
        "limitSharingMessage",
        "botTaskMessage",
        "questionMessage",
        "botForwardedMessage",
        "questionReplyMessage",
    }
)
#: Customer messages Baileys documents that the harness does not model: type ``unsupported``.
_UNSUPPORTED = frozenset(
    {
        "highlyStructuredMessage",
        "sendPaymentMessage",
        "requestPaymentMessage",
        "declinePaymentRequestMessage",
        "cancelPaymentRequestMessage",
        "templateMessage",
        "groupInviteMessage",
        "productMessage",
        "listMessage",
        "orderMessage",
        "invoiceMessage",
        "buttonsMessage",
        "paymentInviteMessage",
        "interactiveMessage",
        "stickerSyncRmrMessage",
        "pollCreationMessage",
        "pollCreationMessageV2",
        "pollCreationMessageV3",
        "pollCreationMessageV5",
        "pollUpdateMessage",
        "keepInChatMessage",
        "requestPhoneNumberMessage",
        "encReactionMessage",
        "scheduledCallCreationMessage",
        "scheduledCallEditMessage",
        "pinInChatMessage",
        "encCommentMessage",
        "commentMessage",
        "eventMessage",
        "encEventResponseMessage",
        "newsletterAdminInviteMessage",
        "newsletterFollowerInviteMessageV2",
        "albumMessage",
        "stickerPackMessage",
        "pollResultSnapshotMessage",
        "pollResultSnapshotMessageV3",
        "richResponseMessage",
        "statusQuestionAnswerMessage",
        "questionResponseMessage",
        "statusQuotedMessage",
        "statusStickerInteractionMessage",
    }
)
#: Notices in a message's clothes: calls, history bundles, status notifications.
_SYSTEM = frozenset(
    {
        "call",
        "chat",
        "callLogMesssage",
        "bcallMessage",
        "messageHistoryBundle",
        "messageHistoryNotice",
        "statusNotificationMessage",
    }
)
#: ProtocolMessage.Type and WAMessageStubType values (WAProto.proto) that are events of their own.
_PROTOCOL_KINDS: dict[int | str, EventKind] = {
    0: "revoke",
    "REVOKE": "revoke",
    14: "edit",
    "MESSAGE_EDIT": "edit",
}
_STUB_KINDS: dict[int | str, EventKind] = {
    1: "revoke",
    "REVOKE": "revoke",
    2: "error",
    "CIPHERTEXT": "error",
}


@dataclass(frozen=True, slots=True)
class Content:
    """What a Baileys message is: a message of ``type`` (``kind == "message"``) or an event."""

    kind: Literal["message", "edit", "revoke", "system", "error", "unknown_type"]
    type: str = "unsupported"
    text: str = ""
    name: str = ""
    refers_to: str = ""
    at: int | None = None
    #: what identifies the message's non-text content (content.py); "" when nothing does
    key: str = ""


def _millis(value: Any) -> int | None:
    if isinstance(value, dict) and "low" in value:
        low, high = value.get("low"), value.get("high", 0)
        if not isinstance(low, int) or not isinstance(high, int):
            return None
        value = (high << 32) + (low & 0xFFFFFFFF)
    return maybe_time(millis_to_us, value, "timestampMs")


def key_id(key: Any) -> str:
    ident = key.get("id") if isinstance(key, dict) else None
    return ident if isinstance(ident, str) else ""


def _unwrap(message: dict[str, Any]) -> dict[str, Any]:
    """Guarantee 1: the message inside its wrappers."""
    for _ in range(8):  # wrappers nest a level or two; a bound keeps a hostile line finite
        keys = [key for key in message if key not in _NOT_MESSAGES]
        inner = message.get(keys[0]) if len(keys) == 1 and keys[0] in _WRAPPERS else None
        if not isinstance(inner, dict) or not isinstance(inner.get("message"), dict):
            return message
        message = inner["message"]
    return message


#: Media messages, whose ``fileSha256`` identifies the file.
_MEDIA = frozenset(
    {"imageMessage", "videoMessage", "ptvMessage", "audioMessage", "documentMessage"}
    | {"stickerMessage"}
)


def content_key(name: str, body: Any) -> str:
    """What identifies a Baileys message's non-text content (content.py): a media file's
    ``fileSha256``, a location's degrees, a reaction's ``key.id`` and ``text``, the chosen
    button's or list row's id."""
    if not isinstance(body, dict):
        return ""
    if name in _MEDIA:
        return media_key(body.get("fileSha256"))
    if name in ("locationMessage", "liveLocationMessage"):
        return geo_key(body.get("degreesLatitude"), body.get("degreesLongitude"))
    if name == "reactionMessage":
        key = body.get("key")
        return reaction_key(key.get("id") if isinstance(key, dict) else None, body.get("text"))
    if name == "buttonsResponseMessage":
        return reply_key(body.get("selectedButtonId"))
    if name == "templateButtonReplyMessage":
        return reply_key(body.get("selectedId"))
    if name == "listResponseMessage":
        reply = body.get("singleSelectReply")
        return reply_key(reply.get("selectedRowId") if isinstance(reply, dict) else None)
    return ""


def _message(name: str, body: Any) -> Content:
    kind, text_field = _TYPES[name]
    if name == "conversation":
        if not isinstance(body, str):
            raise LineError("message.conversation is not a string")
        return Content("message", kind, body)
    key = content_key(name, body)
    if name == "audioMessage" and isinstance(body, dict) and body.get("ptt"):
        return Content("message", "voice", key=key)
    if name == "documentWithCaptionMessage" and isinstance(body, dict):
        inner = body.get("message")
        document = inner.get("documentMessage") if isinstance(inner, dict) else None
        key = content_key("documentMessage", document)
        return Content("message", kind, opt_str(document or {}, "caption"), key=key)
    text = opt_str(body or {}, text_field) if text_field else ""
    return Content("message", kind, text, key=key)


def _edited(protocol: dict[str, Any], kind: EventKind, name: str) -> Content:
    """An edit or deletion carried by a ``protocolMessage``: what it refers to, the new content."""
    new, text = "unsupported", ""
    edited = protocol.get("editedMessage")
    if kind == "edit" and isinstance(edited, dict):
        try:
            content = message_content(edited, "")
        except LineError:
            content = None
        if content is not None and content.kind == "message":
            new, text = content.type, content.text
    at = _millis(protocol.get("timestampMs"))
    return Content(kind, new, text, name, key_id(protocol.get("key")), at)


def protocol_content(protocol: Any) -> Content:
    if not isinstance(protocol, dict):
        return Content("system", name="protocolMessage")
    declared = protocol.get("type", 0)  # protobuf's default value is REVOKE
    name = f"protocolMessage {declared}"
    kind = _PROTOCOL_KINDS.get(declared) if isinstance(declared, int | str) else None
    if kind is None:
        return Content("system", name=name)
    return _edited(protocol, kind, name)


def message_content(message: dict[str, Any], declared: str) -> Content | None:
    """What a Baileys message is, or None when it carries none (key distribution alone)."""
    message = _unwrap(message)
    names = [declared] if declared in _TYPES else [key for key in message if key in _TYPES]
    if names:
        return _message(names[0], message.get(names[0]))
    keys = [key for key in message if key not in _NOT_MESSAGES]
    if not keys:
        return None
    name = keys[0]
    body = message[name]
    if name == "protocolMessage":
        return protocol_content(body)
    if name == "editedMessage":
        inner = body.get("message") if isinstance(body, dict) else None
        protocol = inner.get("protocolMessage") if isinstance(inner, dict) else None
        if isinstance(protocol, dict):
            return _edited(protocol, "edit", name)
        return Content("edit", name=name)
    if name == "secretEncryptedMessage":
        target = body.get("targetMessageKey") if isinstance(body, dict) else None
        return Content("edit", name=name, refers_to=key_id(target))
    if name == "placeholderMessage":
        return Content("error", name=name)
    if name in _SYSTEM:
        return Content("system", name=name)
    if name in _UNSUPPORTED:
        return Content("message")
    return Content("unknown_type", name=name)


def stub_content(value: Any) -> Content:
    kind = _STUB_KINDS.get(value, "system") if isinstance(value, int | str) else "system"
    return Content(kind, name=f"messageStubType {value}")
