"""A small HTTP server on 127.0.0.1 that speaks the X API v2 mentions endpoint.

GET /2/users/:id/mentions with bearer auth, since_id, max_results, pagination_token,
responses shaped as the API documents them (data, includes.users, meta with
newest_id / oldest_id / result_count / next_token) and the x-rate-limit-* headers.
Tests script faults (429, 5xx, slow, malformed bodies) through `faults`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeX:
    def __init__(self, user_id: str = "2244994945", token: str = "x-test-token"):
        self.user_id = user_id
        self.token = token
        self.tweets: list[dict] = []
        self.users = {"101": "alice", "102": "bob"}
        self.page_size = 100
        self.faults: list[str] = []  # "429", "500", "slow", "malformed", "rate-spent"
        self.slow_s = 2.0
        self.requests: list[dict] = []
        self.rate_remaining = 450
        self.reset_in_s = 1.0
        self._next_id = 1_460_323_737_035_677_698  # realistic 19-digit snowflakes
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                status, headers, body = fake.handle(self.path, self.headers.get("Authorization", ""))
                payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def mention(self, text: str, author: str = "101") -> str:
        self._next_id += 1000
        tweet = {
            "id": str(self._next_id),
            "text": text,
            "author_id": author,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "edit_history_tweet_ids": [],
        }
        tweet["edit_history_tweet_ids"].append(tweet["id"])
        self.tweets.append(tweet)
        return tweet["id"]

    def mention_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/mentions")]

    def handle(self, raw_path: str, authorization: str):
        url = urlparse(raw_path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append({"path": url.path, "query": query, "at": time.monotonic(), "auth": authorization})
        reset = str(int(time.time() + self.reset_in_s))
        headers = {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": str(self.rate_remaining),
            "x-rate-limit-reset": reset,
        }
        if url.path != f"/2/users/{self.user_id}/mentions":
            return (
                404,
                {},
                {"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"},
            )
        if authorization != f"Bearer {self.token}":
            return 401, {}, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
        fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            return 429, {**headers, "x-rate-limit-remaining": "0"}, {"title": "Too Many Requests", "status": 429}
        if fault == "500":
            return 503, {}, {"title": "Service Unavailable", "status": 503}
        if fault == "malformed":
            return 200, headers, '{"data": [{"id": "12'
        if fault == "slow":
            time.sleep(self.slow_s)
        if fault == "rate-spent":
            headers["x-rate-limit-remaining"] = "0"
        since = int(query.get("since_id", "0"))
        newest_first = sorted((t for t in self.tweets if int(t["id"]) > since), key=lambda t: -int(t["id"]))
        offset = int(query.get("pagination_token", "0") or 0)
        size = min(int(query.get("max_results", "10")), self.page_size)
        page = newest_first[offset : offset + size]
        if not page:
            return 200, headers, {"meta": {"result_count": 0}}
        meta = {"result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if offset + size < len(newest_first):
            meta["next_token"] = str(offset + size)
        authors = sorted({t["author_id"] for t in page})
        users = [
            {"id": a, "username": self.users.get(a, f"user{a}"), "name": self.users.get(a, a).title()} for a in authors
        ]
        return 200, headers, {"data": page, "includes": {"users": users}, "meta": meta}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
