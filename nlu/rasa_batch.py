"""Several parses in one request: ``POST /webhooks/parse/batch`` on the Rasa server (Python 3.10).

Loaded by ``rasa run --credentials nlu/credentials.yml`` as an input channel (Rasa's plug-in point
for extra routes). Only Rasa and Sanic may be imported here: this module runs inside .venv-rasa.

Why: the gateway's worker classifies the messages of a pass together, and one HTTP request per
message cost more CPU in the worker's HTTP client and in Sanic's request handling than a short
message's parse itself (bench/intake_nlu.py). Each text is parsed exactly as ``POST /model/parse``
parses it (``agent.parse_message``), one after the other, and the answers come back in order:

    {"texts": ["...", ...]}  ->  {"results": [<the /model/parse answer of each text>, ...]}

A bad body is answered 400, a server with no model 409, both with Rasa's error shape
(``{"status": "failure", "reason", "message", "code"}``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

MAX_TEXTS = 64  # the client sends at most a pass's worth; more is a caller's mistake
MAX_CHARS = 20_000  # per text: a long mayor's-mailbox letter is a few thousand characters


def _failure(status: int, reason: Text, message: Text) -> HTTPResponse:
    return response.json({"version": "", "status": "failure", "reason": reason, "message": message,
                          "code": status}, status=status)


def _texts_of(body: Any) -> Optional[list]:
    texts = body.get("texts") if isinstance(body, dict) else None
    if not isinstance(texts, list) or not 0 < len(texts) <= MAX_TEXTS:
        return None
    if not all(isinstance(text, str) and len(text) <= MAX_CHARS for text in texts):
        return None
    return texts


class BatchParse(InputChannel):
    """The ``parse`` channel: its one route parses texts; it never starts a conversation."""

    @classmethod
    def name(cls) -> Text:
        return "parse"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "BatchParse":
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        routes = Blueprint("hotline_batch_parse", __name__)

        @routes.get("/")
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "max_texts": MAX_TEXTS})

        @routes.post("/batch")
        async def batch(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # Sanic raises its own InvalidUsage for a body that is not JSON
                body = None
            texts = _texts_of(body)
            if texts is None:
                return _failure(400, "BadRequest",
                                f'expected {{"texts": [1 to {MAX_TEXTS} strings of at most {MAX_CHARS} characters]}}')
            agent = request.app.ctx.agent
            if not agent or not agent.is_ready():
                return _failure(409, "Conflict", "No agent loaded.")
            results = [await agent.parse_message(text) for text in texts]
            return response.json({"results": results})

        return routes
