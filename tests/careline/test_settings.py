from __future__ import annotations

import pytest

from careline.errors import ConfigError
from careline.settings import load_settings


def test_defaults_use_sqlite_in_data_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(data_dir=tmp_path)
    assert s.url == f"sqlite:///{tmp_path.as_posix()}/careline.db"
    assert s.sources == ["demo"]


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CARELINE_DATABASE_URL": "mysql://x"}, "CARELINE_DATABASE_URL"),
        ({"CARELINE_SOURCES": '["myspace"]'}, "CARELINE_SOURCES: unknown source 'myspace'"),
        ({"CARELINE_STREAMS": '["firehose"]'}, "CARELINE_STREAMS: unknown stream 'firehose'; choose from jetstream"),
        ({"CARELINE_SOURCES": '["x"]'}, "CARELINE_X_BEARER_TOKEN"),
        ({"CARELINE_TIMEZONE": "Mars/Olympus"}, "CARELINE_TIMEZONE"),
    ],
)
def test_invalid_settings_name_the_setting_in_one_sentence(monkeypatch, tmp_path, env, needle) -> None:
    monkeypatch.chdir(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_secrets_never_show_in_repr(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARELINE_X_BEARER_TOKEN", "supersecret-token")
    s = load_settings()
    assert "supersecret-token" not in repr(s) and "supersecret-token" not in str(s.model_dump())
    assert s.secret("x_bearer_token") == "supersecret-token"


def test_secrets_dir_and_toml(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "careline.toml").write_text(
        'sources = ["demo"]\n[[brands]]\nname = "Zed"\nkeywords = ["zed"]\ncompetitor = true\n'
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "careline_reddit_client_secret").write_text("s3cret")
    from careline.settings import Settings

    s = Settings(_secrets_dir=secrets)  # type: ignore[call-arg]
    assert s.brands[0].name == "Zed" and s.brands[0].competitor
    assert s.secret("reddit_client_secret") == "s3cret"
