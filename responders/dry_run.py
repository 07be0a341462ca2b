"""The dry-run responder: records what would have been posted and publishes nothing.

It is what Careline uses for a platform until write credentials are configured (or when the dry-run
setting is on; careline/factory.py decides). The outbox marks the reply row `dry_run`, so the dashboard and the CLI can say
plainly that nothing was published.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from responders.base import PostedReply, ReplyTarget

log = logging.getLogger(__name__)


class DryRunResponder:
    def __init__(self, platform: str, reason: str = "dry run") -> None:
        self.platform = platform
        self.reason = reason
        self.recorded: list[tuple[ReplyTarget, str, str]] = []

    def reply(self, target: ReplyTarget, text: str, idempotency_key: str) -> PostedReply:
        self.recorded.append((target, text, idempotency_key))
        log.info("dry run (%s): would reply to %s %s (%d chars)", self.reason, self.platform,
                 target.external_id, len(text))
        return PostedReply(platform_reply_id=f"dry-run-{idempotency_key[:12]}", url=None,
                           posted_at=datetime.now(timezone.utc), dry_run=True)

    def find_existing_reply(self, target: ReplyTarget, idempotency_key: str,
                            text: str | None = None) -> PostedReply | None:
        # Nothing was ever published, so "posting" again is harmless and records the same id.
        return None
