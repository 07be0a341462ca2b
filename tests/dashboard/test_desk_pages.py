"""AppTest for the live desk: sessions in the app, rights re-read at each click, Outbox, Audit, users."""
from __future__ import annotations

from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from careline.models import AuditEvent, Mention, Reply, UserSession
from careline.services import sessions, users
from careline.settings import get_settings
from tests.dashboard.conftest import ROOT, mention_id, open_mention


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=30)
    at.run()
    return at


def _sign_in(at: AppTest, name: str, password: str) -> None:
    at.text_input(key="sign_in_username").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]


def test_sign_in_opens_a_server_side_session(dash_db):
    """(Signing out goes through the sidebar, which AppTest does not redraw after navigation; the browser
    test covers it.)"""
    at = _app()
    _sign_in(at, "agent", "careline-agent")
    sid = at.session_state["session_id"]
    with Session(dash_db) as s:
        row = s.get(UserSession, sid)
        assert row.username == "agent" and row.revoked_at is None and row.handoff_hash and row.token_hash is None


def test_a_session_ended_elsewhere_signs_this_tab_out_at_its_next_click(dash_db):
    at = _app()
    _sign_in(at, "agent", "careline-agent")
    with Session(dash_db) as s:
        users.set_active(s, "agent", False, "admin")
    at.run()  # (AppTest reruns the page alone after navigation; the page checks the session itself)
    assert "user" not in at.session_state and "session_id" not in at.session_state
    assert any("sign in" in w.value for w in at.warning) and not at.dataframe
    assert "session has ended" in at.session_state["signed_out_reason"]


def test_demoted_agent_loses_rights_without_signing_out(page, dash_db):
    mid = mention_id(dash_db, "Acme Air lost my bag")
    at = page("inbox", role="agent")
    open_mention(at, mid)
    with Session(dash_db) as s:
        users.set_role(s, "agent", "viewer", "admin")
    at.button(key=f"me_{mid}").click().run()
    assert at.session_state["user"]["role"] == "viewer"
    assert any("Your role is read-only" in i.value for i in at.info)
    with Session(dash_db) as s:
        assert s.get(Mention, mid).assignee is None


def test_outbox_lists_states_and_resolves_unknown(page, dash_db):
    mid = mention_id(dash_db, "Acme Air lost my bag")
    with Session(dash_db) as s:
        unknown = Reply(mention_id=mid, platform="x", text="Sorry about the bag", state="unknown",
                        idempotency_key="k-unknown", created_by="agent", error="timed out after posting")
        failed = Reply(mention_id=mid, platform="x", text="Second try", state="failed",
                       idempotency_key="k-failed", created_by="agent", error="refused: duplicate")
        s.add(unknown)
        s.add(failed)
        s.commit()
        uid, fid = unknown.id, failed.id
    at = page("outbox", role="agent")
    assert any("unknown: 1" in t.value for t in at.text)
    assert len(at.dataframe[0].value) == 2
    at.text_input(key=f"ob_url_{uid}").input("https://x.com/AcmeAir/status/1").run()
    at.button(key=f"ob_sent_{uid}").click().run()
    at.button(key=f"ob_retry_{fid}").click().run()
    assert not at.exception
    with Session(dash_db) as s:
        u, f = s.get(Reply, uid), s.get(Reply, fid)
        assert u.state == "sent" and u.url == "https://x.com/AcmeAir/status/1"
        assert f.state == "queued" and f.idempotency_key == "k-failed"  # the same key on retry
        acts = {e.action for e in s.exec(select(AuditEvent).where(AuditEvent.actor == "agent"))}
    assert {"mark_reply_sent", "retry_reply"} <= acts


def test_viewer_cannot_resolve_in_the_outbox(page, dash_db):
    mid = mention_id(dash_db, "Acme Air lost my bag")
    with Session(dash_db) as s:
        s.add(Reply(mention_id=mid, platform="x", text="t", state="unknown", idempotency_key="k1", created_by="agent"))
        s.commit()
    at = page("outbox", role="viewer")
    assert all(b.disabled for b in at.button if b.key and b.key.startswith("ob_"))


def test_audit_page_filters_and_exports_csv(page, dash_db):
    mid = mention_id(dash_db, "Acme Air lost my bag")
    at = page("inbox", role="admin")
    open_mention(at, mid)
    at.button(key=f"me_{mid}").click().run()
    at = page("audit", role="admin")
    everything = at.dataframe[0].value
    assert len(everything) >= 4  # user saves from the fixture + the assignment
    # events with and without a mention: one string column (a mix of ints and "" broke Arrow's conversion)
    assert "" in set(everything["Mention"]) and all(isinstance(v, str) for v in everything["Mention"])
    at.selectbox(key="au_action").set_value("assign").run()
    df = at.dataframe[0].value
    assert list(df["Action"]) == ["assign"] and list(df["Mention"]) == [f"#{mid}"]
    at.number_input(key="au_mention").set_value(mid + 1000).run()
    assert len(at.dataframe[0].value) == 0
    assert page("audit", role="agent").warning[0].value.startswith("Only admins")


