"""Run the app's background services without an HTTP listener (``hotline worker``)."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web


async def run_services(app: web.Application) -> None:
    """Start the app's cleanup contexts, wait for SIGINT/SIGTERM, then stop them."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # runs the cleanup_ctx start-up halves
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
