"""Builds sources, the classifier and responders from settings: the one place platform clients are made.

Everything else receives these objects, so tests hand in clients pointed at recorded HTTP. This is also the
one module that knows the `CARELINE_*` names of the platform settings: it tells each collector where its
credentials come from (`credentials=`), so a refused login names the variable to check
(tests/test_structure.py keeps the platform folders free of them).
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import SecretStr

from careline.errors import ConfigError
from careline.settings import Settings, env_name
from classify.base import Classifier, ModelError
from collectors.base import Source
from collectors.stream import Stream
from responders.base import Responder

log = logging.getLogger(__name__)


# Where each platform's credentials are configured, as the collectors' refusal messages say it.
X_APP_CREDENTIALS = env_name("x_bearer_token")
X_USER_CREDENTIALS = f"{env_name('x_consumer_key')}/SECRET and {env_name('x_access_token')}/SECRET"
REDDIT_CREDENTIALS = (f"{env_name('reddit_client_id')}/SECRET and, for a script app, "
                      f"{env_name('reddit_username')}/PASSWORD")
BLUESKY_CREDENTIALS = f"{env_name('bluesky_handle')} and {env_name('bluesky_app_password')}"
MASTODON_CREDENTIALS = env_name("mastodon_access_token")


def _require(settings: Settings, platform: str, *fields: str, hint: str = "") -> None:
    """A source that cannot even sign in fails with the variables to set (AuthFailed: marked unhealthy)."""
    from collectors.base import AuthFailed

    missing = []
    for field in fields:
        value = getattr(settings, field, None)
        if not (value.get_secret_value() if isinstance(value, SecretStr) else value):
            missing.append(field)
    if missing:
        raise AuthFailed(f"{platform} needs {' and '.join(env_name(f) for f in missing)}{hint}.")


def build_source(name: str, settings: Settings, demo_anchor: datetime | None = None) -> Source:
    if name == "demo":
        from collectors.demo import DemoSource

        return DemoSource(anchor=demo_anchor)
    if name == "x":
        return _x_source(settings)
    if name == "reddit":
        return _reddit_source(settings)
    if name == "bluesky":
        from atproto import Client

        from collectors.bluesky import BlueskySource

        _require(settings, "Bluesky", "bluesky_handle", "bluesky_app_password")
        return BlueskySource(Client(), settings.bluesky_handle, settings.secret("bluesky_app_password"),
                             credentials=BLUESKY_CREDENTIALS)
    if name == "mastodon":
        from collectors.mastodon import MastodonSource

        _require(settings, "Mastodon", "mastodon_base_url", hint=" (e.g. https://mastodon.social)")
        return MastodonSource(_mastodon_client(settings.mastodon_base_url or "",
                                               settings.secret("mastodon_access_token")),
                              hashtags=list(settings.mastodon_hashtags), credentials=MASTODON_CREDENTIALS)
    if name == "hackernews":
        import requests

        from collectors.hackernews import HackerNewsSource

        session = requests.Session()
        session.headers["User-Agent"] = settings.reddit_user_agent
        return HackerNewsSource(session)
    raise ConfigError(f"Unknown source {name!r}.")


def _x_source(settings: Settings) -> Source:
    import tweepy

    from collectors.x import XSource

    _require(settings, "X", "x_bearer_token", hint=" (the app's bearer token from developer.x.com)")
    client = tweepy.Client(bearer_token=settings.secret("x_bearer_token"))
    keys = [settings.secret(k) for k in ("x_consumer_key", "x_consumer_secret", "x_access_token",
                                        "x_access_token_secret")]
    user_client = (tweepy.Client(consumer_key=keys[0], consumer_secret=keys[1], access_token=keys[2],
                                 access_token_secret=keys[3]) if all(keys) else None)
    return XSource(client, user_client, app_credentials=X_APP_CREDENTIALS, user_credentials=X_USER_CREDENTIALS)


def _reddit_source(settings: Settings) -> Source:
    import praw

    from collectors.reddit import RedditSource

    _require(settings, "Reddit", "reddit_client_id", "reddit_client_secret")
    kwargs: dict[str, Any] = {"client_id": settings.secret("reddit_client_id"),
                              "client_secret": settings.secret("reddit_client_secret"),
                              "user_agent": settings.reddit_user_agent, "check_for_updates": False,
                              "requestor_kwargs": {"timeout": 30}}
    if settings.reddit_username and settings.secret("reddit_password"):
        kwargs.update(username=settings.reddit_username, password=settings.secret("reddit_password"))
    return RedditSource(praw.Reddit(**kwargs), credentials=REDDIT_CREDENTIALS)


def _mastodon_client(base_url: str, token: str | None) -> Any:
    """Mastodon.py throws on a rate limit (the loop pauses instead) and never asks the instance's version."""
    from mastodon import Mastodon

    return Mastodon(api_base_url=base_url, access_token=token, ratelimit_method="throw", request_timeout=30,
                    version_check_mode="none")


