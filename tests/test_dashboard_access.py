"""Who sees what (issue 11, item 5): with sign-in on, a manager of one team sees nothing of any
other team on any page, table, chart or download; company-wide pages are for admins; a
source's URL never shows its credentials.

The synthetic snapshot gets a data-team developer's LiteLLM key limit with usage, and a failed
run whose message holds a URL with ``user:pass@``. Sam manages ``search`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from fixtures_dashboard import build
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from models import views

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PERIOD = {"from": "2026-11-01", "to": "2026-11-10"}
PAGES = [
    "app_pages/overview.py",
    "app_pages/teams.py",
    "app_pages/models.py",
    "app_pages/rate_limits.py",
    "app_pages/data_health.py",
]
SECRET_URL = "postgresql://ledger:s3cret-pw@db.internal:5432/litellm"
# what a search manager must never see: data-team developers and their key, other teams'
# callers, the shared (company-wide) quotas, company totals, the source's password
FORBIDDEN = [
    "alice@acme.example",
    "bob@acme.example",
    "alice-key",
    "erin@contractor.example",
    "arn:aws:sts",
    "sonnet us-east-1 geo",
    "claude-opus-4-6 global",
    "$4.70",
    "s3cret-pw",
    "ledger:",
]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = build(tmp_path_factory.mktemp("access") / "snapshot.duckdb")
    con = duckdb.connect(str(path))
    con.execute(
        "insert into quota_limits values ('litellm', 'litellm_key', null, null, null, null, "
        "1000, 5, null, 'LiteLLM key alice-key', 'alice-key', 'alice@acme.example', 'data', "
        "'total_tokens')"
    )
    con.execute(
        "insert into usage_minute (minute_at, source, provider, region, model, pricing_scope, "
        "developer, team, requests, throttled_requests, error_requests, quota_tokens, "
        "input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, "
        "cache_write_1h_tokens) values (timestamptz '2026-11-05 09:00:00+00', 'litellm', "
        "'bedrock', 'us-east-1', 'claude-sonnet-4-5', 'global', 'alice@acme.example', 'data', "
        "4, 0, 0, 900, 450, 450, 0, 0, 0)"
    )
    con.execute(
        "insert into ingest_runs values (3, 'litellm', timestamptz '2026-11-10 00:03:00+00', "
        "timestamptz '2026-11-10 00:03:01+00', 'failed', 0, 0, 0, ?)",
        [f"litellm: cannot connect to {SECRET_URL}. Check the DSN"],
    )
    con.close()
    return path


class _Recorded(MemoryMediaFileStorage):
    """The app test's media storage, kept so a test can read back what a download holds."""

    every: list[MemoryMediaFileStorage] = []

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        _Recorded.every.append(self)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, snapshot: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(snapshot))
    monkeypatch.setenv("LLMLEDGER_AUTH", "1")
    monkeypatch.setenv("LLMLEDGER_ADMINS", "root@acme.example")
    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", _Recorded)
    _Recorded.every.clear()
    return monkeypatch


