"""The inbox search box (phrases, handles, highlights, notes), tag filter and saved views, through AppTest."""
from __future__ import annotations

from sqlmodel import Session, select

from careline.models import AuditEvent
from careline.models_views import SavedView
from careline.services import triage, views
from tests.dashboard.conftest import mention_id


def _texts(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.value for t in at.text]


def test_phrase_search_highlights_as_plain_text(page):
    at = page("inbox")
    at.text_input(key="f_text").input('"lost luggage"').run()
    df = at.dataframe[0].value
    assert len(df) == 2 and all("«lost luggage»" in t for t in df["Text"])
    assert any(t.startswith("2 matching") for t in _texts(at))


def test_customer_by_handle_and_everywhere(page, dash_db):
    with Session(dash_db) as s:
        triage.set_status(s, mention_id(dash_db, "Acme Air lost my bag"), "resolved", "admin")
    at = page("inbox")
    at.text_input(key="f_text").input("user0").run()
    assert len(at.dataframe[0].value) == 0  # resolved: not in the open inbox
    at.checkbox(key="f_everywhere").check().run()
    df = at.dataframe[0].value
    assert list(df["Author"]) == ["user0"] and list(df["Status"]) == ["resolved"]


def test_bad_syntax_is_a_note_and_a_huge_query_one_error(page):
    at = page("inbox")
    at.text_input(key="f_text").input('"lost bag').run()
    assert any(t.startswith("Search note: A quote is not closed") for t in _texts(at))
    assert not at.exception and len(at.dataframe[0].value) >= 1
    at.text_input(key="f_text").input("x" * 3000).run()
    assert not at.exception and any("at most 2,000 bytes" in e.value for e in at.error)


def test_tag_filter(page, dash_db):
    with Session(dash_db) as s:
        triage.set_tags(s, mention_id(dash_db, "Does Acme Air allow pets"), ["VIP"], "admin")
    at = page("inbox")
    at.multiselect(key="f_tags").select("vip").run()
    assert list(at.dataframe[0].value["Platform"]) == ["bluesky"]


def test_save_and_open_a_view(page, dash_db):
    at = page("inbox", role="agent")
    at.text_input(key="f_text").input("lost").run()
    at.multiselect(key="f_platform").select("x").run()
    at.text_input(key="view_name").input("Lost on X")
    at.checkbox(key="view_shared").check()
    at.button(key="view_save").click().run()
    assert not at.exception
    with Session(dash_db, expire_on_commit=False) as s:
        view = s.exec(select(SavedView).where(SavedView.name == "Lost on X")).one()
        assert view.query == "lost" and view.filters["platforms"] == ["x"] and view.shared
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "view_save")).first() is not None
        mine = next(v for v in views.visible(s, "agent") if v.builtin == "mine")
        triage.assign(s, mention_id(dash_db, "Does Acme Air allow pets"), "agent", "admin")
    fresh = page("inbox", role="agent", run=False)
    fresh.session_state["_open_view"] = view.id
    fresh.run()
    assert fresh.text_input(key="f_text").value == "lost"
    df = fresh.dataframe[0].value
    assert set(df["Platform"]) == {"x"} and len(df) == 2
    fresh.session_state["_open_view"] = mine.id
    fresh.run()
    assert fresh.text_input(key="f_text").value == "" and fresh.selectbox(key="f_assignee").value == "Me"
    assert list(fresh.dataframe[0].value["Platform"]) == ["bluesky"]


def test_settings_lists_and_renames_tags(page, dash_db):
    with Session(dash_db) as s:
        triage.set_tags(s, mention_id(dash_db, "Does Acme Air allow pets"), ["vip"], "admin")
    at = page("settings")
    at.selectbox(key="tag_old").set_value("vip")
    at.text_input(key="tag_new").input("priority-customer")
    at.button(key="tag_rename").click().run()
    assert not at.exception
    with Session(dash_db) as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "tag_rename")).first() is not None
        from careline.services import tags
        assert tags.list_tags(s) == ["priority-customer"]


def test_inbox_exports_what_it_shows(page, dash_db):
    at = page("inbox", role="viewer")
    at.text_input(key="f_text").input("lost").run()
    at.button(key="export_prepare").click().run()
    assert not at.exception
    with Session(dash_db) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "export_mentions")).one()
        assert event.actor == "viewer" and event.detail["rows"] == 3


def test_a_view_entry_says_plus_only_past_the_cap(dash_db):  # type: ignore[no-untyped-def]
    from dashboard.views_nav import entry_title

    with Session(dash_db) as s:
        counted = {v.name: (n, capped) for v, n, capped in views.counts(s, "agent", cap=1)}
    assert entry_title("Mine", *counted["Mine"]).startswith("Mine · ")
    assert entry_title("Lost bags", 1000, False) == "Lost bags · 1,000"
    assert entry_title("Lost bags", 1000, True) == "Lost bags · 1,000+"
    assert entry_title("**bold** <b>x</b>", 3, False).endswith(" · 3")
