"""All configuration in one pydantic-settings class.

Sources, highest first: init arguments, `CARELINE_*` environment variables, a `.env` file, a secrets
directory (one file per secret, e.g. /run/secrets/careline_x_bearer_token), then `careline.toml`
(or the file named by `CARELINE_CONFIG`). Secrets are `SecretStr`: they never print, log or reach the UI.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from careline.errors import ConfigError

PLATFORMS = ("x", "reddit", "bluesky", "mastodon", "hackernews", "demo")
STREAMS = ("jetstream", "mastodon")
JETSTREAM_INSTANCES = (  # Bluesky's public Jetstream instances; a failing one hands over to the next
    "wss://jetstream1.us-east.bsky.network/subscribe",
    "wss://jetstream2.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-west.bsky.network/subscribe",
    "wss://jetstream2.us-west.bsky.network/subscribe",
)


class BrandConfig(BaseModel):
    """A tracked brand as written in careline.toml; `careline init` copies these into the Brand table."""

    name: str
    keywords: list[str] = Field(default_factory=list)
    handles: list[str] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    competitor: bool = False
    subreddits: list[str] = Field(default_factory=list)


def _default_brands() -> list[BrandConfig]:
    return [
        BrandConfig(name="Acme Air", keywords=["acme air", "acmeair"], handles=["AcmeAir"]),
        BrandConfig(name="Skyhop", keywords=["skyhop"], handles=["SkyhopFly"], competitor=True),
    ]


class _CommaLists:
    """Environment values for list settings: a JSON list (`["x","reddit"]`) or, as people also write them,
    a comma-separated list (`x,reddit`). Anything else that is not JSON fails with the variable's name."""

    def decode_complex_value(self, field_name: str, field: Any, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)  # type: ignore[misc]
        except ValueError:
            if isinstance(value, str) and _is_text_list(field.annotation):
                return [part.strip() for part in value.split(",") if part.strip()]
            raise


def _is_text_list(annotation: Any) -> bool:
    return str(annotation).replace("typing.", "") in ("list[str]", "List[str]")


class _Env(_CommaLists, EnvSettingsSource):
    pass


