"""Builds sources, the classifier and responders from settings: the one place platform clients are made.

Everything else receives these objects, so tests hand in clients pointed at recorded HTTP.
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache

from careline.errors import ConfigError
from careline.settings import Settings
from classify.base import Classifier, ModelError
from collectors.base import Source

log = logging.getLogger(__name__)


def build_source(name: str, settings: Settings, demo_anchor: datetime | None = None) -> Source:
    if name == "demo":
        from collectors.demo import DemoSource

        return DemoSource(anchor=demo_anchor)
    if name == "x":
        from collectors.x import XSource

        return XSource.from_settings(settings)
    if name == "reddit":
        from collectors.reddit import RedditSource

        return RedditSource.from_settings(settings)
    if name == "bluesky":
        from collectors.bluesky import BlueskySource

        return BlueskySource.from_settings(settings)
    if name == "mastodon":
        from collectors.mastodon import MastodonSource

        return MastodonSource.from_settings(settings)
    if name == "hackernews":
        from collectors.hackernews import HackerNewsSource

        return HackerNewsSource.from_settings(settings)
    raise ConfigError(f"Unknown source {name!r}.")


def build_stream(name: str, settings: Settings, engine: object = None) -> tuple[object, str]:
    """A real-time stream collector and the platform its mentions belong to."""
    if name == "jetstream":
        from collectors.jetstream import JetstreamStream

        resolve = None
        if settings.jetstream_resolve_handles:
            from collectors.bluesky import ProfileResolver

            resolve = ProfileResolver()
        return JetstreamStream(settings.jetstream_urls, compress=settings.jetstream_compress,
                               dictionary=settings.jetstream_zstd_dictionary,
                               rewind_s=settings.stream_rewind_seconds,
                               flush_s=settings.stream_flush_seconds, resolve=resolve), "bluesky"
    if name == "mastodon":
        return _mastodon_stream(settings), "mastodon"
    raise ConfigError(f"Unknown stream {name!r}.")


def _mastodon_stream(settings: Settings):  # type: ignore[no-untyped-def]
    from mastodon import Mastodon

    from collectors.mastodon_stream import Instance, MastodonStream

    bases = ([settings.mastodon_base_url] if settings.mastodon_base_url else []) + settings.mastodon_stream_instances
    if not bases:
        raise ConfigError("Mastodon streaming needs CARELINE_MASTODON_BASE_URL (e.g. https://mastodon.social).")
    instances = []
    for base in dict.fromkeys(b.rstrip("/") for b in bases):
        given = settings.mastodon_stream_tokens.get(base)
        token = given.get_secret_value() if given is not None else (
            settings.secret("mastodon_access_token") if base == (settings.mastodon_base_url or "").rstrip("/") else None)
        client = Mastodon(api_base_url=base, access_token=token, ratelimit_method="throw", request_timeout=30,
                          version_check_mode="none")
        instances.append(Instance(base_url=base, client=client, token=token))
    return MastodonStream(instances, hashtags=settings.mastodon_hashtags, flush_s=settings.stream_flush_seconds)


@lru_cache(maxsize=4)
def _cached_classifier(name: str, label_map: tuple[tuple[str, str], ...],
                       language_models: tuple[tuple[str, str], ...] = (),
                       language_label_map: tuple[tuple[str, str], ...] = ()) -> Classifier:
    from classify import load_classifier

    return load_classifier(name, label_map=dict(label_map) or None, language_models=dict(language_models) or None,
                           language_label_map=dict(language_label_map) or None)


def build_classifier(settings: Settings) -> Classifier:
    try:
        return _cached_classifier(settings.model, tuple(sorted(settings.model_label_map.items())),
                                  tuple(sorted(settings.language_models.items())),
                                  tuple(sorted(settings.language_model_label_map.items())))
    except ModelError as exc:
        raise ConfigError(f"Cannot load the classifier {settings.model!r}: {exc}") from exc


# Settings that must all be present before Careline may post on a platform; otherwise it dry-runs.
WRITE_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "x": ("x_consumer_key", "x_consumer_secret", "x_access_token", "x_access_token_secret"),
    "reddit": ("reddit_client_id", "reddit_client_secret", "reddit_username", "reddit_password"),
    "bluesky": ("bluesky_handle", "bluesky_app_password"),
    "mastodon": ("mastodon_base_url", "mastodon_access_token"),
}


def dry_run_reason(platform: str, settings: Settings) -> str | None:
    """Why replies on this platform would only be recorded, or None when they will be published."""
    if settings.dry_run:
        return "CARELINE_DRY_RUN is on"
    need = WRITE_CREDENTIALS.get(platform)
    if need is None:
        return f"Careline cannot post on {platform}"
    missing = [f"CARELINE_{n.upper()}" for n in need if getattr(settings, n, None) in (None, "")]
    return f"{', '.join(missing)} not set" if missing else None


def build_responder(platform: str, settings: Settings):  # type: ignore[no-untyped-def]
    """The platform's Responder, or the dry-run one until its write credentials are configured."""
    from responders.dry_run import DryRunResponder

    reason = dry_run_reason(platform, settings)
    if reason:
        return DryRunResponder(platform, reason)
    if platform == "x":
        from responders.x import XResponder

        return XResponder.from_settings(settings)
    if platform == "reddit":
        from responders.reddit import RedditResponder

        return RedditResponder.from_settings(settings)
    if platform == "bluesky":
        from responders.bluesky import BlueskyResponder

        return BlueskyResponder.from_settings(settings)
    if platform == "mastodon":
        from responders.mastodon import MastodonResponder

        return MastodonResponder.from_settings(settings)
    raise ConfigError(f"Unknown platform {platform!r}.")
