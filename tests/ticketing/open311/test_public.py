"""What a public service request may say: redaction of contacts in an app's description."""

from __future__ import annotations

from ticketing.open311.public import REDACTED, public_status, redact


def test_phones_ids_and_mails_are_removed_not_masked():
    text = redact("电话 138 3751 2345，座机0375-1234567，身份证41040219800101123X，邮箱 a.b@example.com，8号楼")
    assert "3751" not in text and "1234567" not in text and "123X" not in text and "example" not in text
    assert text.count(REDACTED) == 4 and "8号楼" in text


def test_statuses_map_to_open_and_closed():
    assert public_status("handling") == "open" and public_status("answered") == "open"
    assert public_status("closed") == public_status("merged") == public_status("bot_answered") == "closed"
