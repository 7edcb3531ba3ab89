"""argon2 off the event loop: a bounded pool that refuses at once when full."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ticketing.accounts import passwords
from ticketing.accounts.passwords import PasswordPool, PasswordsBusy


async def test_a_full_pool_refuses_at_once_and_frees_its_slots():
    pool = PasswordPool(threads=1, queue=1)
    gate = threading.Event()
    try:
        running = [asyncio.ensure_future(pool.run(gate.wait, 5)) for _ in range(2)]
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        with pytest.raises(PasswordsBusy):
            await pool.run(lambda: True)
        assert time.perf_counter() - started < 0.05  # refused, not queued
        gate.set()
        assert await asyncio.gather(*running) == [True, True]
        assert await pool.run(lambda: "again") == "again"  # the slots came back
    finally:
        gate.set()
        pool.shutdown()


async def test_hashing_leaves_the_event_loop_free():
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    try:
        started = time.perf_counter()
        hashed = await asyncio.gather(*(passwords.hash_password_async("a-good-password") for _ in range(4)))
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
    assert all(await asyncio.gather(*(passwords.verify_password(h, "a-good-password") for h in hashed)))
    # On the loop the ticker would not have run at all while the four hashes were computed.
    assert ticks >= elapsed / 0.005 / 4


async def test_no_hash_costs_a_verification_and_never_matches():
    assert await passwords.verify_password(None, "not-a-real-password-0000") is False
    assert await passwords.verify_password("not-an-argon2-hash", "x") is False


def test_configure_resizes_the_pool():
    before = passwords.pool()
    try:
        passwords.configure(3, 7)
        assert (passwords.pool().threads, passwords.pool().queue) == (3, 7)
    finally:
        passwords.configure(before.threads, before.queue)
