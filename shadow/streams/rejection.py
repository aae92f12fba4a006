"""What is kept of a rejected line: where it was, why, and its shape, never its data.

Guarantees:

1. ``stored_rejection`` keeps the file, the line number, the byte length, the sha256 of the
   line's bytes (an HMAC-SHA256 keyed with ``SHADOW_REDACT_KEY`` when it is set), the reason and
   a skeleton. The raw line only with ``keep_raw``, and then with every secret's value replaced
   by ``<secret>`` (``shadow.common.scrub_secrets``).
2. The skeleton of a JSON line is its structure with every string and number replaced by its
   type and length (``"<str:13>"``, ``"<int:10>"``); booleans and nulls stay. A key stays only
   when it is a field name of the format's documented payload (``GATEWAY_FIELDS``); any other
   key, which could itself be data, becomes ``"<key:N>"``. A line that is not JSON, or not of a
   JSON format, has no skeleton (null).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from shadow.common import scrub_secrets
from shadow.streams.record import Rejected

_WRAPPER = ("received_at", "headers", "body", "url", "direction")
_HEADERS = (
    "content-type",
    "content-length",
    "user-agent",
    "host",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-twilio-signature",
    "i-twilio-idempotency-token",
    "authorization",
    "apikey",
    "x-api-key",
    "client-token",
)
_CLOUD = (
    "object entry id changes value field messaging_product metadata display_phone_number "
    "phone_number_id contacts profile name wa_id messages from timestamp type text body image "
    "video audio document sticker voice caption mime_type sha256 filename animated interactive "
    "button_reply list_reply title description button payload reaction message_id emoji "
    "location latitude longitude address url context forwarded frequently_forwarded referral "
    "source_url source_id source_type headline media_type image_url video_url thumbnail_url "
    "ctwa_clid statuses status recipient_id conversation origin expiration_timestamp pricing "
    "billable pricing_model category errors code message error_data details system identity "
    "unsupported order catalog_id product_items product_retailer_id quantity item_price "
    "currency edit revoke original_message_id group_id new_wa_id customer user_id "
    "acknowledged created hash to message_echoes smb_message_echoes"
)
_EVOLUTION = (
    "event instance data key remoteJid remoteJidAlt fromMe id participant participantAlt "
    "addressingMode pushName status message messageType messageTimestamp instanceId source "
    "contextInfo messageContextInfo conversation extendedTextMessage text imageMessage "
    "videoMessage ptvMessage audioMessage documentMessage documentWithCaptionMessage "
    "stickerMessage locationMessage liveLocationMessage contactMessage contactsArrayMessage "
    "reactionMessage buttonsResponseMessage templateButtonReplyMessage listResponseMessage "
    "interactiveResponseMessage protocolMessage senderKeyDistributionMessage editedMessage "
    "caption url mimetype fileSha256 fileLength seconds ptt mediaKey fileName jpegThumbnail "
    "selectedDisplayText selectedButtonId title singleSelectReply selectedRowId "
    "messageStubType low high unsigned destination date_time sender server_url apikey keyId "
    "owner ephemeralMessage viewOnceMessage viewOnceMessageV2 viewOnceMessageV2Extension "
    "pollCreationMessage pollUpdateMessage messageStubParameters update"
)
_ZAPI = (
    "isStatusReply chatLid connectedPhone waitingMessage isEdit isGroup isNewsletter "
    "instanceId messageId phone fromMe momment status chatName senderPhoto senderName "
    "participantPhone participantLid photo broadcast type text message image caption imageUrl "
    "thumbnailUrl mimeType video videoUrl audio audioUrl ptt seconds document documentUrl "
    "fileName title pageCount sticker stickerUrl location latitude longitude contact "
    "displayName vCard reaction value time referencedMessage buttonsResponseMessage buttonId "
    "listResponseMessage selectedRowId ids referenceMessageId forwarded notification "
    "notificationParameters fromApi messageExpirationSeconds"
)
_TWILIO = (
    "MessageSid SmsMessageSid SmsSid AccountSid MessagingServiceSid From To Body NumMedia "
    "NumSegments ProfileName WaId MessageType SmsStatus MessageStatus ApiVersion ButtonText "
    "ButtonPayload Latitude Longitude Address Label ReferralNumMedia Forwarded "
    "FrequentlyForwarded OriginalRepliedMessageSender OriginalRepliedMessageSid ErrorCode "
    "ErrorMessage ChannelPrefix ChannelInstallSid ChannelToAddress StructuredMessage "
    + " ".join(f"MediaUrl{n} MediaContentType{n}" for n in range(10))
)
_WWEBJS = (
    "id fromMe remote _serialized participant ack hasMedia body type timestamp from to author "
    "deviceType isForwarded forwardingScore isStatus isStarred broadcast hasQuotedMsg "
    "hasReaction duration location latitude longitude description vCards inviteV3 orderId "
    "mentionedIds groupMentions links isEphemeral isGif _data notifyName mediaKey caption "
    "mimetype filename size event message"
)
_SHADOW = (
    "received_at contact_id message_id text type direction reply_to topic repeat_kind bucket "
    "sent_at content_key shadow_header redacted flag fingerprint generator"
)

#: The documented field names of each JSON format's payload (and its logging wrapper).
GATEWAY_FIELDS: dict[str, frozenset[str]] = {
    fmt: frozenset((*_WRAPPER, *_HEADERS, *names.split()))
    for fmt, names in (
        ("cloud", _CLOUD),
        ("evolution", _EVOLUTION),
        ("zapi", _ZAPI),
        ("twilio", _TWILIO),
        ("wwebjs", _WWEBJS),
        ("shadow", _SHADOW),
    )
}


def skeleton(value: Any, fields: frozenset[str]) -> Any:
    """The shape of a parsed JSON value (guarantee 2)."""
    if isinstance(value, dict):
        shaped: dict[str, Any] = {}
        for key, item in value.items():
            name = key if key in fields or key.lower() in fields else f"<key:{len(key)}>"
            unique, n = name, 1
            while unique in shaped:
                n += 1
                unique = f"{name}#{n}"
            shaped[unique] = skeleton(item, fields)
        return shaped
    if isinstance(value, list):
        return [skeleton(item, fields) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return f"<int:{len(str(abs(value)))}>"
    if isinstance(value, float):
        return f"<float:{len(repr(value))}>"
    return f"<str:{len(value)}>"


def line_skeleton(raw: bytes, fmt: str) -> Any:
    """The skeleton of a line of a JSON format, or None."""
    fields = GATEWAY_FIELDS.get(fmt)
    if fields is None:
        return None
    try:
        return skeleton(json.loads(raw), fields)
    except (ValueError, RecursionError):
        return None


def stored_rejection(
    file: str,
    line: int,
    reason: str,
    raw: bytes,
    fmt: str,
    key: str | None = None,
    keep_raw: bool = False,
) -> Rejected:
    """A rejected line as it may be stored and shown (guarantee 1)."""
    if key:
        digest = hmac.new(key.encode(), b"rejected-line:" + raw, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(raw).hexdigest()
    return Rejected(
        file=file,
        line=line,
        reason=reason,
        size=len(raw),
        digest=digest,
        keyed=bool(key),
        skeleton=line_skeleton(raw, fmt),
        raw=scrub_secrets(raw.decode("utf-8", errors="replace")) if keep_raw else None,
    )