class _DotEnv(_CommaLists, DotEnvSettingsSource):
    pass


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CARELINE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir=os.environ.get("CARELINE_SECRETS_DIR") or None,
    )

    data_dir: Path = Path("var")
    database_url: str | None = None
    brands: list[BrandConfig] = Field(default_factory=_default_brands)
    sources: list[str] = Field(default_factory=lambda: ["demo"])
    timezone: str = "UTC"

    # classifier
    model: str = "careline-minilm"
    model_label_map: dict[str, str] = Field(default_factory=dict)
    # {"es": "/models/spanish-sentiment", ...}: texts detected in these languages go to that local Hugging
    # Face text-classification model instead (classify/routed.py), read through language_model_label_map
    language_models: dict[str, str] = Field(default_factory=dict)
    language_model_label_map: dict[str, str] = Field(default_factory=dict)
    classify_batch_size: int = 64
    low_confidence: float = 0.55

    # schedule
    collect_interval_minutes: float = 15
    # a backfill's pages (fetched back to back) are committed together up to this many posts; 1 commits
    # every page alone (services/collection_pages.py PageGroup: faster writes against more re-fetching
    # after a crash; why 5,000 is measured there)
    collect_write_every: int = Field(default=5_000, ge=1)
    leader_retry_seconds: float = 5.0  # how soon a worker notices the scheduler leader is gone
    queue_lease_seconds: int = 120  # a dead worker's claimed batch is handed on after this long
    classify_interval_seconds: int = 30
    send_interval_seconds: int = 20
    customer_link_interval_minutes: float = 60  # the incremental customer link-suggestion job
    export_weekday: str = "mon"
    export_hour: int = 7

    # triage and reports
    sla_minutes: int = 120  # the default first-response target; per-brand policies live in Settings → SLA
    inbox_horizon_days: float = 7  # open posts older than this stop crowding page 1 (still found by filter)
    case_window_hours: float = 72  # a new post by the same author about the same brand joins their open case
    care_interval_seconds: int = 60  # urgency refresh and escalation scan
    export_dir: Path | None = None
    alert_urls: list[SecretStr] = Field(default_factory=list)
    dry_run: bool = False  # force every responder to dry-run

    # dashboard sessions, sign-in protection and the live desk (careline/services/{sessions,signin,presence}.py)
    session_secret: SecretStr | None = None  # signs the session cookie; else a key file in data_dir
    session_idle_minutes: int = 480  # a browser unused this long signs in again
    session_max_hours: int = 72  # and every session ends this long after sign-in, used or not
    signin_lock_after: int = 5  # failed sign-ins (per user name or per client) before a lock
    signin_lock_seconds: int = 300  # how long the lock lasts; it lifts by itself
    signin_window_seconds: int = 900  # failures older than this are forgotten
    signin_delay_seconds: float = 0.5  # first failure's slowdown; doubles per failure (capped at 8 s)
    live_refresh_seconds: float = 5.0  # how often open inbox/detail/Sources pages look for changes
    presence_ttl_seconds: int = 30  # a heartbeat older than this no longer counts as "viewing"
    assign_notify_urls: dict[str, SecretStr] = Field(default_factory=dict)  # username -> apprise URL

    # X (tweepy)
    x_bearer_token: SecretStr | None = None
    x_consumer_key: SecretStr | None = None
    x_consumer_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    # X budget (services/budgets.py): post reads a month, the price of one, and the share that raises an alert
    x_monthly_post_budget: int | None = None
    x_price_per_post: float = 0.0
    x_budget_alert_share: float = 0.8
    # Reddit (praw)
    reddit_client_id: SecretStr | None = None
    reddit_client_secret: SecretStr | None = None
    reddit_username: str | None = None
    reddit_password: SecretStr | None = None
    reddit_user_agent: str = "careline/0.1 (social listening)"
    # Bluesky (atproto)
    bluesky_handle: str | None = None
    bluesky_app_password: SecretStr | None = None
    # Mastodon
    mastodon_base_url: str | None = None
    mastodon_access_token: SecretStr | None = None
    mastodon_hashtags: list[str] = Field(default_factory=list)

    # real-time streams (careline/streams.py; README "Real-time streams")
    streams: list[str] = Field(default_factory=list)  # "jetstream" (Bluesky), "mastodon"
    jetstream_urls: list[str] = Field(default_factory=lambda: list(JETSTREAM_INSTANCES))
    jetstream_compress: bool = False  # zstd: needs the zstandard package and Jetstream's dictionary file
    jetstream_zstd_dictionary: Path | None = None
    jetstream_resolve_handles: bool = True  # look up matched posts' authors on Bluesky's public AppView
    stream_rewind_seconds: float = 5.0  # re-read this much on reconnect (the upsert drops repeats)
    stream_flush_seconds: float = 0.5  # how long matched posts wait before they are stored together
    # Mastodon streaming: CARELINE_MASTODON_BASE_URL (with its token) plus these instances, each with its own
    # token by base URL (hashtag streams need a token since Mastodon 4.2)
    mastodon_stream_instances: list[str] = Field(default_factory=list)
    mastodon_stream_tokens: dict[str, SecretStr] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("CARELINE_CONFIG", "careline.toml"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        env = _Env(settings_cls)
        dotenv = _DotEnv(settings_cls, env_file=getattr(dotenv_settings, "env_file", ".env"),
                         env_file_encoding=getattr(dotenv_settings, "env_file_encoding", "utf-8"))
        return (init_settings, env, dotenv, file_secret_settings, toml)

    @field_validator("sources", "streams")
    @classmethod
    def _known_names(cls, value: list[str], info: ValidationInfo) -> list[str]:
        known, kind = (PLATFORMS, "source") if info.field_name == "sources" else (STREAMS, "stream")
        for name in value:
            if name not in known:
                raise ValueError(f"unknown {kind} {name!r}; choose from {', '.join(known)}")
        return value

    @field_validator("jetstream_urls")
    @classmethod
    def _websocket_urls(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one Jetstream instance (wss://host/subscribe)")
        for url in value:
            if not url.startswith(("ws://", "wss://")):
                raise ValueError(f"{url!r} is not a WebSocket URL (wss://host/subscribe)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @model_validator(mode="after")
    def _credentials_present(self) -> "Settings":
        need: dict[str, tuple[str, ...]] = {
            "x": ("x_bearer_token",),
            "reddit": ("reddit_client_id", "reddit_client_secret"),
            "bluesky": ("bluesky_handle", "bluesky_app_password"),
            "mastodon": ("mastodon_base_url",),
        }
        for source in self.sources:
            for attr in need.get(source, ()):
                if getattr(self, attr) is None:
                    raise ValueError(
                        f"source {source!r} is enabled but CARELINE_{attr.upper()} is not set"
                    )
        return self

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'careline.db').as_posix()}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def exports_path(self) -> Path:
        return self.export_dir or self.data_dir / "exports"

    def secret(self, name: str) -> str | None:
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else None


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one sentence that names the setting."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # a value that is not JSON where JSON is needed (a list of brands...)
        name = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "?"
        raise ConfigError(f"Invalid setting CARELINE_{name.upper()}: it must be JSON, e.g. "
                          f"CARELINE_{name.upper()}='[\"a\", \"b\"]' for a list.") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            raise ConfigError(f"Invalid settings: {msg}.") from exc
        env = f"CARELINE_{str(first['loc'][0]).upper()}"
        raise ConfigError(f"Invalid setting {env}: {msg}.") from exc


def env_name(field: str) -> str:
    """The environment variable of a Settings field (`x_bearer_token` → `CARELINE_X_BEARER_TOKEN`); a name
    that is no field fails here, so a message never points a person at a variable that does nothing."""
    if field not in Settings.model_fields:
        raise KeyError(f"no setting {field!r}")
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