def signed_in(email: str, params: dict[str, Any] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in {**PERIOD, **(params or {})}.items():
        at.query_params[key] = value
    at.user = {"is_logged_in": True, "email": email}
    return at


def _walk(node: Any, out: list[str]) -> None:
    proto = getattr(node, "proto", None)
    if proto is not None:
        out.append(str(proto))
    for child in getattr(node, "children", {}).values():
        _walk(child, out)


def everything_shown(at: AppTest) -> str:
    """Every element of the run as text: tables and charts (their Arrow data), metrics,
    captions, widgets and their options, the sidebar, and every download's bytes."""
    out: list[str] = []
    _walk(at._tree, out)
    for button in at.get("download_button"):
        out.append(download(button.proto.url))
    return "\n".join(out)


def download(url: str) -> str:
    for storage in reversed(_Recorded.every):
        try:
            return bytes(storage.get_file(url.rsplit("/", 1)[-1]).content).decode("utf-8")
        except Exception:  # noqa: BLE001 - not this run's storage
            continue
    raise AssertionError(f"no download at {url}")


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def visit_every_page(at: AppTest, pages: list[str]) -> str:
    """Run every page, every toggle on, every drill-down choice picked; all that was shown."""
    shown = []
    at.run()
    no_exception(at)
    for page in pages:
        at.switch_page(page).run()
        no_exception(at)
        for toggle in at.toggle:
            toggle.set_value(True)
        at.run()
        no_exception(at)
        shown.append(everything_shown(at))
        for key in [box.key for box in at.selectbox]:
            for option in list(at.selectbox(key=key).options)[1:]:
                if option not in at.selectbox(key=key).options:  # an earlier pick narrowed it
                    continue
                at.selectbox(key=key).set_value(option).run()
                no_exception(at)
                shown.append(everything_shown(at))
    return "\n".join(shown)


def test_a_manager_sees_only_their_team_on_every_page_and_download(
    env: pytest.MonkeyPatch,
) -> None:
    # a tampered link asks for the other team, its developer and its key
    at = signed_in(
        "sam@acme.example",
        {
            "team": "data",
            "developer": "alice@acme.example",
            "developer_detail": "alice@acme.example",
            "quota": "LiteLLM key alice-key",
        },
    )
    shown = visit_every_page(at, PAGES[:-1])
    assert "dave@acme.example" in shown  # the manager's own developer and key are there
    assert "LiteLLM key dave-key" in shown
    assert len(_Recorded.every) > 0 and "Download CSV" in shown
    leaked = [text for text in FORBIDDEN if text in shown]
    assert leaked == []
    # company-wide pages and toggles are not offered
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/data_health.py")
    at.switch_page("app_pages/models.py").run()
    assert not [t for t in at.toggle if t.key == "t_reconcile"]
    assert "The reconciliation with the providers' logs is company-wide: for admins." in [
        c.value for c in at.caption
    ]


def test_an_admin_visits_every_page(env: pytest.MonkeyPatch) -> None:
    shown = visit_every_page(signed_in("root@acme.example"), PAGES)
    assert "alice@acme.example" in shown and "$4.70" in shown
    assert "s3cret-pw" not in shown


def test_the_rate_limits_download_holds_only_the_managers_limits(
    env: pytest.MonkeyPatch,
) -> None:
    at = signed_in("sam@acme.example")
    at.run()
    at.switch_page("app_pages/rate_limits.py").run()
    no_exception(at)
    (quotas,) = [b for b in at.get("download_button") if b.proto.id.endswith("csv-quotas")]
    lines = download(quotas.proto.url).splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "quota",
        "LiteLLM team search",
        "LiteLLM key dave-key",
    ]


def test_an_admin_sees_the_company_and_urls_without_credentials(
    env: pytest.MonkeyPatch,
) -> None:
    at = signed_in("root@acme.example")
    at.run()
    at.switch_page("app_pages/data_health.py").run()
    no_exception(at)
    shown = everything_shown(at)
    assert "postgresql://***@db.internal:5432/litellm" in shown
    assert "s3cret-pw" not in shown
    at.switch_page("app_pages/rate_limits.py").run()
    assert "LiteLLM key alice-key" in everything_shown(at)


def test_the_read_api_scopes_in_sql_and_refuses_company_wide_queries(snapshot: Path) -> None:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        search = views.Scope(teams=("search",), admin=False)
        period = views.Filters(since=views.date(2026, 11, 1), until=views.date(2026, 11, 10))
        # the caller's own allowed_teams is replaced by the scope's
        wide = views.replace(period, allowed_teams=None)
        limits = views.rows(views.read(search, con, "quota_summary", wide))
        assert [r["quota"] for r in limits] == ["LiteLLM team search", "LiteLLM key dave-key"]
        teams = views.rows(views.read(search, con, "team_table", f=wide))
        assert [r["team"] for r in teams] == ["search"]
        assert views.read(search, con, "filter_options", None)["team"] == ["search"]
        for name in ("source_health", "rejected_by_reason", "identity_gaps", "source_runs"):
            with pytest.raises(views.NotAllowed, match="company-wide: for admins only"):
                views.read(search, con, name)
        with pytest.raises(views.NotAllowed, match="company-wide"):
            views.read(search, con, "gateway_reconciliation", period)
        with pytest.raises(views.NotAllowed, match="not part of the scoped read API"):
            views.read(views.EVERYONE, con, "report", "team")
        health = views.rows(views.read(views.EVERYONE, con, "source_health"))
        assert [r["last_message"] for r in health if r["source"] == "litellm"] == [
            "litellm: cannot connect to postgresql://***@db.internal:5432/litellm. Check the DSN"
        ]
    finally:
        con.close()
