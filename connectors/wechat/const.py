"""Constants of the WeChat official-account connector."""

from __future__ import annotations

CHANNEL = "wechat"
DEFAULT_API_BASE_URL = "https://api.weixin.qq.com/cgi-bin/"
CALLBACK_PATH = "/wechat"

# errcodes of WeChat's API that matter to us.
ERR_INVALID_CREDENTIAL = 40001  # access_token invalid (e.g. replaced by a newer fetch)
ERR_INVALID_ACCESS_TOKEN = 40014
ERR_EXPIRED_ACCESS_TOKEN = 42001
TOKEN_ERRORS = frozenset({ERR_INVALID_CREDENTIAL, ERR_INVALID_ACCESS_TOKEN, ERR_EXPIRED_ACCESS_TOKEN})
ERR_OUT_OF_WINDOW = 45015  # customer-service message outside the 48-hour window
ERR_INVALID_MEDIA_ID = 40007

# access_token lives 7200 s; drop our copy early so nobody uses one about to expire.
TOKEN_EXPIRY_MARGIN = 300
TOKEN_LOCK_MS = 15_000  # longer than one token fetch may take (api_timeout is capped lower)
TOKEN_WAIT_SECONDS = 20.0  # how long a non-refresher waits for the refresher's token

# Dedupe claim of a MsgId while the message is being stored: short, so a crashed process
# does not make WeChat's retries be swallowed for long.
PENDING_CLAIM_SECONDS = 20
# How long the answer of a message stays available to WeChat's retries.
REPLY_MEMO_SECONDS = 600
# A retry that still sees the claim pending at its own deadline waits this much longer:
# the first delivery settles at its deadline, which is never later than the retry's.
PENDING_GRACE_SECONDS = 0.3
# How long the first delivery may take to store a message (image download included): WeChat's
# 5 s less the network's share. Not the passive-reply budget, which is much shorter.
STORE_SECONDS = 4.0
# Poll interval of a retried delivery waiting for the first delivery's outcome.
RETRY_POLL_SECONDS = 0.05

# The plain answer WeChat accepts as "received, nothing to say now".
SUCCESS = "success"

# Field limits: WeChat ids are short; anything longer is not from WeChat.
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 5000
