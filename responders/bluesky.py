"""Replies on Bluesky through the atproto SDK, exactly once by construction.

`Client.send_post(text, reply_to=ReplyRef(parent, root))` builds an `app.bsky.feed.post` record and
calls `com.atproto.repo.createRecord`. We build the same record and call createRecord ourselves, with
one addition send_post doesn't expose: the record key. It is a TID derived from the reply's idempotency
key, so a second attempt for the same reply can only hit "record already exists", and
`find_existing_reply` is one exact `getRecord` on our own repository (no feed scanning, no guessing).

Needs the brand account's handle and an app password (Settings → Privacy and security → App passwords).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from atproto import Client, models
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)

from responders.base import OutcomeUnknown, PostedReply, RateLimited, ReplyError, ReplyRejected, ReplyTarget
from responders.keys import posted_since, same_text, tid_for_key

log = logging.getLogger(__name__)
POST = "app.bsky.feed.post"
_URL_RE = re.compile(r"https?://[^\s<>\"]+")


def _detail(exc: RequestErrorBase) -> tuple[int | None, str, str]:
    """(status, error name, message) of an XRPC error."""
    resp = exc.response
    if resp is None:
        return None, "", str(exc) or type(exc).__name__
    content = resp.content
    name = getattr(content, "error", "") or (content.get("error", "") if isinstance(content, dict) else "")
    message = getattr(content, "message", "") or (content.get("message", "") if isinstance(content, dict) else "")
    return resp.status_code, str(name or ""), str(message or name or resp.status_code)


def _web_url(uri: str, handle: str | None) -> str | None:
    # at://did:plc:xyz/app.bsky.feed.post/3k... -> https://bsky.app/profile/<handle or did>/post/3k...
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3:
        return None
    return f"https://bsky.app/profile/{handle or parts[0]}/post/{parts[2]}"


def link_facets(text: str) -> list[models.AppBskyRichtextFacet.Main] | None:
    """Bluesky shows links as links only with a facet (UTF-8 byte offsets)."""
    facets = []
    for match in _URL_RE.finditer(text):
        start = len(text[: match.start()].encode("utf-8"))
        end = start + len(match.group(0).encode("utf-8"))
        facets.append(models.AppBskyRichtextFacet.Main(
            index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
            features=[models.AppBskyRichtextFacet.Link(uri=match.group(0))],
        ))
    return facets or None


class BlueskyResponder:
    platform = "bluesky"

    def __init__(self, client: Client, handle: str | None = None, app_password: str | None = None) -> None:
        self.client = client
        self.handle = handle
        self._password = app_password

    def _did(self) -> str:
        if self.client.me is None:
            if not (self.handle and self._password):
                raise ReplyRejected("Bluesky is not signed in: set the handle and an app password.")
            try:
                self.client.login(self.handle, self._password)
            except UnauthorizedError as exc:
                raise ReplyRejected("Bluesky rejected the handle or app password.") from exc
            except RequestErrorBase as exc:
                status, name, message = _detail(exc)
                if isinstance(exc, RateLimitExceededError):
                    raise RateLimited("Bluesky rate limit reached while signing in.", exc.reset_at) from exc
                raise ReplyError(f"Could not sign in to Bluesky: {message}") from exc
        assert self.client.me is not None
        self.handle = self.client.me.handle or self.handle
        return self.client.me.did

    def _refs(self, target: ReplyTarget) -> models.AppBskyFeedPost.ReplyRef:
        """Parent = the target post; root = the thread's first post (the target itself if it isn't a reply)."""
        raw = target.raw or {}
        cid = raw.get("cid")
        record = raw.get("record") if isinstance(raw.get("record"), dict) else None
        if cid and record is not None:
            root = (record.get("reply") or {}).get("root")
        elif cid and target.thread_id == target.external_id and not target.parent_id:
            root = None  # the target starts its thread (as collectors.bluesky records it)
        else:
            posts = self.client.get_posts([target.external_id]).posts
            if not posts:
                raise ReplyRejected("The post being answered was deleted (or is hidden from the brand account).")
            cid = posts[0].cid
            reply = getattr(posts[0].record, "reply", None)
            root = {"uri": reply.root.uri, "cid": reply.root.cid} if reply else None
        parent = models.ComAtprotoRepoStrongRef.Main(uri=target.external_id, cid=cid)
        root_ref = models.ComAtprotoRepoStrongRef.Main(uri=root["uri"], cid=root["cid"]) if root else parent
        return models.AppBskyFeedPost.ReplyRef(parent=parent, root=root_ref)

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        rkey = tid_for_key(idempotency_key)
        try:
            did = self._did()
            record = models.AppBskyFeedPost.Record(
                created_at=self.client.get_current_time_iso(), text=text, reply=self._refs(target),
                facets=link_facets(text), langs=[str((target.raw or {}).get("lang") or "en")[:2]],
            )
            created = self.client.app.bsky.feed.post.create(did, record, rkey=rkey)
        except RateLimitExceededError as exc:
            raise RateLimited("Bluesky rate limit reached for posting.", exc.reset_at) from exc
        except (UnauthorizedError, BadRequestError) as exc:
            status, name, message = _detail(exc)
            if rkey and isinstance(exc, BadRequestError):
                # Our record key is this reply's alone: if a record sits there, it is our earlier post.
                found = self.find_existing_reply(target, idempotency_key)
                if found:
                    return found
            if "not found" in message.lower() or name in ("NotFound", "RecordNotFound"):
                raise ReplyRejected("The post being answered was deleted.") from exc
            raise ReplyRejected(f"Bluesky refused the reply: {message}") from exc
        except NetworkError as exc:
            raise OutcomeUnknown(f"The connection to Bluesky broke while posting ({type(exc).__name__}).") from exc
        except RequestErrorBase as exc:
            status, name, message = _detail(exc)
            if status is not None and status >= 500:
                raise OutcomeUnknown(f"Bluesky answered {status} while posting.") from exc
            raise ReplyRejected(f"Bluesky refused the reply: {message}") from exc
        except AtProtocolError as exc:
            raise OutcomeUnknown(f"Bluesky failed while posting ({type(exc).__name__}).") from exc
        return PostedReply(platform_reply_id=created.uri, url=_web_url(created.uri, self.handle),
                           posted_at=datetime.now(timezone.utc))

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        """With a derived record key this is an exact lookup; older keys fall back to our author feed."""
        rkey = tid_for_key(idempotency_key)
        try:
            did = self._did()
            if rkey:
                try:
                    got = self.client.app.bsky.feed.post.get(did, rkey)
                except BadRequestError as exc:
                    status, name, message = _detail(exc)
                    if name == "RecordNotFound" or "could not locate record" in message.lower():
                        return None
                    raise
                return PostedReply(platform_reply_id=got.uri, url=_web_url(got.uri, self.handle))
            return self._scan_feed(did, target, idempotency_key, text)
        except RateLimitExceededError as exc:
            raise RateLimited("Bluesky rate limit reached while checking.", exc.reset_at) from exc
        except AtProtocolError as exc:
            raise OutcomeUnknown(f"Could not check Bluesky for an earlier reply ({exc}).") from exc

    def _scan_feed(self, did: str, target: ReplyTarget, key: str, text: str | None = None) -> PostedReply | None:
        since = posted_since(key)
        feed = self.client.get_author_feed(did, filter="posts_with_replies", limit=100).feed
        for item in feed:
            post = item.post
            reply = getattr(post.record, "reply", None)
            if reply and reply.parent.uri == target.external_id and same_text(getattr(post.record, "text", None), text):
                return PostedReply(platform_reply_id=post.uri, url=_web_url(post.uri, self.handle))
        if since is None or len(feed) >= 100:
            raise OutcomeUnknown("Could not rule out an earlier reply in the brand's recent Bluesky posts.")
        return None
