"""The API document's entries for the channels' routes (``/api/v1/web/…``, ``/wechat``).

Their handlers belong to the channels (``connectors``), which know nothing of the gateway's
document, so they are described here by (method, path); the body models are in
:mod:`gateway.web.models`.
"""

from __future__ import annotations

from gateway.infra.resources import SETTINGS
from gateway.web.models import Accepted, ChatMessages, web_message
from gateway.web.openapi import Operation

CITIZENS = "群众"

CHANNEL_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("post", "/api/v1/web/messages"): Operation(
        "网页留言 / 在线咨询：提交一条消息", CITIZENS,
        description="消息进入受理队列后返回 202；Redis 不可用时返回 503，请稍后重试（消息不会半写入）。",
        body=lambda config: web_message(config[SETTINGS].max_text_chars),
        responses={202: ("已受理", Accepted), 413: "内容过长", 415: "需要 JSON", 429: "发送过于频繁",
                   503: "暂不可用"}),
    ("get", "/api/v1/web/sessions/{session_id}/messages"): Operation(
        "读取网页会话的消息（群众可见部分）", CITIZENS, query={"after": "只返回 id 大于该值的消息"},
        responses={200: ("消息列表", ChatMessages), 400: "参数错误"}),
    ("get", "/api/v1/web/sessions/{session_id}/events"): Operation(
        "网页会话的实时事件（SSE）", CITIZENS,
        description="text/event-stream：智能客服答复、坐席加入（operator_joined）、坐席答复（message）。",
        responses={200: "事件流"}),
    ("get", "/wechat"): Operation(
        "微信公众号服务器地址验证（signature/echostr）", CITIZENS, description="仅在配置 WECHAT_TOKEN 后启用。",
        responses={200: "echostr", 403: "签名错误"}),
    ("post", "/wechat"): Operation(
        "微信公众号消息回调（明文或安全模式 AES）", CITIZENS,
        description="仅在配置 WECHAT_TOKEN 后启用；5 秒内被动回复，来不及时改用客服消息。",
        responses={200: "被动回复或 success"}),
}

