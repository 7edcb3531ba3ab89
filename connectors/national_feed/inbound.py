"""What a platform item becomes: the one mapping of an item (docs/national-feed.md, "Item
fields") to an :class:`InboundMessage`, with the region and request-type hints it carries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from config.directory import Directory
from connectors.base import Contact, InboundMessage
from connectors.national_feed.protocol import CHANNEL, BadItem, parse_platform_time

# Administrative division codes (行政区划代码) of Pingdingshan's counties and districts.
# The two functional zones (高新区, 城乡一体化示范区) have no administrative code of their
# own, so items from them are recognised by 区划名称 (see :func:`division_to_region`).
DIVISION_CODES: Mapping[str, str] = {
    "410402": "xinhua",
    "410403": "weidong",
    "410404": "shilong",
    "410411": "zhanhe",
    "410421": "baofeng",
    "410422": "yexian",
    "410423": "lushan",
    "410425": "jiaxian",
    "410481": "wugang",
    "410482": "ruzhou",
}

# 类型 as the platform may spell it, beyond the directory's own names (咨询, 投诉, ...).
_TYPE_SYNONYMS: Mapping[str, str] = {
    "意见建议": "suggestion",
    "意见": "suggestion",
    "建言献策": "suggestion",
    "感谢": "praise",
    "表扬感谢": "praise",
    "检举": "report",
    "求决": "help",
    "求助求决": "help",
    "查询": "consult",
}



def division_to_region(code: Any, name: Any, directory: Directory) -> str | None:
    """区划 → region code: the administrative code first (authoritative), then the name
    against the directory's region names and aliases (the zones have no code)."""
    if code is not None:
        digits = str(code).strip()
        # Town-level codes (9 or 12 digits) start with their county's six digits.
        if digits.isdigit() and len(digits) >= 6 and digits[:6] in DIVISION_CODES:
            return DIVISION_CODES[digits[:6]]
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip()
    aliases: list[tuple[str, str]] = []
    for region in directory.regions:
        for alias in (region.name, *region.aliases):
            if alias == name:
                return region.code
            aliases.append((alias, region.code))
    # "平顶山市新华区", "平顶山高新技术产业开发区": the longest alias contained wins, so that
    # 高新技术产业开发区 beats any shorter name that happens to be inside it.
    for alias, region_code in sorted(aliases, key=lambda a: len(a[0]), reverse=True):
        if len(alias) >= 2 and alias in name:
            return region_code
    return None


def type_to_request_type(value: Any, directory: Directory) -> str | None:
    """类型 → request type code (consult, complaint, report, help, suggestion, praise)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    by_name = {t.name: t.code for t in directory.request_types}
    if text in directory.request_type_codes:
        return text
    if text in by_name:
        return by_name[text]
    if text in _TYPE_SYNONYMS:
        return _TYPE_SYNONYMS[text]
    # "投诉类", "咨询事项": the first type named inside, in the directory's order.
    for name, code in by_name.items():
        if name in text:
            return code
    for word, code in _TYPE_SYNONYMS.items():
        if word in text:
            return code
    return None


def _text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    value = str(value).strip()
    return value or None


def item_to_message(item: Any, directory: Directory, *, now: datetime | None = None) -> InboundMessage:
    """The one mapping of a platform item (docs/national-feed.md, "Item fields") to the
    gateway's :class:`InboundMessage`.

    Raises :class:`BadItem` when the item has no usable id (编号) or content (内容): there
    is nothing to dedupe on or nothing to handle.  Everything else degrades gracefully: an
    unreadable 提交时间 falls back to ``now`` and an unreadable 办理时限 to no deadline, each
    with the raw value kept in the metadata, because dropping a citizen's complaint over a
    date format would be worse.
    """
    if not isinstance(item, Mapping):
        raise BadItem(None, "item is not a JSON object")
    item_id = _text(item, "id")
    if item_id is None:
        raise BadItem(None, "missing id (编号)")
    if len(item_id) > 128 or any(ord(c) < 32 for c in item_id):
        raise BadItem(item_id[:64], "id (编号) is not a short printable string")
    content = _text(item, "content")
    if content is None:
        raise BadItem(item_id, "missing content (内容)")

    title = _text(item, "title")
    phone = _text(item, "phone")
    citizen_id = _text(item, "citizen_id")
    division_code = _text(item, "division_code")
    division_name = _text(item, "division_name")
    platform_type = _text(item, "type")

    metadata: dict[str, Any] = {
        "platform_item_id": item_id,
        "region_hint": division_to_region(division_code, division_name, directory),
        "request_type_hint": type_to_request_type(platform_type, directory),
        "deadline": None,
        "title": title,
    }
    # Raw platform facts for operators, when the hints above could not place them.
    for key, value in (("division_code", division_code), ("division_name", division_name),
                       ("platform_type", platform_type)):
        if value is not None:
            metadata[key] = value

    submitted = parse_platform_time(item.get("submitted_at"))
    if submitted is None:
        submitted = now or datetime.now(timezone.utc)
        if item.get("submitted_at") not in (None, ""):
            metadata["submitted_at_raw"] = str(item.get("submitted_at"))
    deadline = parse_platform_time(item.get("deadline"), end_of_day=True)
    if deadline is not None:
        metadata["deadline"] = deadline.astimezone(timezone.utc).isoformat()
    elif item.get("deadline") not in (None, ""):
        metadata["deadline_raw"] = str(item.get("deadline"))

    return InboundMessage(
        channel=CHANNEL,
        native_id=item_id,
        # Anonymous submissions carry neither a citizen id nor a phone: the item itself is
        # then the only address the reply (the write-back) can go to.
        sender_id=citizen_id or phone or f"item:{item_id}",
        text=content,
        received_at=submitted.astimezone(timezone.utc),
        subject=title,
        contact=Contact(name=_text(item, "citizen_name"), phone=phone),
        metadata=metadata,
    )
