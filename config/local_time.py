"""The city's one time zone, read from ``directory.yaml`` (``network_hotline.timezone``).

Ticket numbers, deadlines, the shift and every time a person reads are local times; they all
take the zone from here so that no module can disagree with another.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from config.directory import load_directory

LOCAL_TZ = ZoneInfo(load_directory().network_hotline.timezone)
