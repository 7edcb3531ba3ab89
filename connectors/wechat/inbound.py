"""What one decrypted WeChat message means for the hotline.

Decisions (documented here because the gateway relies on them):

- text → published as is (trimmed; an empty one gets a prompt and is not published).
- voice → with WeChat's ``Recognition`` it is published with that text; without it nothing
  is published and the citizen is asked, in Chinese, to type (a voice file alone would
  reach an operator with no text for the NLU, and the citizen is still there to type).
- image → the media is fetched through ``media/get`` and stored; the message is published
  with text 「（图片）」, the attachment, and ``pic_url``/``media_id`` in the metadata (the
  fallback if the download fails: then ``media_error`` says why).
- location → published as 「位置：<Label>（纬度 …，经度 …）」 with label/latitude/longitude/
  scale in the metadata.
- subscribe → answered with the welcome, NOT published: a follow is not a request, and a
  stream entry would make the pipeline open or classify a ticket from an empty intent.
- unsubscribe → published with text 「（取消关注）」 and ``msg_type`` ``event:unsubscribe`` so
  the gateway records that customer-service messages can no longer reach this citizen;
  no reply is awaited (the citizen can no longer read one).
- other events (menu clicks, location reports, template-send receipts …) → ``success``.
- any other message type (video, file, link …) → a polite Chinese answer, not published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from connectors.base import Contact, InboundMessage
from connectors.wechat import texts
from connectors.wechat.const import CHANNEL, MAX_TEXT_CHARS
from connectors.wechat.security import bad_request, check_id, field

# Always fullmatch: "$" would let a final "\n" through.
_DIGITS = re.compile(r"\d{1,20}")
_NUMBER = re.compile(r"-?\d{1,3}(\.\d{1,12})?")
# Seconds since 1970 in at most 10 digits (until 2286): a longer one is no WeChat timestamp.
_TIMESTAMP = re.compile(r"\d{1,10}")


@dataclass(frozen=True)
class Interpretation:
    # "publish": store it and answer with the pipeline's reply;
    # "reply": answer with ``reply`` and store nothing; "ignore": answer `success`.
    action: str
    openid: str
    account: str  # our official account's id (gh_...), the sender of replies
    message: InboundMessage | None = None
    reply: str | None = None
    media_id: str | None = None  # image to fetch before publishing
    wants_reply: bool = True  # wait for the pipeline's answer?

    @property
    def native_id(self) -> str:
        assert self.message is not None
        return self.message.native_id


def interpret(fields: dict[str, str], *, mode: str) -> Interpretation:
    openid = check_id(field(fields, "FromUserName"), "FromUserName")
    account = check_id(field(fields, "ToUserName"), "ToUserName")
    msg_type = (field(fields, "MsgType") or "").strip().lower()
    if not msg_type or len(msg_type) > 32:
        raise bad_request("missing MsgType")
    created = field(fields, "CreateTime") or ""
    if not _TIMESTAMP.fullmatch(created):
        raise bad_request("missing or malformed CreateTime")
    received_at = datetime.fromtimestamp(int(created), tz=timezone.utc)

    def message(native_id: str, text: str, metadata: dict[str, object]) -> InboundMessage:
        return InboundMessage(
            channel=CHANNEL,
            native_id=native_id,
            sender_id=openid,
            text=text,
            received_at=received_at,
            contact=Contact(wechat_openid=openid),
            metadata={"wechat_account": account, "wechat_mode": mode, **metadata},
        )

    def msg_id() -> str:
        value = field(fields, "MsgId") or ""
        if not _DIGITS.fullmatch(value):
            raise bad_request("missing or malformed MsgId")
        return value

    if msg_type == "event":
        event = (field(fields, "Event") or "").strip()
        if not event or len(event) > 64:
            raise bad_request("missing Event")
        kind = event.lower()
        if kind == "subscribe":
            return Interpretation("reply", openid, account, reply=texts.WELCOME)
        if kind == "unsubscribe":
            native_id = f"{openid}:{created}:{event}"
            msg = message(native_id, texts.UNSUBSCRIBE_TEXT, {"msg_type": "event:unsubscribe"})
            return Interpretation("publish", openid, account, message=msg, wants_reply=False)
        return Interpretation("ignore", openid, account)

    if msg_type == "text":
        content = (field(fields, "Content") or "").strip()
        if not content:
            return Interpretation("reply", openid, account, reply=texts.EMPTY_TEXT)
        msg = message(msg_id(), content[:MAX_TEXT_CHARS], {"msg_type": "text"})
        return Interpretation("publish", openid, account, message=msg)

    if msg_type == "voice":
        recognition = (field(fields, "Recognition") or "").strip()
        if not recognition:
            return Interpretation("reply", openid, account, reply=texts.VOICE_NOT_RECOGNISED)
        meta = {"msg_type": "voice", "media_id": field(fields, "MediaId"), "format": field(fields, "Format")}
        msg = message(msg_id(), recognition[:MAX_TEXT_CHARS], meta)
        return Interpretation("publish", openid, account, message=msg)

    if msg_type == "image":
        media_id = field(fields, "MediaId")
        if media_id is not None:
            media_id = check_id(media_id.strip(), "MediaId")
        meta = {"msg_type": "image", "pic_url": field(fields, "PicUrl"), "media_id": media_id}
        msg = message(msg_id(), texts.IMAGE_TEXT, meta)
        return Interpretation("publish", openid, account, message=msg, media_id=media_id)

    if msg_type == "location":
        lat, lng = field(fields, "Location_X"), field(fields, "Location_Y")
        lat = lat.strip() if lat and _NUMBER.fullmatch(lat.strip()) else None
        lng = lng.strip() if lng and _NUMBER.fullmatch(lng.strip()) else None
        label = (field(fields, "Label") or "").strip()[:200] or None
        meta = {
            "msg_type": "location",
            "label": label,
            "latitude": lat,
            "longitude": lng,
            "scale": field(fields, "Scale"),
        }
        msg = message(msg_id(), texts.location_text(label, lat, lng), meta)
        return Interpretation("publish", openid, account, message=msg)

    return Interpretation("reply", openid, account, reply=texts.UNSUPPORTED)
