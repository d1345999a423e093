"""POST an alert to the configured webhook, retrying with backoff (on the cortex's async
worker: a slow or dead webhook never holds up the eye)."""

from __future__ import annotations

import asyncio

__all__ = ["deliver"]


async def deliver(url: str, payload: dict, retries: int, backoff_s: float, timeout_s: float) -> int:
    """The attempt that succeeded (1 = first); raises the last error after `retries` more."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(1, retries + 2):
            try:
                async with session.post(url, json=payload) as response:
                    if response.status < 300:
                        return attempt
                    error: Exception = RuntimeError(f"the webhook answered HTTP {response.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = exc
            if attempt <= retries:
                await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    raise error
