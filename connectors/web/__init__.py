"""The web channel: the chat API (``/api/v1/web/...``) used by the citizen pages and anyone's
own front end, and the validation of the 网民留言 form the citizen pages serve.

* ``channel``       — :class:`WebChannel`, the plug-in the gateway wires
* ``settings``      — the limits it takes from the gateway's settings
* ``inbound``       — a chat POST's JSON body → :class:`~connectors.base.InboundMessage`
* ``chat_api``      — the HTTP handlers
* ``outbound``      — the conversation as the browser reads it
* ``texts``         — citizen-facing error messages
* ``leave_message`` — the leave-a-message form → :class:`~connectors.base.InboundMessage`
"""