def build_stream(name: str, settings: Settings, engine: object = None) -> tuple[Stream, str]:
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


def _mastodon_stream(settings: Settings) -> Stream:
    from collectors.mastodon_stream import Instance, MastodonStream

    bases = ([settings.mastodon_base_url] if settings.mastodon_base_url else []) + settings.mastodon_stream_instances
    if not bases:
        raise ConfigError(f"Mastodon streaming needs {env_name('mastodon_base_url')} (e.g. https://mastodon.social).")
    home = (settings.mastodon_base_url or "").rstrip("/")
    instances = []
    for base in dict.fromkeys(b.rstrip("/") for b in bases):
        given = settings.mastodon_stream_tokens.get(base)
        token = given.get_secret_value() if given is not None else (
            settings.secret("mastodon_access_token") if base == home else None)
        where = MASTODON_CREDENTIALS if base == home else f"{env_name('mastodon_stream_tokens')}[{base!r}]"
        instances.append(Instance(base_url=base, client=_mastodon_client(base, token), token=token,
                                  credentials=where))
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
        return f"{env_name('dry_run')} is on"
    need = WRITE_CREDENTIALS.get(platform)
    if need is None:
        return f"Careline cannot post on {platform}"
    missing = [env_name(n) for n in need if getattr(settings, n, None) in (None, "")]
    return f"{', '.join(missing)} not set" if missing else None


def build_responder(platform: str, settings: Settings) -> Responder:
    """The platform's Responder, or the dry-run one until its write credentials are configured."""
    from responders.dry_run import DryRunResponder

    reason = dry_run_reason(platform, settings)
    if reason:
        return DryRunResponder(platform, reason)
    if platform == "x":
        import tweepy

        from responders.x import TimeoutSession, XResponder

        client = tweepy.Client(consumer_key=settings.secret("x_consumer_key"),
                               consumer_secret=settings.secret("x_consumer_secret"),
                               access_token=settings.secret("x_access_token"),
                               access_token_secret=settings.secret("x_access_token_secret"),
                               wait_on_rate_limit=False)  # the outbox waits, keeping the queue order
        client.session = TimeoutSession()
        return XResponder(client)
    if platform == "reddit":
        import praw

        from responders.reddit import RedditResponder

        reddit = praw.Reddit(client_id=settings.secret("reddit_client_id"),
                             client_secret=settings.secret("reddit_client_secret"),
                             username=settings.reddit_username, password=settings.secret("reddit_password"),
                             user_agent=settings.reddit_user_agent, check_for_updates=False,
                             ratelimit_seconds=0)  # never sleep inside the sender; the outbox reschedules
        return RedditResponder(reddit, username=settings.reddit_username)
    if platform == "bluesky":
        from atproto import Client

        from responders.bluesky import BlueskyResponder

        return BlueskyResponder(Client(), handle=settings.bluesky_handle,
                                app_password=settings.secret("bluesky_app_password"))
    if platform == "mastodon":
        from mastodon import Mastodon

        from responders.mastodon import MastodonResponder

        return MastodonResponder(Mastodon(access_token=settings.secret("mastodon_access_token"),
                                          api_base_url=settings.mastodon_base_url, ratelimit_method="throw",
                                          request_timeout=30))
    raise ConfigError(f"Unknown platform {platform!r}.")
