"""The connector's own Redis keys: MsgId dedupe, the answer memo, the delivery claim.

All keys live under the ``key_prefix`` the gateway hands over (its private connector
namespace), so this module is the only place that knows their shape:

``{p}:msg:{native_id}``     dedupe claim. ``pending:<uuid>`` while the first delivery stores
                            the message and waits for the answer (short TTL, so a crashed
                            process does not swallow WeChat's retries), then
                            ``published:<entry id>`` (dedupe TTL).
``{p}:reply:{native_id}``   the answer text, for WeChat's retries of the same MsgId.
``{p}:sent:{native_id}``    ``passive`` or ``deferred``: whoever sets it (SET NX) is the one
                            that delivers the answer. Exactly one of the two ever sends.
``{p}:token:{app_id}``      the shared access_token (see outbound.py)
``{p}:token-lock:{app_id}`` the lock of the one refresher (see outbound.py; a redis-py Lock)
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError

from connectors.wechat.const import PENDING_CLAIM_SECONDS, REPLY_MEMO_SECONDS

# The pending claim is a plain ``redis.asyncio.lock.Lock`` (its token is the pending mark); this
# script is more than a lock: it turns the claim into the long 'published' mark only while we
# still own it AND stores the answer AND claims its delivery, atomically, so a retry that reads
# in between never sees a published message without its answer or two senders of one answer.
# Everything that happens once a message is stored, in one round trip: turn the pending
# claim into the long 'published' mark (only if we still own it), remember the answer
# for retries, and claim the right to deliver it. Returns the holder of that right.
#   KEYS: msg, reply, sent
#   ARGV: owner ('' = not the claim owner), published value, dedupe ttl,
#         answer ('' = none), memo ttl, how ('passive' | 'deferred')
_SETTLE = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
end
if ARGV[4] == '' then
  return false
end
redis.call('SET', KEYS[2], ARGV[4], 'EX', tonumber(ARGV[5]))
if redis.call('SET', KEYS[3], ARGV[6], 'NX', 'EX', tonumber(ARGV[3])) then
  return ARGV[6]
end
return redis.call('GET', KEYS[3])
"""


def text_of(value: Any) -> str | None:
    """The gateway's client may or may not decode responses: accept both."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


@dataclass(frozen=True)
class Claim:
    """The first delivery's hold on a MsgId: a Redis lock whose token is the pending mark."""

    native_id: str
    owner: str  # the pending:<uuid> value
    lock: Lock


class MessageState:
    def __init__(self, redis: aioredis.Redis, key_prefix: str, *, dedupe_ttl: int) -> None:
        self.redis = redis
        self.prefix = key_prefix.rstrip(":")
        self.dedupe_ttl = dedupe_ttl
        self._settle = redis.register_script(_SETTLE)

    # key names ---------------------------------------------------------------------

    def msg_key(self, native_id: str) -> str:
        return f"{self.prefix}:msg:{native_id}"

    def reply_key(self, native_id: str) -> str:
        return f"{self.prefix}:reply:{native_id}"

    def sent_key(self, native_id: str) -> str:
        return f"{self.prefix}:sent:{native_id}"

    # dedupe ------------------------------------------------------------------------

    async def claim(self, native_id: str) -> Claim | None:
        """Claim a MsgId for publishing; None if another delivery holds or did it."""
        owner = f"pending:{uuid.uuid4().hex}"
        lock = self.redis.lock(self.msg_key(native_id), timeout=PENDING_CLAIM_SECONDS, thread_local=False)
        if not await lock.acquire(blocking=False, token=owner):
            return None
        return Claim(native_id, owner, lock)

    async def settle(
        self,
        native_id: str,
        *,
        claim: Claim | None = None,
        entry_id: str = "",
        answer: str | None = None,
        how: str = "passive",
    ) -> str | None:
        """Mark the message published (if ``claim``), and if there is an ``answer``,
        remember it and claim its delivery for ``how``.  Returns who delivers it
        (``passive``/``deferred``), or None without an answer."""
        holder = await self._settle(
            keys=[self.msg_key(native_id), self.reply_key(native_id), self.sent_key(native_id)],
            args=[
                claim.owner if claim else "",
                f"published:{entry_id}",
                self.dedupe_ttl,
                answer.encode("utf-8") if answer else b"",
                REPLY_MEMO_SECONDS,
                how,
            ],
        )
        if not answer:
            return None
        return text_of(holder) or "expired"  # gone only if the TTL ran out long ago

    async def release(self, claim: Claim) -> None:
        """Publishing failed: let WeChat's retry try again."""
        with contextlib.suppress(LockNotOwnedError):  # lapsed (and maybe retaken by a retry): not ours
            await claim.lock.release()

    async def snapshot(self, native_id: str) -> tuple[str | None, str | None, str | None]:
        """(dedupe status, remembered answer, delivery holder) in one round trip."""
        status, reply, sent = await self.redis.mget(
            self.msg_key(native_id), self.reply_key(native_id), self.sent_key(native_id)
        )
        return text_of(status), text_of(reply), text_of(sent)

    async def claim_delivery(self, native_id: str, how: str) -> str:
        """Claim the right to deliver the answer; returns who holds it ("passive"/"deferred")."""
        key = self.sent_key(native_id)
        if await self.redis.set(key, how, nx=True, ex=self.dedupe_ttl):
            return how
        holder = text_of(await self.redis.get(key))
        # Gone only if the TTL ran out long after the fact: then nobody sends any more.
        return holder or "expired"
