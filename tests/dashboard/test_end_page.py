"""Pages end early with components.end_page(), never st.stop(): a stopped run keeps the previous page's live
fragments, whose late ticks then draw over the new page (the white page after Sign out, dashboard/app.py)."""
from __future__ import annotations

import ast

import pytest

from dashboard import components
from tests.dashboard.conftest import PAGES, ROOT


def _st_stop_calls(path) -> list[int]:  # type: ignore[no-untyped-def]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "stop"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "st"]


def test_no_page_and_not_the_app_calls_st_stop() -> None:
    files = [ROOT / "dashboard" / "app.py", *sorted(PAGES.glob("*.py"))]
    assert len(files) > 5
    found = {f.name: lines for f in files if (lines := _st_stop_calls(f))}
    assert found == {}, f"use components.end_page() instead of st.stop() in {found}"


def test_end_page_inside_the_app_ends_the_page_and_the_run_goes_on() -> None:
    after: list[str] = []
    with components.app_pages():
        components.end_page()
        after.append("page went on")  # pragma: no cover - must not run
    after.append("app.py went on")
    assert after == ["app.py went on"]


def test_end_page_outside_the_app_never_carries_on() -> None:
    # No script run here, so st.stop() returns; end_page must still not let the page go on.
    with pytest.raises(components.PageEnded):
        components.end_page()


def test_a_page_alone_still_stops_where_it_ends(page) -> None:  # type: ignore[no-untyped-def]
    at = page("customers", role="agent")
    at.text_input(key="cust_q").set_value("nobody-by-this-name").run()
    assert not at.exception
    assert any("No customer matches" in i.value for i in at.info)
    assert "cust_pick" not in {w.key for w in at.selectbox}  # nothing after end_page() was drawn
