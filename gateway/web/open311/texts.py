"""The Open311 API's own Chinese texts (the channel's validation texts are in connectors.open311.texts)."""

from __future__ import annotations

API_KEY_REQUIRED = "缺少有效的 api_key：请向平顶山12345管理员申请"
RATE_LIMITED = "请求过于频繁，请稍后再试"
INTAKE_UNAVAILABLE = "系统繁忙，诉求未能提交，请稍后重试"
NOT_FOUND = "未找到"
REQUEST_NOT_FOUND = "未找到该服务请求"
TOKEN_NOT_FOUND = "未找到该 token，或它已过期"
FORM_REQUIRED = "请以 application/x-www-form-urlencoded 表单提交"
BODY_TOO_LARGE = "请求内容过大"
INVALID_DATE = "start_date/end_date 须为 ISO 8601 时间，例如 2026-12-01T00:00:00+08:00"
INVALID_STATUS = "status 只能是 open 或 closed"
TOO_MANY_IDS = "service_request_id 一次最多 100 个"
SERVICE_NOTICE = "已受理，正在登记工单；可凭 token 查询工单号"
CONTACT = "平顶山市12345政务服务便民热线，电话 12345"
KEY_SERVICE = "API 密钥由平顶山12345管理员签发（hotline open311 key add 应用名）"
SERVER_ERROR = "服务器内部错误，请稍后再试"
