"""A gateway with the WeChat channel on, talking to the WeChat API simulator: what every test of
WeChat through the whole gateway starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.wechat.simulator import WeChatApiSimulator, WeChatPlatform

TOKEN, AES_KEY, APP_ID, SECRET = "hotline12345", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2", "s3cret"


@dataclass
class WeChatGateway:
    client: Any  # the aiohttp test client of the gateway
    api: WeChatApiSimulator  # what the gateway sent to "WeChat"
    platform: WeChatPlatform  # signs and encrypts what "WeChat" posts to the gateway


async def wechat_gateway(make_client, aiohttp_server, monkeypatch, **settings: str) -> WeChatGateway:
    """The simulator served, the WECHAT_* settings (safe mode) pointing at it, and the gateway."""
    api = WeChatApiSimulator(app_id=APP_ID, app_secret=SECRET)
    server = await aiohttp_server(api.make_app())
    for var, value in {"WECHAT_TOKEN": TOKEN, "WECHAT_ENCODING_AES_KEY": AES_KEY, "WECHAT_APP_ID": APP_ID,
                       "WECHAT_APP_SECRET": SECRET, "WECHAT_API_BASE_URL": str(server.make_url("/cgi-bin/")),
                       **settings}.items():
        monkeypatch.setenv(var, value)
    client = await make_client()
    return WeChatGateway(client, api, WeChatPlatform(TOKEN, mode="safe", encoding_aes_key=AES_KEY, app_id=APP_ID))
