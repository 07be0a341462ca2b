"""Small local HTTP servers that speak just enough of the Bluesky (XRPC) and Mastodon APIs.

The real atproto and Mastodon.py clients talk to these over real sockets, so the SDKs' own request
building, error mapping and parsing are what the tests exercise. Each server counts every request.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


def fake_jwt(sub: str) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': sub, 'exp': int(time.time()) + 86400, 'scope': 'com.atproto.appPass'})}.c2ln"


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype and raw:
            body: Any = json.loads(raw)
        else:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()} if raw else {}
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        app = self.server.app
        with app.lock:
            app.calls[(method, url.path)] += 1
            app.requests.append((method, url.path, dict(self.headers), body, query))
            result = app.handle(method, url.path, query, body, dict(self.headers))
        if result is None:  # drop the connection: the client can't know what happened
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, payload, headers = result
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: "FakeApp"


class FakeApp:
    """Base: run with `with app.serving() as base_url:`; subclasses implement handle()."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.requests: list[tuple[str, str, dict[str, str], Any, dict[str, str]]] = []
        self.queue: list[tuple[int, Any, dict[str, str]] | None] = []  # scripted answers for the next post

    def handle(self, method: str, path: str, query: dict[str, str], body: Any,
               headers: dict[str, str]) -> tuple[int, Any, dict[str, str]] | None:
        raise NotImplementedError

    def serving(self):  # type: ignore[no-untyped-def]
        app = self

        class _Ctx:
            def __enter__(self) -> str:
                self.srv = _Server(("127.0.0.1", 0), _Handler)
                self.srv.app = app
                self.thread = threading.Thread(target=self.srv.serve_forever, args=(0.05,), daemon=True)
                self.thread.start()
                return f"http://127.0.0.1:{self.srv.server_address[1]}"

            def __exit__(self, *exc: Any) -> None:
                self.srv.shutdown()
                self.srv.server_close()

        return _Ctx()


class FakePDS(FakeApp):
    """A Bluesky PDS + AppView: sign in, profile, getPosts, createRecord (with rkey), getRecord."""

    did, account = "did:plc:brand123", "acmeair.bsky.social"

    def __init__(self) -> None:
        super().__init__()
        self.posts: dict[str, dict[str, Any]] = {}  # uri -> {"cid", "record"}
        self.deleted: set[str] = set()
        self.ours: dict[str, dict[str, Any]] = {}  # rkey -> record
        self.drop_after_create = False

    def add_post(self, uri: str, cid: str, reply_root: dict[str, str] | None = None) -> None:
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2026-11-01T00:00:00Z"}
        if reply_root:
            record["reply"] = {"root": reply_root, "parent": reply_root}
        self.posts[uri] = {"cid": cid, "record": record}

    def handle(self, method, path, query, body, headers):  # type: ignore[no-untyped-def]
        name = path.removeprefix("/xrpc/")
        if name == "com.atproto.server.createSession":
            if body.get("password") != "app-pass-1234":
                return 401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, {}
            return 200, {"did": self.did, "handle": self.account, "accessJwt": fake_jwt(self.did),
                         "refreshJwt": fake_jwt(self.did), "active": True}, {}
        if name == "app.bsky.actor.getProfile":
            return 200, {"did": self.did, "handle": self.account}, {}
        if name == "app.bsky.feed.getPosts":
            uri = query.get("uris")
            posts = []
            if uri in self.posts and uri not in self.deleted:
                p = self.posts[uri]
                posts.append({"uri": uri, "cid": p["cid"], "author": {"did": "did:plc:someone", "handle": "someone.bsky.social"},
                              "record": p["record"], "indexedAt": "2026-11-01T00:00:00Z"})
            return 200, {"posts": posts}, {}
        if name == "com.atproto.repo.createRecord":
            if self.queue:
                scripted = self.queue.pop(0)
                if scripted is None or scripted[0] != 200:
                    return scripted
            rkey = body.get("rkey") or f"auto{len(self.ours)}"
            if rkey in self.ours:
                return 400, {"error": "InvalidRequest", "message": f"Record already exists at {rkey}"}, {}
            parent = body["record"]["reply"]["parent"]["uri"]
            if parent in self.deleted:
                return 400, {"error": "InvalidRequest", "message": "Parent post not found"}, {}
            self.ours[rkey] = body["record"]
            if self.drop_after_create:
                self.drop_after_create = False
                return None
            return 200, {"uri": f"at://{self.did}/app.bsky.feed.post/{rkey}", "cid": f"bafyrei{rkey}"}, {}
        if name == "com.atproto.repo.getRecord":
            rkey = query.get("rkey", "")
            if rkey not in self.ours:
                return 400, {"error": "RecordNotFound", "message": f"Could not locate record: at://{self.did}/app.bsky.feed.post/{rkey}"}, {}
            return 200, {"uri": f"at://{self.did}/app.bsky.feed.post/{rkey}", "cid": f"bafyrei{rkey}",
                         "value": self.ours[rkey]}, {}
        return 404, {"error": "MethodNotImplemented", "message": name}, {}


