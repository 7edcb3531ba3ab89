"""What goes back to the citizen's browser: the stored conversation as JSON.

Replies reach a web session as live events on its reply-bus topic, published by the gateway
with the stored entry (worker: the bot's answer; console: an operator's reply), and are read
back from the conversation when the page reloads.  So the web channel has no ``send_reply``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.base import ConversationEntry


def conversation_json(entries: Sequence[ConversationEntry]) -> dict[str, Any]:
    """``{"messages": [...]}``; an operator's name is shown, a bot's or the citizen's is not."""
    return {
        "messages": [
            {
                "id": e.id,
                "author": e.author,
                "author_name": e.author_name if e.author == "operator" else None,
                "text": e.text,
                "created_at": e.created_at.isoformat(),
                "ticket_no": e.ticket_no,
                "quick_replies": list(e.quick_replies),
            }
            for e in entries
        ]
    }
