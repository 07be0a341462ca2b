"""Responders: post a reply where a mention lives (X, Reddit, Bluesky, Mastodon) or record it (dry run).

A leaf package: it never imports `careline`. Each platform module imports its own SDK only, so
`import responders` stays cheap; the core builds responders in `careline.factory.build_responder`.

`Responder.find_existing_reply(target, key, text)` answers the question asked after a crash between posting
and recording: it returns our reply (by its key, or its exact text: never an earlier reply of the brand)
when it finds it, None when it can tell that nothing was posted,
and raises a `ReplyError` (usually `OutcomeUnknown`) when it cannot tell; the outbox then leaves the
reply for a person rather than risk posting twice.
"""
from responders.base import (
    OutcomeUnknown,
    PostedReply,
    RateLimited,
    ReplyError,
    ReplyRejected,
    ReplyTarget,
    Responder,
)
from responders.dry_run import DryRunResponder

__all__ = [
    "DryRunResponder", "OutcomeUnknown", "PostedReply", "RateLimited", "ReplyError", "ReplyRejected",
    "ReplyTarget", "Responder",
]