class FakeMastodon(FakeApp):
    """A Mastodon instance: statuses (with Idempotency-Key), context, verify_credentials, instance."""

    me = {"id": "900", "username": "acmeair", "acct": "acmeair"}

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, dict[str, Any]] = {"111": {"id": "111", "account": {"id": "5", "acct": "bob@mastodon.social"},
                                                            "in_reply_to_id": None}}
        self.by_key: dict[str, str] = {}
        self.honour_keys = True
        self.drop_after_create = False
        self.next_id = 1000

    def _status(self, sid: str) -> dict[str, Any]:
        s = self.statuses[sid]
        return {"id": sid, "uri": f"https://brand.example/users/acmeair/statuses/{sid}",
                "url": f"https://brand.example/@acmeair/{sid}", "created_at": s.get("created_at", "2030-01-01T00:00:00.000Z"),
                "account": s["account"], "content": s.get("content", ""), "in_reply_to_id": s.get("in_reply_to_id"),
                "visibility": "public"}

    def handle(self, method, path, query, body, headers):  # type: ignore[no-untyped-def]
        if path == "/api/v1/statuses" and method == "POST":
            key = headers.get("Idempotency-Key")
            if self.honour_keys and key and key in self.by_key:
                return 200, self._status(self.by_key[key]), {}
            if self.queue:
                scripted = self.queue.pop(0)
                if scripted is None or scripted[0] != 200:
                    return scripted
            parent = str(body.get("in_reply_to_id"))
            if parent not in self.statuses:
                return 404, {"error": "Record not found"}, {}
            if len(body.get("status", "")) > 500:
                return 422, {"error": "Validation failed: Text character limit of 500 exceeded"}, {}
            sid = str(self.next_id)
            self.next_id += 1
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            self.statuses[sid] = {"account": self.me, "in_reply_to_id": parent, "content": body.get("status"),
                                  "created_at": now}
            if key:
                self.by_key[key] = sid
            if self.drop_after_create:
                self.drop_after_create = False
                return None
            return 200, self._status(sid), {}
        if path.startswith("/api/v1/statuses/") and path.endswith("/context"):
            sid = path.split("/")[4]
            if sid not in self.statuses:
                return 404, {"error": "Record not found"}, {}
            desc = [self._status(k) for k, s in self.statuses.items() if s.get("in_reply_to_id") == sid]
            return 200, {"ancestors": [], "descendants": desc}, {}
        if path == "/api/v1/accounts/verify_credentials":
            return 200, self.me, {}
        if path.rstrip("/") in ("/api/v2/instance", "/api/v1/instance"):
            return 200, {"domain": "brand.example", "version": "4.3.0",
                         "api_versions": {"mastodon": 2}, "configuration": {"statuses": {"max_characters": 500}}}, {}
        return 404, {"error": "not found"}, {}
