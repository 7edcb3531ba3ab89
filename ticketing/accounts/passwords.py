"""argon2 password hashing in a small thread pool with a bounded queue.

argon2 is deliberately slow (tens of milliseconds of CPU and 64 MB per hash).  On the event
loop, a burst of anonymous logins stalled every other request of the process; in threads
(argon2-cffi releases the GIL) the loop keeps serving.  The queue in front of the threads is
bounded so a flood is refused at once (:class:`PasswordsBusy`) instead of piling up work that
would finish long after the clients gave up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from config.settings import Settings

T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when there is no usable hash (unknown username, malformed name), so a miss
# costs as long as a wrong password and response times do not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


class PasswordsBusy(RuntimeError):
    """Every hashing thread is busy and the queue is full: try again in a moment."""


class PasswordPool:
    """``threads`` hashing at once, at most ``queue`` more waiting; the rest are refused."""

    def __init__(self, threads: int, queue: int) -> None:
        self.threads, self.queue = threads, queue
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")
        self._slots = threading.BoundedSemaphore(threads + queue)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if not self._slots.acquire(blocking=False):
            raise PasswordsBusy("password hashing queue is full")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            # Released when the hash is done, even if the awaiting request was cancelled meanwhile:
            # the thread still works on it, so the slot is still taken until then.
            self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _defaults() -> tuple[int, int]:
    fields = Settings.model_fields
    return int(fields["password_threads"].default), int(fields["password_queue"].default)


_pool = PasswordPool(*_defaults())


def configure(threads: int, queue: int) -> None:
    """Size the process's pool (HOTLINE_PASSWORD_THREADS, HOTLINE_PASSWORD_QUEUE); called at start-up."""
    global _pool
    if (threads, queue) == (_pool.threads, _pool.queue):
        return
    old, _pool = _pool, PasswordPool(threads, queue)
    old.shutdown()


def pool() -> PasswordPool:
    return _pool


def _verify_sync(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(hash_: str | None, password: str) -> bool:
    """Whether ``password`` matches ``hash_``; without a hash, the same work against a dummy, and False."""
    matched = await _pool.run(_verify_sync, hash_ or _DUMMY_HASH, password)
    return matched and hash_ is not None


async def hash_password_async(password: str) -> str:
    return await _pool.run(_hasher.hash, password)


def needs_rehash(hash_: str) -> bool:
    return _hasher.check_needs_rehash(hash_)
