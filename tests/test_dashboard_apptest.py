"""The dashboard under Streamlit's AppTest: every page renders, the numbers are right, filters
narrow them and live in the URL, and sign-in scopes a manager to their teams.

Two snapshots: a small hand-made one (tests/fixtures_dashboard.py) with every number known,
and the sample data through the real pipeline, whose headline figures must equal
`llmledger report`.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures_dashboard import EXPECTED, build, llmledger
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from dashboard import fmt, limits, ui
from models import views
from models.snapshot import open_snapshot

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PAGES = {
    "app_pages/overview.py": "Overview",
    "app_pages/teams.py": "Teams and developers",
    "app_pages/models.py": "Models and providers",
    "app_pages/rate_limits.py": "Rate limits",
    "app_pages/data_health.py": "Data health",
}
PERIOD = {"from": "2026-11-01", "to": "2026-11-10"}
PERIOD_DATES = (date(2026, 11, 1), date(2026, 11, 6))  # 11-06: the last day with data


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("dash") / "snapshot.duckdb")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, synthetic: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(synthetic))
    monkeypatch.delenv("LLMLEDGER_AUTH", raising=False)
    monkeypatch.delenv("LLMLEDGER_ADMINS", raising=False)
    return monkeypatch


def app(params: dict[str, str | list[str]] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def cards(at: AppTest) -> dict[str, tuple[str, str]]:
    """label -> (value, the line under it)."""
    return {m.label: (m.value, m.proto.delta) for m in at.metric}


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# --------------------------------------------------------------------------- synthetic snapshot


def test_every_page_renders_without_exception(env: pytest.MonkeyPatch) -> None:
    at = app(PERIOD).run()
    no_exception(at)
    for page, title in PAGES.items():
        at.switch_page(page).run()
        no_exception(at)
        assert [t.value for t in at.title] == [title]
        # every table can be downloaded
        assert len(at.get("download_button")) >= 1, page


def test_overview_headline_figures(env: pytest.MonkeyPatch) -> None:
    at = app(PERIOD).run()
    no_exception(at)
    shown = metrics(at)
    assert shown["Total cost"] == "$4.70"
    assert shown["Requests"] == "34"
    assert shown["Active developers"] == "5"
    assert shown["Cost per active developer"] == "$0.88"
    assert shown["Cache hit rate"] == "58.1%"
    assert shown["Saved by caching"] == "$0.40"
    assert shown["Unattributed share"] == "6.4%"  # 0.30 of 4.70 has no developer
    assert shown["Errors / throttled"] == "1 / 3"
    assert shown["Input tokens"] == "2.60K"
    assert shown["Cache read tokens"] == "5.00K"
    # budgets: November to the 6th (the last day with data), run rate to the month's end
    # spend, forecast and its delta on one base: the teams with a budget (data + search: the
    # unattributed $0.50 has none), so the forecast and "vs budget" agree
    assert shown["Spend November to 06 Nov"] == "$4.20"
    assert shown["Budget for the month"] == "$28.00"
    assert shown["Month-end forecast"] == "$21.00"
    forecast = next(m for m in at.metric if m.label == "Month-end forecast")
    assert forecast.delta == "-$7.00 vs budget"
    assert [w.value for w in at.warning] == [
        "2 requests use a model with no price; their cost is not in these totals. See Data health."
    ]
    # data: $1.60 in six days -> $8.00 forecast against a $3.00 budget; search stays under
    assert [e.value for e in at.error] == ["Heading past budget: data"]


def test_a_filter_changes_the_figures_and_stays_in_the_url(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "team": "data"}).run()
    no_exception(at)
    assert metrics(at)["Total cost"] == fmt.money(EXPECTED["data_cost"]) == "$1.60"
    assert metrics(at)["Requests"] == "19"
    assert at.query_params["team"] == "data"
    # change the filter in the sidebar: the figures and the URL follow
    at.multiselect(key="f_teams").set_value(["search"]).run()
    no_exception(at)
    assert metrics(at)["Total cost"] == "$2.60"
    assert at.query_params["team"] == "search"
    at.multiselect(key="f_models").set_value(["claude-opus-4-6"]).run()
    assert metrics(at)["Total cost"] == "$2.00"
    assert at.query_params["model"] == "claude-opus-4-6"
    # the filters survive a page change
    at.switch_page("app_pages/teams.py").run()
    no_exception(at)
    assert at.query_params["team"] == "search"
    assert at.query_params["from"] == "2026-11-01"


def test_date_range_filter(env: pytest.MonkeyPatch) -> None:
    at = app({"from": "2026-11-02", "to": "2026-11-02"}).run()
    assert metrics(at)["Total cost"] == "$2.50"
    at.date_input(key="f_dates").set_value((PERIOD_DATES[0], PERIOD_DATES[1])).run()
    no_exception(at)
    assert metrics(at)["Total cost"] == "$4.70"
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-11-01", "2026-11-06")


def test_teams_page_drills_to_a_developer(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "team_detail": "data"})
    at.run()
    at.switch_page("app_pages/teams.py").run()
    no_exception(at)
    at.selectbox(key="p_team_detail").set_value("data").run()
    at.selectbox(key="p_developer_detail").set_value("alice@acme.example").run()
    no_exception(at)
    shown = metrics(at)
    assert shown["alice@acme.example: cost"] == "$1.10"
    assert shown["alice@acme.example: requests"] == "14"
    assert at.query_params["developer_detail"] == "alice@acme.example"


def test_models_and_rate_limit_pages_show_their_figures(env: pytest.MonkeyPatch) -> None:
    at = app(PERIOD).run()
    at.switch_page("app_pages/models.py").run()
    no_exception(at)
    tables = len(at.dataframe)
    at.toggle(key="t_reconcile").set_value(True).run()  # the usage_events drill-down
    no_exception(at)
    assert len(at.dataframe) == tables + 2
    reconciliation = at.dataframe[-1].value
    assert list(zip(reconciliation["category"], reconciliation["requests"], strict=True)) == [
        ("matched", 1),
        ("Only in the provider's logs", 1),  # the code only_in_provider, in words
    ]
    shown = metrics(at)
    assert shown["Paid beyond global prices"] == "$0.26"  # 0.22 geo + 0.04 regional
    assert (shown["LiteLLM spend"], shown["Our cost"], shown["Difference"]) == (
        "$0.65",
        "$0.60",
        "$0.05",
    )
    at.switch_page("app_pages/rate_limits.py").run()
    no_exception(at)
    # the account quota with the highest peak, not a LiteLLM key or team limit
    assert at.selectbox(key="p_quota").value == "sonnet us-east-1 geo"
    assert cards(at) == {
        "Peak tokens": ("9.0K of 10K TPM", "at 2026-11-01 10:00 UTC"),
        "Peak requests": ("9 of 10 RPM", "at 2026-11-01 11:00 UTC"),
        "Minutes at or above 80%": ("3", ""),
        "Throttled requests": ("3", ""),
    }


def test_data_health_counts_unmapped_identities_on_demand(env: pytest.MonkeyPatch) -> None:
    at = app(PERIOD).run()
    at.switch_page("app_pages/data_health.py").run()
    no_exception(at)
    tables = len(at.dataframe)
    at.toggle(key="t_unmapped").set_value(True).run()
    no_exception(at)
    assert len(at.dataframe) == tables + 1
    counted = at.dataframe[-1].value
    assert list(counted["principal"])[:2] == [
        "arn:aws:sts::1:assumed-role/shared/x",
        "erin@contractor.example",
    ]


def test_no_snapshot_is_one_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMLEDGER_SNAPSHOT", str(tmp_path / "missing.duckdb"))
    at = app().run()
    no_exception(at)
    assert [e.value for e in at.error] == [
        f"no snapshot at {tmp_path / 'missing.duckdb'}; run `llmledger ingest` "
        "(or `llmledger demo`) first"
    ]


def test_sign_in_scopes_a_manager_to_their_teams(env: pytest.MonkeyPatch) -> None:
    env.setenv("LLMLEDGER_AUTH", "1")
    env.setenv("LLMLEDGER_ADMINS", "root@acme.example")
    at = app(PERIOD)
    at.user = {"is_logged_in": False}
    at.run()
    no_exception(at)
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric

    at = app(PERIOD)
    at.user = {"is_logged_in": True, "email": "sam@acme.example"}
    at.run()
    no_exception(at)
    assert metrics(at)["Total cost"] == "$2.60"  # search only
    assert at.multiselect(key="f_teams").options == ["search"]
    at.switch_page("app_pages/teams.py").run()
    assert [r for r in at.dataframe[0].value["team"]] == ["search"]

    at = app(PERIOD)
    at.user = {"is_logged_in": True, "email": "root@acme.example"}
    at.run()
    assert metrics(at)["Total cost"] == "$4.70"  # an admin sees everything

    at = app(PERIOD)
    at.user = {"is_logged_in": True, "email": "alice@acme.example"}
    at.run()
    no_exception(at)
    assert not at.metric
    assert "manages no team" in at.warning[0].value


# --------------------------------------------------------------------------- the sample data


@pytest.fixture(scope="module")
def sample(sample_ledger: Any) -> tuple[Path, Path]:
    return sample_ledger.db, sample_ledger.snapshot


def cli_report(db: Path, *args: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(llmledger("--db", str(db), "report", *args, "--format", "json").stdout)


def test_sample_headline_equals_llmledger_report(
    env: pytest.MonkeyPatch, sample: tuple[Path, Path]
) -> None:
    db, snapshot = sample
    env.setenv("LLMLEDGER_SNAPSHOT", str(snapshot))
    days = cli_report(db, "--by", "day")
    first, last = days[0]["day"], days[-1]["day"]
    at = app({"from": first, "to": last}).run()
    no_exception(at)
    by_team = cli_report(db, "--by", "team", "--since", first)
    cost = sum(Decimal(r["cost_usd"]) for r in by_team if r["cost_usd"] is not None)
    shown = metrics(at)
    assert shown["Total cost"] == fmt.money(cost)
    assert shown["Requests"] == fmt.count(sum(r["requests"] for r in by_team))
    assert shown["Output tokens"] == fmt.tokens(sum(r["output_tokens"] for r in by_team))
    assert shown["Cache read tokens"] == fmt.tokens(sum(r["cache_read_tokens"] for r in by_team))
    # the team table's rows are report --by team's
    at.switch_page("app_pages/teams.py").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert dict(zip(table["team"], table["requests"], strict=True)) == {
        r["team"]: r["requests"] for r in by_team
    }
    # the configured quotas' peak equals a scan of usage_events under Bedrock's quota rule;
    # the headline is the highest of all limits (the sample's LiteLLM key burst is higher)
    at.switch_page("app_pages/rate_limits.py").run()
    no_exception(at)
    quotas = at.dataframe[-1].value  # all limits; ratios are shown in percent points
    configured = quotas[quotas["limit_kind"] == "quota"]
    assert fmt.percent(float(configured["peak_utilisation"].max()) / 100) == fmt.percent(
        peak_by_scan(snapshot)
    )
    # the page opens on the account quota with the highest peak
    top = configured.sort_values("peak_utilisation", ascending=False).iloc[0]
    assert at.selectbox(key="p_quota").value == top["quota"]
    con = open_snapshot(snapshot)
    try:
        period = views.Filters(since=date.fromisoformat(first), until=date.fromisoformat(last))
        summary = views.quota_summary(con, period).to_pylist()
    finally:
        con.close()
    (row,) = [r for r in summary if r["quota"] == top["quota"]]
    assert cards(at)["Peak tokens"] == (
        fmt.peak_of_limit(row["peak_tokens_per_minute"], row["tokens_per_minute"], "TPM"),
        f"at {row['peak_tokens_minute']:%Y-%m-%d %H:%M} UTC",
    )
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)


def peak_by_scan(snapshot: Path) -> float:
    """The busiest minute against any quota, straight from usage_events: input + cache writes
    + 5 x output (Claude 4.x on Bedrock), cache reads not counted; or requests per minute."""
    con = open_snapshot(snapshot)
    try:
        ((peak,),) = con.execute(
            """
            with per_minute as (
                select date_trunc('minute', e.occurred_at) as minute_at, q.tokens_per_minute,
                       q.requests_per_minute, count(*) as requests,
                       sum(e.input_tokens + e.cache_write_5m_tokens + e.cache_write_1h_tokens
                           + 5 * e.output_tokens) as quota_tokens
                from usage_events e join ref_quotas q
                  on e.provider = q.provider and e.model = q.model and e.region = q.region
                 and e.pricing_scope = q.scope
                group by all
            )
            select max(greatest(quota_tokens / tokens_per_minute,
                                requests / requests_per_minute)) from per_minute
            """
        ).fetchall()
    finally:
        con.close()
    return float(peak)


def test_sample_team_filter_equals_report_for_that_team(
    env: pytest.MonkeyPatch, sample: tuple[Path, Path]
) -> None:
    db, snapshot = sample
    env.setenv("LLMLEDGER_SNAPSHOT", str(snapshot))
    team = "data"
    days = cli_report(db, "--by", "day")
    first, last = days[0]["day"], days[-1]["day"]
    at = app({"from": first, "to": last, "team": team}).run()
    no_exception(at)
    rows = cli_report(db, "--by", "developer", "--team", team)
    cost = sum(Decimal(r["cost_usd"]) for r in rows if r["cost_usd"] is not None)
    assert metrics(at)["Total cost"] == fmt.money(cost)
    assert metrics(at)["Requests"] == fmt.count(sum(r["requests"] for r in rows))
    everyone = app({"from": first, "to": last}).run()
    assert metrics(everyone)["Total cost"] != metrics(at)["Total cost"]


# --------------------------------------------------------------- what a manager sees first


def test_overview_headline_change_and_top_fives(env: pytest.MonkeyPatch) -> None:
    at = app(PERIOD).run()
    no_exception(at)
    total = next(m for m in at.metric if m.label == "Total cost")
    # the dates clamp to 11-01..11-06 (six days): 4.70 against 10-26..10-31's 4.00
    assert total.delta == "+$0.70 (+17.5%) vs the previous 6 days"
    headers = [h.value for h in at.subheader]
    assert headers.index("Daily cost") < headers.index("Top 5 developers")
    assert headers.index("Top 5 teams") < headers.index("Tokens by type")
    developers, teams = at.dataframe[0].value, at.dataframe[1].value
    assert list(developers["developer"]) == [
        "carol@acme.example",
        "alice@acme.example",
        "dave@acme.example",
        "bob@acme.example",
        "unattributed",
    ]
    assert list(teams["team"]) == ["search", "data", "unattributed"]
    # share of the whole selection's cost, in percent points on screen (one decimal)
    assert [round(v, 1) for v in teams["share"]] == [55.3, 34.0, 10.6]
    # a period with nothing before it: never "the change is the whole cost"
    at = app({"from": "2026-10-25", "to": "2026-10-28"}).run()
    no_exception(at)
    total = next(m for m in at.metric if m.label == "Total cost")
    assert (total.value, total.delta) == ("$4.80", "no earlier data")


def test_date_presets_are_relative_to_the_last_day(env: pytest.MonkeyPatch) -> None:
    at = app(PERIOD).run()
    at.button(key="preset-last-7-days").click().run()
    no_exception(at)
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-10-31", "2026-11-06")
    at.button(key="preset-last-month").click().run()
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-10-25", "2026-10-31")
    assert metrics(at)["Total cost"] == "$4.80"
    at.button(key="preset-this-month").click().run()
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-11-01", "2026-11-06")
    assert metrics(at)["Total cost"] == "$4.70"


def test_tables_lead_with_name_cost_and_share_with_readable_labels(
    env: pytest.MonkeyPatch,
) -> None:
    at = app(PERIOD).run()
    at.switch_page("app_pages/teams.py").run()
    no_exception(at)
    teams = at.dataframe[0]
    order = list(teams.proto.column_order)
    assert order[:3] == ["team", "cost_usd", "share"]
    assert not [c for c in order if c.endswith("_tokens")]  # behind the toggle
    config = json.loads(teams.proto.columns)
    assert config["cost_usd"]["label"] == "Cost (USD)"
    assert config["change_pct"]["label"] == "Change %"
    assert config["requests"]["type_config"]["format"] == "localized"
    developers = at.dataframe[1]
    assert list(developers.proto.column_order)[:4] == ["developer", "team", "cost_usd", "share"]
    # a missing value reads "—": "unattributed" had nothing in the previous period
    shown = developers.value
    row = shown[shown["developer"] == "bob@acme.example"].iloc[0]
    assert (row["previous_cost_usd"], row["change_pct"]) == ("—", "—")
    at.toggle(key="t_tokens").set_value(True).run()
    no_exception(at)
    order = list(at.dataframe[0].proto.column_order)
    assert "input_tokens" in order and "cache_write_1h_tokens" in order
    # codes in words: the reconciliation's categories
    at.switch_page("app_pages/models.py").run()
    at.toggle(key="t_reconcile").set_value(True).run()
    no_exception(at)
    config = json.loads(at.dataframe[-3].proto.columns)  # litellm_vs_ours
    assert config["litellm_spend_usd"]["label"] == "LiteLLM spend (USD)"


class _Recorded(MemoryMediaFileStorage):
    every: list[MemoryMediaFileStorage] = []

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        _Recorded.every.append(self)


def test_downloads_name_the_page_filters_and_dates(env: pytest.MonkeyPatch) -> None:
    env.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", _Recorded)
    at = app({**PERIOD, "team": "data"}).run()
    at.switch_page("app_pages/teams.py").run()
    no_exception(at)
    (button,) = [b for b in at.get("download_button") if b.proto.id.endswith("csv-developers")]
    stored = _Recorded.every[-1].get_file(button.proto.url.rsplit("/", 1)[-1])
    assert stored.filename == "llmledger-developers-2026-11-01_2026-11-06-team-data.csv"
    # the exports' number conventions: exact decimals, never 0E-12 or 150000.0
    text = bytes(stored.content).decode()
    assert text.splitlines()[0].startswith("developer,team,requests,")
    assert "E-" not in text and ".0," not in text
    frame = pd.DataFrame({"x": [Decimal("0E-12"), Decimal("1.5")], "n": [150000.0, float("nan")]})
    assert ui.csv_bytes(frame) == b"x,n\r\n0.000000000000,150000\r\n1.5,\r\n"


def test_unknown_url_values_and_clamped_dates_say_so(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "team": ["nosuch", "data"], "model": "gpt-9"}).run()
    no_exception(at)
    warnings = [w.value for w in at.warning]
    assert "team 'nosuch' not found — showing data" in warnings
    assert "model 'gpt-9' not found — showing all" in warnings
    assert [i.value for i in at.info][:1] == [
        "Dates 2026-11-01 to 2026-11-10 reach beyond the data (2026-10-25 to 2026-11-06): "
        "showing 2026-11-01 to 2026-11-06."
    ]
    assert metrics(at)["Total cost"] == "$1.60"  # data only


def test_the_developer_list_narrows_to_the_selected_team(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "team": "data", "developer": "carol@acme.example"}).run()
    no_exception(at)
    assert at.multiselect(key="f_developers").options == ["alice@acme.example", "bob@acme.example"]
    assert "developer 'carol@acme.example' is not in data — showing all" in [
        w.value for w in at.warning
    ]


def test_every_page_shows_freshness(env: pytest.MonkeyPatch, synthetic: Path) -> None:
    from datetime import UTC, datetime

    con = open_snapshot(synthetic)
    try:
        ((newest,),) = con.execute("select max(occurred_at) from usage_events").fetchall()
    finally:
        con.close()
    newest = newest.astimezone(UTC).replace(tzinfo=None)
    days = (datetime.now(UTC).date() - newest.date()).days
    expected = f"Data as of {newest:%Y-%m-%d %H:%M} UTC ({days:,} days ago)"
    at = app(PERIOD).run()
    for page in PAGES:
        at.switch_page(page).run()
        no_exception(at)
        assert expected in [c.value for c in at.caption], page


def test_budget_block_under_a_one_developer_filter(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "developer": "bob@acme.example"}).run()
    no_exception(at)
    shown = metrics(at)
    assert shown["Total cost"] == "$0.50"  # bob alone
    # the budget block compares each team's whole spend: the same as with no filter
    assert shown["Budget for the month"] == "$28.00"
    assert shown["Month-end forecast"] == "$21.00"
    forecast = next(m for m in at.metric if m.label == "Month-end forecast")
    assert forecast.delta == "-$7.00 vs budget"
    assert (
        "Budgets compare each team's whole spend with its budget: the developer filter does "
        "not apply to this block." in [i.value for i in at.info]
    )


def test_rate_limits_and_unmapped_identities_lead_with_their_key_columns(
    env: pytest.MonkeyPatch,
) -> None:
    at = app(PERIOD).run()
    at.switch_page("app_pages/rate_limits.py").run()
    no_exception(at)
    summary = at.dataframe[-1]
    assert list(summary.proto.column_order)[:6] == [
        "quota",
        "limit_kind",
        "peak_utilisation",
        "minutes_above_80pct",
        "minutes_above_100pct",
        "throttled_requests",
    ]
    config = json.loads(summary.proto.columns)
    assert config["peak_utilisation"]["label"] == "Peak utilisation"
    assert config["peak_utilisation"]["type_config"]["format"] == "%.1f%%"
    assert float(summary.value["peak_utilisation"].max()) == pytest.approx(90.0)
    at.switch_page("app_pages/data_health.py").run()
    at.toggle(key="t_unmapped").set_value(True).run()
    no_exception(at)
    unmapped = at.dataframe[-1]
    assert list(unmapped.proto.column_order)[:3] == ["principal", "cost_usd", "share"]
    assert "Named, not in the directory" in list(unmapped.value["identity_status"])


def test_a_scoped_viewers_banner_never_repeats_the_link(env: pytest.MonkeyPatch) -> None:
    env.setenv("LLMLEDGER_AUTH", "1")
    env.setenv("LLMLEDGER_ADMINS", "root@acme.example")
    at = app({**PERIOD, "developer": "alice@acme.example"})
    at.user = {"is_logged_in": True, "email": "sam@acme.example"}
    at.run()
    no_exception(at)
    assert [w.value for w in at.warning][:1] == [
        "a developer in the link is not among yours — showing all"
    ]
    assert metrics(at)["Total cost"] == "$2.60"


def test_reset_clears_the_filters_and_the_drill_down(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "team": "data"}).run()
    at.switch_page("app_pages/teams.py").run()
    at.selectbox(key="p_team_detail").set_value("data").run()
    assert at.query_params["team_detail"] == "data"
    (reset,) = [b for b in at.button if b.label == "Reset filters"]
    reset.click().run()
    no_exception(at)
    assert at.selectbox(key="p_team_detail").value == "All teams"
    assert "team_detail" not in at.query_params and "team" not in at.query_params


def test_an_empty_table_says_which_filters_left_nothing(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "team": "data", "model": "claude-opus-4-6"}).run()
    at.switch_page("app_pages/teams.py").run()
    no_exception(at)
    assert "Nothing for team data and model claude-opus-4-6 from 2026-11-01 to 2026-11-06." in [
        c.value for c in at.caption
    ]


# the Opus quota (7,000 TPM) passed in one minute: 7,700 tokens, 2 of 6 requests throttled
OVER_LIMIT_MINUTE = (
    "2026-11-02 12:01", "bedrock", "bedrock", "us-east-1", "claude-opus-4-6", "global",
    "carol@acme.example", "search", 6, 2, 0, 7700, 0, 0,
)  # fmt: skip


def vega_charts(at: AppTest) -> list[Any]:
    return list(at.get("vega_lite_chart"))


def chart_rows(chart: Any) -> list[dict[str, Any]]:
    """Every row of the chart's datasets (Streamlit sends them as Arrow IPC)."""
    import pyarrow as pa

    out: list[dict[str, Any]] = []
    for dataset in chart.proto.datasets:
        out += pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
    return out


