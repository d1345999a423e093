"""The X API v2 mentions endpoint: fetching pages (aiohttp) and reading them (pure).

GET {base}/2/users/:id/mentions with a bearer token, `since_id` so nothing is seen
twice, `pagination_token` for the following pages. Rate limits come in the
x-rate-limit-remaining / x-rate-limit-reset headers and as HTTP 429.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import aiohttp

from actors.cortexes.mentions.messages import Mention

__all__ = ["XApiError", "Fetched", "parse_page", "fetch_mentions", "next_poll_in"]

FIELDS = {"tweet.fields": "created_at,author_id", "expansions": "author_id", "user.fields": "username"}


class XApiError(Exception):
    """A failed poll; `retry_at` (unix time) is set when the API said when to come back."""

    def __init__(self, message: str, retry_at: float | None = None):
        super().__init__(message)
        self.retry_at = retry_at


@dataclass
class Fetched:
    mentions: list[Mention] = field(default_factory=list)  # oldest first
    newest_id: str | None = None
    rate_remaining: int | None = None
    rate_reset: float | None = None  # unix time


def _newer(a: str | None, b: str | None) -> str | None:
    """The larger of two snowflake ids (compared as numbers: they outgrow 2**53 as text too)."""
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


def parse_page(body: object) -> tuple[list[Mention], str | None, str | None]:
    """One page of the mentions response → (mentions newest first, newest id, next token).

    Raises ValueError for bodies that are not shaped as the API documents.
    """
    if not isinstance(body, dict):
        raise ValueError("the response is not a JSON object")
    if "errors" in body and "data" not in body and body.get("meta", {}).get("result_count", 1) != 0:
        raise ValueError(f"the API returned errors: {json.dumps(body['errors'])[:300]}")
    meta = body.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError("meta is not an object")
    users = {
        u.get("id"): u.get("username", "") for u in body.get("includes", {}).get("users", []) if isinstance(u, dict)
    }
    mentions = []
    for tweet in body.get("data", []) or []:
        if (
            not isinstance(tweet, dict)
            or not isinstance(tweet.get("id"), str)
            or not isinstance(tweet.get("text"), str)
        ):
            raise ValueError(f"a tweet without id or text: {str(tweet)[:200]}")
        int(tweet["id"])  # ids are decimal strings; anything else is malformed
        author = str(tweet.get("author_id", ""))
        mentions.append(
            Mention(tweet["id"], tweet["text"], author, users.get(author, ""), str(tweet.get("created_at", "")))
        )
    newest = meta.get("newest_id")
    for mention in mentions:
        newest = _newer(newest, mention.id)
    return mentions, newest, meta.get("next_token")


def _rate(headers) -> tuple[int | None, float | None]:
    try:
        remaining = int(headers["x-rate-limit-remaining"]) if "x-rate-limit-remaining" in headers else None
        reset = float(headers["x-rate-limit-reset"]) if "x-rate-limit-reset" in headers else None
    except ValueError:
        return None, None
    return remaining, reset


async def fetch_mentions(
    http: aiohttp.ClientSession,
    base_url: str,
    user_id: str,
    token: str,
    since_id: str | None,
    max_pages: int,
    timeout_s: float,
) -> Fetched:
    """Every mention newer than since_id (all pages, at most max_pages), oldest first."""
    url = f"{base_url.rstrip('/')}/2/users/{user_id}/mentions"
    fetched = Fetched()
    collected: list[Mention] = []
    token_param: str | None = None
    for _ in range(max_pages):
        params = {**FIELDS, "max_results": "100"}
        if since_id:
            params["since_id"] = since_id
        if token_param:
            params["pagination_token"] = token_param
        try:
            async with http.get(
                url,
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                remaining, reset = _rate(response.headers)
                fetched.rate_remaining, fetched.rate_reset = remaining, reset
                if response.status == 429:
                    raise XApiError("rate limited (HTTP 429)", retry_at=reset)
                if response.status >= 500:
                    raise XApiError(f"server error (HTTP {response.status})")
                if response.status in (401, 403):
                    raise XApiError(f"the bearer token was refused (HTTP {response.status}); check it")
                if response.status != 200:
                    raise XApiError(f"unexpected HTTP {response.status}")
                text = await response.text()
        except TimeoutError:
            raise XApiError(f"no answer within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise XApiError(f"connection failed ({type(exc).__name__}: {exc})") from None
        try:
            mentions, newest, token_param = parse_page(json.loads(text))
        except (ValueError, TypeError) as exc:
            raise XApiError(f"malformed response ({exc})") from None
        collected.extend(mentions)
        fetched.newest_id = _newer(fetched.newest_id, newest)
        if not token_param:
            break
    collected.sort(key=lambda m: int(m.id))
    fetched.mentions = collected
    return fetched


def next_poll_in(
    now: float,
    every_s: float,
    failures: int,
    max_backoff_s: float,
    rate_remaining: int | None = None,
    rate_reset: float | None = None,
    retry_at: float | None = None,
) -> float:
    """Seconds until the next poll: the interval, backed off after failures, and never
    before the API's reset time once the rate limit is spent."""
    delay = every_s if failures == 0 else min(every_s * 2**failures, max_backoff_s)
    wait_until = retry_at if retry_at is not None else (rate_reset if rate_remaining == 0 else None)
    if wait_until is not None:
        delay = max(delay if failures == 0 else 0.0, wait_until - now + 0.5)
    return max(delay, 0.05)
