"""Request and response models of the root app's JSON API (errors, the NLU contract) and of the web
channel's API as the document shows it.

Text limits that are settings (``HOTLINE_MAX_TEXT_CHARS``) make the model a function of the
limit: the handler validates with ``nlu_parse_request(settings.max_text_chars)`` and the document
shows that same class.
"""

from __future__ import annotations

import functools
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, StringConstraints, create_model

from gateway.web.validation import RequestModel

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ErrorDetail(BaseModel):
    code: str
    message: str = Field(description="中文说明，可直接展示")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Confidence(BaseModel):
    code: str
    confidence: float


class NluIntent(BaseModel):
    name: str | None
    confidence: float | None


class NluResult(BaseModel):
    """The NLU contract (``nlu.client.NluResult.to_dict``)."""

    request_type: str | None = None
    request_type_alternatives: list[Confidence] = Field(
        [], description="诉求类型模型的排序（第一项即 request_type）；由规则判定时为空")
    department: str | None = None
    department_alternatives: list[Confidence] = []
    region: str | None = None
    emergency: dict[str, str] | None = Field(None, description="{number, kind}：紧急警情提示")
    faq: dict[str, str] | None = Field(None, description="{key, answer}：常见问题的答复")
    handoff: bool = True
    intent: NluIntent | None = None
    model: str | None = None


class _TextRequest(RequestModel):
    refusals: ClassVar[dict[str, tuple[int, str, str]]] = {
        "text:string_too_short": (400, "empty_text", "text 不能为空"),
        "text:string_pattern_mismatch": (400, "empty_text", "text 不能为空"),
        "text:string_type": (400, "empty_text", "text 不能为空"),
        "text:missing": (400, "empty_text", "text 不能为空"),
        "*:extra_forbidden": (400, "invalid_body", "请求体只能包含 text 字段"),
        "text:string_too_long": (413, "text_too_long", "text 过长"),
        "text": (400, "invalid_body", "请求体只能包含 text 字段"),
    }


@functools.cache
def nlu_parse_request(max_text_chars: int) -> type[_TextRequest]:
    """``POST /api/v1/nlu/parse``'s body for a text limit (one class per limit)."""
    text = Annotated[str, StringConstraints(min_length=1, max_length=max_text_chars, pattern=r"\S")]
    return create_model("NluParseRequest", __base__=_TextRequest, text=(text, ...))


# --------------------------------------------------------------------------- the web channel

@functools.cache
def web_message(max_text_chars: int) -> type[BaseModel]:
    """The body of ``POST /api/v1/web/messages`` as documented (validated by ``connectors.web.messages``)."""
    return create_model(
        "WebMessage", __base__=RequestModel,
        session_id=(Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")], ...),
        text=(Annotated[str, StringConstraints(min_length=1, max_length=max_text_chars)], ...),
        name=(Annotated[str, StringConstraints(max_length=50)] | None, None),
        phone=(Annotated[str, StringConstraints(max_length=20)] | None, None),
        client_message_id=(Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None,
                           Field(None, description="客户端生成的消息 ID，重试时保持不变即可去重")),
    )


class Accepted(BaseModel):
    message_id: str


class ChatMessage(BaseModel):
    id: int
    author: Literal["citizen", "bot", "operator", "system"]
    author_name: str | None
    text: str
    created_at: str
    ticket_no: str | None


class ChatMessages(BaseModel):
    messages: list[ChatMessage]
