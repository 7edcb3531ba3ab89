"""Which codes a new ticket gets: a channel's hint (the national platform's region, the web form's request
type, an Open311 app's service) wins over the NLU's guess, and a code the directory does not know is dropped,
never stored. One rule for the one-by-one path (rules.py) and the batch path (batch.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from config.directory import Directory
from ticketing.intake.contract import Classification


class TicketCodes(NamedTuple):
    region: str | None
    request_type: str | None
    department: str | None


def ticket_codes(directory: Directory, metadata: Mapping[str, Any], classification: Classification) -> TicketCodes:
    region = metadata.get("region_hint") or classification.region
    request_type = metadata.get("request_type_hint") or classification.request_type
    department = metadata.get("department_hint") or classification.department
    return TicketCodes(
        region if region in directory.region_codes else None,
        request_type if request_type in directory.request_type_codes else None,
        department if department in directory.department_codes else None,
    )
