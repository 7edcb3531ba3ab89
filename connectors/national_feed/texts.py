"""Texts of the national feed channel shown to operators (Simplified Chinese)."""

from __future__ import annotations

# A reply to a platform ticket whose item id is unknown cannot be written back.
NO_ITEM_ID = "缺少平台事项编号，无法回传"
