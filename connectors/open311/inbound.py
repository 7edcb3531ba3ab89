"""What a POSTed Open311 service request becomes: its form fields validated into an
:class:`InboundMessage` (no I/O here).

GeoReport v2 posts ``application/x-www-form-urlencoded`` fields: ``service_code``, a location
(``lat`` + ``long``, ``address_string`` or ``address_id``), ``description``, optionally the
citizen's ``first_name``/``last_name``/``phone``/``email``, ``device_id``/``account_id`` and a
``media_url``.  ``api_key`` is checked by the gateway before this runs.  The message id is the
request's ``token``: what the app polls (``tokens/{token}.json``) until the worker has made the
ticket.  An Open311 request is always a case of its own (``force_ticket``), never a bot answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from connectors.base import Contact, InboundMessage, storable_text
from connectors.open311 import texts
from connectors.open311.channel import CHANNEL
from connectors.open311.settings import MAX_DESCRIPTION_CHARS
from connectors.phones import InvalidPhone, normalize_phone

FIELDS = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email",
          "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url"}
_LIMITS = {"address_string": 300, "address_id": 64, "device_id": 128, "account_id": 128, "first_name": 50,
           "last_name": 50, "phone": 20, "email": 254, "media_url": 1000, "jurisdiction_id": 64,
           "service_code": 64}
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}")
_TOKEN = re.compile(r"[0-9a-f]{32}")


class Open311InputError(ValueError):
    """A request the spec's error list answers: ``[{"code": status, "description": …}]``."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def is_token(value: str) -> bool:
    return bool(_TOKEN.fullmatch(value))


def _single(fields: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = fields.get(name) or ()
    if len(values) > 1:
        raise Open311InputError(400, f"{texts.DUPLICATE_FIELD}：{name}")
    if not values:
        return None
    value = storable_text(values[0]).strip()
    limit = _LIMITS.get(name)
    if limit is not None and len(value) > limit:
        raise Open311InputError(400, texts.too_long(name, limit))
    return value or None


def _coordinate(raw: str | None, bound: float) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311InputError(400, texts.INVALID_LAT_LONG) from None
    if not -bound <= value <= bound or value != value:  # NaN compares unequal to itself
        raise Open311InputError(400, texts.INVALID_LAT_LONG)
    return value


def parse_service_request(fields: Mapping[str, Sequence[str]], *, client: str, services: Collection[str],
                          max_description_chars: int = MAX_DESCRIPTION_CHARS, now: datetime | None = None,
                          token: str | None = None) -> InboundMessage:
    """The message of one POSTed request of the app whose API key is named ``client``."""
    attributes = sorted(name for name in fields if name.startswith("attribute["))
    if attributes:
        raise Open311InputError(400, texts.ATTRIBUTES_UNSUPPORTED)
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise Open311InputError(400, texts.unknown_fields(unknown[:10]))
    service_code = _single(fields, "service_code")
    if not service_code:
        raise Open311InputError(400, texts.SERVICE_CODE_REQUIRED)
    if service_code not in services:
        raise Open311InputError(404, texts.unknown_service(service_code))
    lat = _coordinate(_single(fields, "lat"), 90.0)
    long = _coordinate(_single(fields, "long"), 180.0)
    if (lat is None) != (long is None):
        raise Open311InputError(400, texts.INVALID_LAT_LONG)
    address = _single(fields, "address_string")
    address_id = _single(fields, "address_id")
    if lat is None and not address and not address_id:
        raise Open311InputError(400, texts.LOCATION_REQUIRED)
    description = (fields.get("description") or [""])
    if len(description) > 1:
        raise Open311InputError(400, f"{texts.DUPLICATE_FIELD}：description")
    text = storable_text(description[0]).strip()
    if not text:
        raise Open311InputError(400, texts.DESCRIPTION_REQUIRED)
    if len(text) > max_description_chars:
        raise Open311InputError(400, texts.too_long("description", max_description_chars))
    phone = _single(fields, "phone")
    if phone:
        try:
            phone = normalize_phone(phone)
        except InvalidPhone:
            raise Open311InputError(400, texts.INVALID_PHONE) from None
    email = _single(fields, "email")
    if email and not _EMAIL.fullmatch(email):
        raise Open311InputError(400, texts.INVALID_EMAIL)
    media_url = _single(fields, "media_url")
    if media_url and not media_url.lower().startswith(("http://", "https://")):
        raise Open311InputError(400, texts.INVALID_MEDIA_URL)
    name = "".join(part for part in (_single(fields, "last_name"), _single(fields, "first_name")) if part) or None
    token = token or uuid.uuid4().hex
    # One conversation per person of the app where the app tells them apart, else per request.
    person = _single(fields, "account_id") or _single(fields, "device_id") or token
    place = address or (f"{lat:.6f},{long:.6f}" if lat is not None and long is not None else address_id)
    open311: dict[str, Any] = {"client": client, "service_code": service_code, "description": text,
                               "address": address, "address_id": address_id, "lat": lat, "long": long,
                               "media_url": media_url}
    return InboundMessage(
        channel=CHANNEL,
        native_id=token,
        sender_id=f"{client}:{person}"[:255],
        # Operators read the place with the matter: the app sends it apart from the description.
        text=f"{text}\n（地点：{place}）",
        received_at=now or datetime.now(timezone.utc),
        contact=Contact(name=name, phone=phone, email=email),
        metadata={"msg_type": "text", "force_ticket": True, "department_hint": service_code, "open311": open311},
    )