def test_audit_csv_escapes_formulas(dash_db):
    from careline.models import AuditEvent as E
    from careline.services import audit

    text = audit.to_csv([E(id=1, actor="=HYPERLINK(1)", action="note", detail={"x": 1}, at=__import__("datetime").datetime(2026, 1, 1))])
    assert "'=HYPERLINK(1)" in text and text.splitlines()[0].startswith("id,at_utc,actor")


def test_settings_disables_and_re_roles_users(page, dash_db):
    at = page("settings", role="admin")
    at.selectbox(key="mu_user").set_value("agent")
    at.selectbox(key="mu_action").set_value("Disable (signs out everywhere)")
    at.button[-1].click().run()
    assert not at.exception
    with Session(dash_db) as s:
        assert users.get(s, "agent").active is False
    at.selectbox(key="mu_user").set_value("viewer")
    at.selectbox(key="mu_action").set_value("Change role")
    at.selectbox(key="mu_role").set_value("agent")
    at.button[-1].click().run()
    with Session(dash_db) as s:
        assert users.get(s, "viewer").role == "agent"
        assert {"user_disable", "user_role"} <= {e.action for e in s.exec(select(AuditEvent))}


def test_cookie_resume_in_the_app(dash_db, monkeypatch):
    """A reload: no user in the new Streamlit session, but the cookie finds the server-side session."""
    from dashboard import auth

    settings = get_settings()
    with Session(dash_db, expire_on_commit=False) as s:
        row, code = sessions.start(s, users.get(s, "agent"), settings)
        cookie = sessions.redeem_handoff(s, code, settings)
    monkeypatch.setattr(auth, "cookie_value", lambda: cookie)
    at = _app()
    assert at.session_state["user"]["username"] == "agent" and at.session_state["session_id"] == row.id
    assert [t.value for t in at.title] == ["Inbox"]


def test_demo_credentials_show_only_on_a_demo_database(dash_db):
    from careline.services import app_settings

    at = _app()
    assert not any("Demo accounts" in c.value for c in at.caption)  # the fixture's database is no demo
    with Session(dash_db) as s:
        app_settings.put(s, "demo_anchor", "2026-11-20T12:00:00+00:00", "test")
    at = _app()
    assert any("Demo accounts: admin / careline-admin" in c.value for c in at.caption)


def test_init_on_a_real_database_creates_no_demo_accounts(cli_env):
    from typer.testing import CliRunner

    from careline.cli import app

    result = CliRunner().invoke(app, ["init", "--admin-password", "a-long-admin-password"])
    assert result.exit_code == 0, result.output
    with Session(make_engine_for_settings()) as s:
        assert [u.username for u in users.list_users(s)] == ["admin"]


def make_engine_for_settings():  # type: ignore[no-untyped-def]
    from careline.db import get_engine

    return get_engine(get_settings().url)


def test_inbox_banner_counts_new_mentions_until_marked_seen(page, dash_db):
    from careline.services.ingest import ingest
    from tests.conftest import make_raw

    at = page("inbox", role="agent")
    assert not any("new since you last looked" in i.value for i in at.info)
    with Session(dash_db) as s:
        ingest(s, [make_raw(text="Acme Air where is my refund", external_id="new-1"),
                   make_raw(text="Acme Air lost my bag again", external_id="new-2")], brand_id=1)
        s.commit()
    at.run()  # what the live watcher's rerun does
    assert any("2 new since you last looked" in i.value for i in at.info)
    assert list(at.dataframe[0].value["New"]).count("●") == 2
    at.button(key="inbox_mark_seen").click().run()
    assert not any("new since you last looked" in i.value for i in at.info)
    assert "●" not in list(at.dataframe[0].value["New"])


def test_detail_shows_who_else_is_on_the_mention(page, dash_db):
    from careline.services import presence

    mid = mention_id(dash_db, "Acme Air lost my bag")
    with Session(dash_db) as s:
        presence.beat(s, "admin", mid, "writing")
    at = page("inbox", role="agent")
    open_mention(at, mid)
    assert any("Also on this mention: admin (writing a reply)" in i.value for i in at.info)
    assert any("admin is writing a reply to this mention right now" in w.value for w in at.warning)
    with Session(dash_db) as s:
        assert [h.username for h in presence.here(s, mid, 30, exclude="admin")] == ["agent"]
