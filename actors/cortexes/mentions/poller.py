"""MentionsPoller: one shared actor per X account, fanning new mentions out to every
subscribed cortex (many eyes, one polling loop, one rate limit).

Cortexes find it by thespian globalName and renew their subscription now and then; a
subscription not renewed expires (its session ended without a word). With no
subscriber left, the poller stops polling and exits. The newest id seen is kept on
disk, so a restarted brain announces nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import timedelta
from pathlib import Path

from thespian.actors import ActorExitRequest, WakeupMessage

from actors.async_worker import AsyncWorker
from actors.cortexes.mentions.messages import NewMentions, Subscribe, Unsubscribe
from actors.dataplane.watching import Watching
from actors.files import write_json_atomically
from actors.specs import MentionsSettings

__all__ = ["MentionsPoller", "poller_name"]

log = logging.getLogger(__name__)

#: A subscription lapses after this many of its renewal periods without a renewal.
SUBSCRIPTION_TTL_S = 90.0


def poller_name(user_id: str) -> str:
    return f"cortical-x-mentions-{user_id}"


class MentionsPoller(Watching):
    def __init__(self) -> None:
        super().__init__()
        self.settings: MentionsSettings | None = None
        # [address, last renewal (monotonic)]; thespian addresses compare but do not hash
        self.subscribers: list[list] = []
        self.worker: AsyncWorker | None = None
        self.http = None
        self.since_id: str | None = None
        self.failures = 0
        self.polling = False
        self.timer_set = False
        self.stopped = False

    # -- subscriptions -----------------------------------------------------------------

    def receiveMsg_Subscribe(self, message: Subscribe, sender) -> None:
        if self.stopped:
            return
        for entry in self.subscribers:
            if entry[0] == sender:
                entry[1] = time.monotonic()
                break
        else:
            self.subscribers.append([sender, time.monotonic()])
        if self.settings is None:
            self.settings = message.settings
            self.since_id = self._load_since_id()
            self.worker = AsyncWorker(f"x-mentions-{self.settings.user_id}")
            self.watch_file(self.worker.fileno, self._collect)
            log.info(
                "polling X mentions of user %s every %.0f s for %d subscriber(s)",
                self.settings.user_id,
                self.settings.poll_every_s,
                len(self.subscribers),
            )
            self._poll()

    def receiveMsg_Unsubscribe(self, message: Unsubscribe, sender) -> None:
        self.subscribers = [entry for entry in self.subscribers if entry[0] != sender]
        self._stop_if_alone()

    def _stop_if_alone(self) -> None:
        now = time.monotonic()
        self.subscribers = [entry for entry in self.subscribers if now - entry[1] < SUBSCRIPTION_TTL_S]
        if not self.subscribers and not self.stopped:
            self.stopped = True
            if self.worker is not None:
                self.unwatch_file(self.worker.fileno)
            log.info("no subscriber left for X user %s: polling stops", self.settings.user_id if self.settings else "?")
            self.send(self.myAddress, ActorExitRequest())

    # -- polling -------------------------------------------------------------------------

    def _poll(self) -> None:
        from actors.cortexes.mentions.x_api import fetch_mentions

        token = os.environ.get(self.settings.token_env, "")
        if not token:
            log.warning(
                "X mentions for user %s: the environment variable %s holding the X bearer token is not set",
                self.settings.user_id,
                self.settings.token_env,
            )
            self._schedule()
            return
        self.polling = True
        settings, since_id = self.settings, self.since_id

        async def fetch():
            import aiohttp

            if self.http is None:
                self.http = aiohttp.ClientSession()
            return await fetch_mentions(
                self.http, settings.base_url, settings.user_id, token, since_id, settings.max_pages, settings.timeout_s
            )

        self.worker.submit(fetch, tag="poll")

    def _collect(self) -> None:
        for _, result, error in self.worker.collect():
            self.polling = False
            self._on_polled(result, error)

    def _on_polled(self, fetched, error) -> None:
        from actors.cortexes.mentions.x_api import XApiError

        if self.stopped:
            return
        if error is not None:
            self.failures += 1
            reason = str(error) if isinstance(error, XApiError) else f"{type(error).__name__}: {error}"
            log.warning(
                "X mentions poll for user %s failed (%d in a row): %s", self.settings.user_id, self.failures, reason
            )
            self._schedule(retry_at=getattr(error, "retry_at", None))
            return
        self.failures = 0
        first_poll = self.since_id is None
        if fetched.mentions and (not first_poll or self.settings.announce_backlog):
            news = NewMentions(self.settings.user_id, tuple(fetched.mentions))
            for subscriber, _ in self.subscribers:
                self.send(subscriber, news)
        if fetched.newest_id and fetched.newest_id != self.since_id:
            self.since_id = fetched.newest_id
            self._save_since_id()
        self._schedule(rate_remaining=fetched.rate_remaining, rate_reset=fetched.rate_reset)

    def _schedule(self, rate_remaining=None, rate_reset=None, retry_at=None) -> None:
        from actors.cortexes.mentions.x_api import next_poll_in

        delay = next_poll_in(
            time.time(),
            self.settings.poll_every_s,
            self.failures,
            self.settings.max_backoff_s,
            rate_remaining,
            rate_reset,
            retry_at,
        )
        if not self.timer_set:
            self.timer_set = True
            self.wakeupAfter(timedelta(seconds=delay))  # (its only timer: no payload to tell)

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender) -> None:
        self.timer_set = False
        self._stop_if_alone()
        if not self.stopped and not self.polling:
            self._poll()

    # -- state ---------------------------------------------------------------------------

    def _state_file(self) -> Path:
        return Path(self.settings.state_dir) / f"x-mentions-{self.settings.user_id}.json"

    def _load_since_id(self) -> str | None:
        try:
            return json.loads(self._state_file().read_text(encoding="utf-8")).get("since_id")
        except (OSError, ValueError):
            return None

    def _save_since_id(self) -> None:
        write_json_atomically(self._state_file(), {"since_id": self.since_id, "saved": time.time()})

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender) -> None:
        self.stopped = True
        if self.worker is not None:
            self.unwatch_file(self.worker.fileno)
            if self.http is not None:
                try:
                    self.worker.run(self.http.close, 5)
                except Exception:
                    pass
            self.worker.close()
            self.worker = None