def test_rate_limits_explain_a_limit_passed(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv(
        "LLMLEDGER_SNAPSHOT",
        str(build(tmp_path / "over.duckdb", extra_minutes=[OVER_LIMIT_MINUTE])),
    )
    at = app(PERIOD).run()
    at.switch_page("app_pages/rate_limits.py").run()
    no_exception(at)
    assert at.selectbox(key="p_quota").value == "bedrock claude-opus-4-6 global us-east-1"
    assert cards(at) == {  # no requests-per-minute limit, so no requests card
        "Peak tokens": ("7.7K of 7.0K TPM", "at 2026-11-02 12:01 UTC"),
        "Minutes at or above 80%": ("1", ""),
        "Throttled requests": ("2", ""),
    }
    assert [w.value for w in at.warning] == [
        "Above 100% in 1 minute: the account quota was exceeded; 2 requests throttled in "
        "those minutes."
    ]
    timeline, heatmap = vega_charts(at)
    # the 80% and 100% lines carry their labels
    spec = json.loads(timeline.proto.spec)
    labels = [layer["mark"].get("text") for layer in spec["layer"][1]["layer"]]
    assert labels == [None, "80% of the limit", None, "100%: the limit"]
    # the cell past 100% has its own colour and says what happened
    spec = json.loads(heatmap.proto.spec)
    over = spec["layer"][1]["encoding"]["color"]["scale"]
    assert over == {"domain": ["above 100%: limit exceeded"], "range": ["#6a3d9a"]}
    cells = [r for r in chart_rows(heatmap) if r["band"]]
    assert [(str(r["day"])[:10], r["hour_of_day"], r["note"]) for r in cells] == [
        ("2026-11-02", 12, "limit exceeded in 1 minute; 2 requests throttled")
    ]
    assert (
        "Purple cells: hours whose busiest minute passed the limit (1 minute, 2 requests "
        "throttled in those hours)." in [c.value for c in at.caption]
    )


def test_rate_limits_developer_filter_narrows_or_says_why(env: pytest.MonkeyPatch) -> None:
    at = app({**PERIOD, "developer": "dave@acme.example"}).run()
    at.switch_page("app_pages/rate_limits.py").run()
    no_exception(at)
    # dave's LiteLLM key and his team's limit are listed; account quotas stay whole, and say so
    assert at.selectbox(key="p_quota").options == [
        "sonnet us-east-1 geo",
        "bedrock claude-opus-4-6 global us-east-1",
        "LiteLLM team search",
        "LiteLLM key dave-key",
    ]
    assert [i.value for i in at.info if "filter" in i.value] == [
        "The developer filter does not narrow an account quota: it is shared by everyone "
        "calling the model, so its peaks are everyone's traffic. It narrows the LiteLLM limits "
        "listed and “Who drove the peak minutes” below."
    ]
    assert cards(at)["Peak tokens"] == ("9.0K of 10K TPM", "at 2026-11-01 10:00 UTC")
    # the peak drivers are narrowed: dave sent nothing through the Sonnet geo quota
    assert "Nothing for developer dave@acme.example from 2026-11-01 to 2026-11-06." in [
        c.value for c in at.caption
    ]
    # on his key limit the caption says the list is narrowed, and no reason banner shows
    at.selectbox(key="p_quota").set_value("LiteLLM key dave-key").run()
    no_exception(at)
    assert not [i.value for i in at.info if "filter" in i.value]
    assert "Only the LiteLLM limits of the chosen teams and developers are listed." in [
        c.value for c in at.caption
    ]
    assert cards(at)["Peak tokens"] == ("1.2K of 2.0K TPM", "at 2026-11-04 09:00 UTC")
    # alice (team data) has neither: only the account quotas are left
    at = app({**PERIOD, "developer": "alice@acme.example"}).run()
    at.switch_page("app_pages/rate_limits.py").run()
    assert at.selectbox(key="p_quota").options == [
        "sonnet us-east-1 geo",
        "bedrock claude-opus-4-6 global us-east-1",
    ]


def test_above_the_limit_in_words() -> None:
    assert limits.above_limit_text("litellm_key", 4, 110) == (
        "Above 100% in 4 minutes: a LiteLLM key limit was exceeded; 110 requests throttled in "
        "those minutes."
    )
    assert limits.above_limit_text("litellm_key_model", 21, 0) == (
        "Above 100% in 21 minutes: a LiteLLM key's limit on one model was exceeded; no requests "
        "throttled in those minutes."
    )
    assert limits.cell_note(0, 0) == ""
    assert limits.cell_note(0, 3) == "3 requests throttled"
    assert limits.cell_note(2, 1) == "limit exceeded in 2 minutes; 1 request throttled"
    assert fmt.peak_of_limit(1_993_160, 2_000_000, "TPM") == "1.99M of 2.0M TPM"
    assert fmt.peak_of_limit(1_999_990, 2_000_000, "TPM") == "1.99999M of 2.0M TPM"
    assert fmt.peak_of_limit(74, 400, "RPM") == "74 of 400 RPM"
