"""Redis commands of concurrent requests sent together: one pipeline per event-loop tick.

A hundred requests arriving together each XADD their message; sent one by one that is a hundred
round trips, each with its own reply parsing and task switches.  Here every command queued
during one pass of the event loop goes out in one pipeline (no MULTI: the commands are
independent), and each caller's future gets its own command's reply, or its own error.  A
caller still gets nothing before Redis has answered: an HTTP 202 (SMTP 250, WeChat reply) is
still sent only once the message is on the stream.

Scripts run by EVALSHA; a Redis that does not know the script (restarted, flushed) answers
NOSCRIPT, and those commands are sent again once the script is loaded.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError, ResponseError


@dataclass
class _Command:
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    script: str | None = None  # the body, for EVALSHA commands


class TickPipeline:
    """Queue commands; each tick's commands go out as one pipeline."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._queued: list[_Command] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def execute(self, *args: Any) -> Any:
        """One command (``"XADD", key, …``), sent with the others of this tick; its reply as Redis
        gave it (redis-py's per-command conversions are not applied: ``SET`` answers ``b"OK"``)."""
        return await self._submit(_Command(args, asyncio.get_running_loop().create_future()))

    async def evalsha(self, script: Script, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        command = _Command(("EVALSHA", script.sha, len(keys), *keys, *args),
                           asyncio.get_running_loop().create_future(), script.body)
        return await self._submit(command)

    async def _submit(self, command: _Command) -> Any:
        self._queued.append(command)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            # call_soon runs after every callback already ready in this tick: the requests that
            # arrived together have all queued their command by then.
            asyncio.get_running_loop().call_soon(self._flush)
        return await command.future

    def _flush(self) -> None:
        self._flush_scheduled = False
        commands, self._queued = self._queued, []
        if commands:
            task = asyncio.create_task(self._send(commands))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, commands: list[_Command]) -> None:
        try:
            replies = await self._round_trip(commands)
            unknown = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if unknown:
                for body in {commands[i].script for i in unknown if commands[i].script}:
                    await self.redis.script_load(body)
                again = await self._round_trip([commands[i] for i in unknown])
                for i, reply in zip(unknown, again):
                    replies[i] = reply
        except (RedisError, OSError) as exc:
            for command in commands:
                if not command.future.done():
                    command.future.set_exception(exc)
            return
        except BaseException as exc:  # cancelled while sending: no caller may wait forever
            for command in commands:
                if not command.future.done():
                    command.future.set_exception(RedisError(f"pipeline interrupted: {exc!r}"))
            raise
        for command, reply in zip(commands, replies):
            if command.future.done():
                continue  # its caller gave up (cancelled); the command ran anyway
            if isinstance(reply, Exception):
                command.future.set_exception(reply)
            else:
                command.future.set_result(reply)

    async def _round_trip(self, commands: list[_Command]) -> list[Any]:
        # One write and the replies read off a pooled connection, without redis-py's Pipeline
        # object (its queueing, response callbacks, observability hooks and reset cost more than the
        # round trip itself for a few commands).  The same retry as a pipeline's: the client's
        # policy, the connection dropped before each new try.
        pool = self.redis.connection_pool
        conn = await pool.get_connection()
        try:
            return await conn.retry.call_with_retry(lambda: _exchange(conn, commands), lambda _error: conn.disconnect())
        finally:
            await pool.release(conn)


async def _exchange(conn: Any, commands: list[_Command]) -> list[Any]:
    await conn.send_packed_command(conn.pack_commands([command.args for command in commands]))
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(await conn.read_response())
        except ResponseError as exc:  # this command's own error; the connection is still in step
            replies.append(exc)
    # Any other failure (timeout, reset, cancellation) left the connection mid-reply: redis-py's
    # read_response has closed it, so it never goes back to the pool out of step.
    return replies


class Script:
    """A Lua script known by its SHA1 (computed here: no round trip is needed to learn it)."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA1
