"""models/views.py: each dashboard query against a snapshot whose every number is known."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from fixtures_dashboard import EXPECTED, build

from models import snapshot, views

PERIOD = views.Filters(since=date(2026, 11, 1), until=date(2026, 11, 10))
QUOTA = "sonnet us-east-1 geo"


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    path = build(tmp_path_factory.mktemp("views") / "snapshot.duckdb")
    connection = snapshot.open_snapshot(path)
    yield connection
    connection.close()


def rows(table) -> list[dict]:  # type: ignore[no-untyped-def]
    return table.to_pylist()


def test_overview_totals_equal_report_and_the_known_figures(con) -> None:
    totals = views.overview_totals(con, PERIOD)
    assert totals["cost_usd"] == EXPECTED["cost"]
    assert totals["requests"] == EXPECTED["requests"]
    assert (
        totals["input_tokens"],
        totals["output_tokens"],
        totals["cache_read_tokens"],
        totals["cache_write_5m_tokens"],
        totals["cache_write_1h_tokens"],
    ) == (2600, 4400, 5000, 1000, 0)
    assert totals["errors"] == 1 and totals["throttled"] == 3
    assert totals["unpriced_requests"] == 2
    assert totals["active_developers"] == 5  # alice, bob, carol, dave, erin (not 'unattributed')
    assert totals["cost_per_active_developer_usd"] == Decimal("0.88")  # 4.40 / 5
    assert totals["unattributed_team_cost_usd"] == EXPECTED["unattributed_cost"]
    assert totals["unattributed_share"] == pytest.approx(0.3 / 4.7)  # developer unknown
    assert totals["cache_hit_rate"] == pytest.approx(5000 / (2600 + 5000 + 1000))
    assert totals["cache_saved_usd"] == Decimal("0.4")  # uncached 5.1 - 4.7
    by_team = views.rows(views.report(con, "team", date(2026, 11, 1), date(2026, 11, 11)))
    assert sum(r["cost_usd"] or 0 for r in by_team) == totals["cost_usd"]
    assert sum(r["requests"] for r in by_team) == totals["requests"]


def test_filters_narrow_every_total(con) -> None:
    data = views.overview_totals(
        con, views.Filters(since=PERIOD.since, until=PERIOD.until, teams=("data",))
    )
    assert data["cost_usd"] == EXPECTED["data_cost"] and data["requests"] == 19
    opus = views.overview_totals(
        con, views.Filters(since=PERIOD.since, until=PERIOD.until, models=("claude-opus-4-6",))
    )
    assert opus["cost_usd"] == Decimal("2.0") and opus["requests"] == 4
    litellm = views.overview_totals(
        con, views.Filters(since=PERIOD.since, until=PERIOD.until, sources=("litellm",))
    )
    assert litellm["cost_usd"] == Decimal("0.6")
    one_day = views.overview_totals(
        con, views.Filters(since=date(2026, 11, 2), until=date(2026, 11, 2))
    )
    assert one_day["cost_usd"] == Decimal("2.5") and one_day["requests"] == 9


def test_access_scope_is_applied_on_top_of_filters(con) -> None:
    scoped = views.Filters(since=PERIOD.since, until=PERIOD.until, allowed_teams=("search",))
    assert views.overview_totals(con, scoped)["cost_usd"] == EXPECTED["search_cost"]
    # asking for a team outside the scope shows nothing rather than that team
    outside = views.Filters(
        since=PERIOD.since, until=PERIOD.until, teams=("data",), allowed_teams=("search",)
    )
    assert views.overview_totals(con, outside)["requests"] == 0
    assert [r["team"] for r in rows(views.team_table(con, scoped))] == ["search"]
    options = views.filter_options(con, ("search",))
    assert options["team"] == ["search"]
    assert options["developer"] == ["carol@acme.example", "dave@acme.example"]


def test_managed_teams_come_from_the_manager_column(con) -> None:
    assert views.managed_teams(con, "boss@acme.example") == ("data", "search")
    assert views.managed_teams(con, "SAM@acme.example") == ("search",)
    assert views.managed_teams(con, "alice@acme.example") == ()


def test_team_table_compares_with_the_previous_period(con) -> None:
    table = {r["team"]: r for r in rows(views.team_table(con, PERIOD))}
    assert set(table) == {"data", "search", "unattributed"}
    data, search = table["data"], table["search"]
    assert data["cost_usd"] == Decimal("1.6") and data["previous_cost_usd"] == Decimal("0.8")
    assert data["change_pct"] == pytest.approx(1.0)
    assert (data["errors"], data["throttled"], data["requests"]) == (1, 3, 19)
    assert search["cost_usd"] == Decimal("2.6") and search["previous_cost_usd"] == Decimal("4.0")
    assert search["change_usd"] == Decimal("-1.4")
    assert table["unattributed"]["previous_cost_usd"] is None
    # the team table adds up to report --by team
    report = {
        r["team"]: r["cost_usd"]
        for r in views.rows(views.report(con, "team", date(2026, 11, 1), date(2026, 11, 11)))
    }
    assert {t: r["cost_usd"] for t, r in table.items()} == report


def test_developer_drill_down(con) -> None:
    devs = rows(
        views.developer_table(
            con, views.Filters(since=PERIOD.since, until=PERIOD.until, teams=("data",))
        )
    )
    assert [(d["developer"], d["cost_usd"]) for d in devs] == [
        ("alice@acme.example", Decimal("1.1")),
        ("bob@acme.example", Decimal("0.5")),
    ]
    daily = rows(views.developer_daily(con, PERIOD, "alice@acme.example"))
    assert [(str(r["day"]), r["model"], r["requests"]) for r in daily] == [
        ("2026-11-01", "claude-sonnet-4-5", 10),
        ("2026-11-03", "claude-sonnet-4-5", 4),
    ]
    mix = rows(views.developer_models(con, PERIOD, "carol@acme.example"))
    assert [(m["model"], m["cost_usd"], m["unpriced_requests"]) for m in mix] == [
        ("claude-opus-4-6", Decimal("2.0"), 0),
        ("claude-fable-5", None, 2),
    ]


def test_provider_table_splits_source_and_provider(con) -> None:
    providers = {
        (r["source"], r["provider"]): r["cost_usd"] for r in rows(views.provider_table(con, PERIOD))
    }
    assert providers == {
        ("bedrock", "bedrock"): Decimal("3.9"),
        ("litellm", "bedrock"): Decimal("0.6"),
        ("vertex", "vertex"): Decimal("0.2"),
    }


def test_scope_premium_against_global_prices(con) -> None:
    premium = {
        (r["provider"], r["model"], r["pricing_scope"]): r["premium_usd"]
        for r in rows(views.scope_premium(con, PERIOD))
    }
    # geo at 3.75 vs global 3 per Mtok: 1.10 at geo prices is 0.88 at global ones
    assert premium[("bedrock", "claude-sonnet-4-5", "geo")] == Decimal("0.22")
    assert premium[("vertex", "claude-sonnet-4-5", "regional")] == Decimal("0.04")
    assert premium[("bedrock", "claude-sonnet-4-5", "global")] == 0
    assert premium[("bedrock", "claude-fable-5", "geo")] is None  # no price at all


def test_litellm_spend_beside_our_cost(con) -> None:
    litellm = rows(views.litellm_vs_ours(con, PERIOD))
    assert [(r["litellm_spend_usd"], r["our_cost_usd"], r["difference_usd"]) for r in litellm] == [
        (Decimal("0.65"), Decimal("0.6"), Decimal("0.05"))
    ]


def test_gateway_reconciliation_and_spend_differences(con) -> None:
    # the reconciliation is models.reconcile's (as `llmledger report --reconcile`)
    gateway = [
        (r["category"], r["requests"]) for r in rows(views.gateway_reconciliation(con, PERIOD))
    ]
    assert gateway == [("matched", 1), ("only_in_provider", 1)]
    causes = [
        (r["cause"], r["difference_usd"]) for r in rows(views.litellm_differences(con, PERIOD))
    ]
    assert causes == [("other", Decimal("0.05"))]


def test_budget_month_to_date_and_forecast(con) -> None:
    budgets = {r["team"]: r for r in rows(views.budget_status(con, PERIOD))}
    # the last day with data is 2026-11-06: six days of November
    data = budgets["data"]
    assert (data["as_of"], data["mtd_cost_usd"], data["budget_usd"]) == (
        date(2026, 11, 6),
        Decimal("1.6"),
        Decimal("3"),
    )
    assert data["forecast_usd"] == Decimal("8")  # 1.6 * 30 / 6
    assert budgets["mobile"]["mtd_cost_usd"] == 0  # a budget with no spend still shows
    assert budgets["unattributed"]["budget_usd"] is None
    scoped = views.budget_status(
        con, views.Filters(since=PERIOD.since, until=PERIOD.until, allowed_teams=("data",))
    )
    assert [r["team"] for r in rows(scoped)] == ["data"]


def test_rate_limits_per_quota(con) -> None:
    summary = {r["quota"]: r for r in rows(views.quota_summary(con, PERIOD))}
    sonnet = summary[QUOTA]
    # us-west-2 traffic (99k tokens in a minute) is not under the us-east-1 quota
    assert sonnet["peak_tokens_per_minute"] == 9000
    assert sonnet["peak_requests_per_minute"] == 9
    assert sonnet["peak_utilisation"] == pytest.approx(0.9)
    assert sonnet["minutes_above_80pct"] == 3  # 10:00 (90% TPM), 10:01 (85%), 11:00 (90% RPM)
    assert sonnet["throttled_requests"] == 3
    assert sonnet["peak_minute"] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    opus = summary["bedrock claude-opus-4-6 global us-east-1"]
    assert opus["peak_utilisation"] == pytest.approx(0.3) and opus["minutes_above_80pct"] == 0


def test_rate_limits_list_account_quotas_first_and_when_each_peak_happened(con) -> None:
    summary = rows(views.quota_summary(con, PERIOD))
    assert [(r["quota"], r["limit_kind"]) for r in summary] == [
        (QUOTA, "quota"),  # 90%
        ("bedrock claude-opus-4-6 global us-east-1", "quota"),  # 30%
        ("LiteLLM team search", "litellm_team"),  # 80%: LiteLLM's own limits after the account's
        ("LiteLLM key dave-key", "litellm_key"),
    ]
    sonnet = summary[0]
    # tokens peaked at 10:00, requests at 11:00; nothing passed 100%
    assert sonnet["peak_tokens_minute"] == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert sonnet["peak_requests_minute"] == datetime(2026, 11, 1, 11, 0, tzinfo=UTC)
    assert (sonnet["minutes_above_100pct"], sonnet["throttled_above_100pct"]) == (0, 0)


@pytest.mark.parametrize(
    ("teams", "developers", "litellm"),
    [
        (("search",), (), ["LiteLLM team search", "LiteLLM key dave-key"]),
        (("data",), (), []),
        ((), ("carol@acme.example",), ["LiteLLM team search"]),  # her team's, not dave's key
        (("data",), ("dave@acme.example",), []),  # dave is not in data
    ],
)
def test_team_and_developer_filters_narrow_litellm_limits_only(
    con, teams: tuple[str, ...], developers: tuple[str, ...], litellm: list[str]
) -> None:
    f = views.Filters(since=PERIOD.since, until=PERIOD.until, teams=teams, developers=developers)
    listed = [r["quota"] for r in rows(views.quota_summary(con, f))]
    assert listed == [QUOTA, "bedrock claude-opus-4-6 global us-east-1", *litellm]
    # an account quota's figures are everyone's, whatever the filter
    assert rows(views.quota_summary(con, f))[0]["peak_tokens_per_minute"] == 9000


def test_quota_timeline_and_heatmap(con) -> None:
    timeline = rows(views.quota_timeline(con, PERIOD, QUOTA))
    assert [(r["hour"].hour, r["peak_utilisation"]) for r in timeline] == [
        (10, pytest.approx(0.9)),
        (11, pytest.approx(0.9)),
        (9, pytest.approx(0.3)),
    ]
    heat = rows(views.quota_heatmap(con, PERIOD, QUOTA))
    assert [(str(r["day"]), r["hour_of_day"]) for r in heat] == [
        ("2026-11-01", 10),
        ("2026-11-01", 11),
        ("2026-11-03", 9),
    ]


def test_peak_drivers_share_the_busiest_minutes(con) -> None:
    # the three busiest minutes: 10:00 (90% of TPM), 11:00 (90% of RPM), 10:01 (85%)
    drivers = rows(views.peak_drivers(con, PERIOD, QUOTA, top_minutes=3))
    assert [(d["developer"], d["peak_minutes"], d["tokens"]) for d in drivers] == [
        ("alice@acme.example", 3, 14000),
        ("bob@acme.example", 1, 4500),
    ]
    assert [round(d["share"], 4) for d in drivers] == [
        round(14000 / 18500, 4),
        round(4500 / 18500, 4),
    ]
    # by default the 20 busiest minutes: all four with traffic
    drivers = rows(views.peak_drivers(con, PERIOD, QUOTA))
    assert [(d["developer"], d["peak_minutes"], d["tokens"]) for d in drivers] == [
        ("alice@acme.example", 4, 16000),
        ("bob@acme.example", 1, 4500),
    ]
    opus_drivers = rows(views.peak_drivers(con, PERIOD, "bedrock claude-opus-4-6 global us-east-1"))
    assert [d["developer"] for d in opus_drivers] == ["carol@acme.example"]
    # a date range without the peak
    later = views.Filters(since=date(2026, 11, 2), until=date(2026, 11, 10))
    assert {r["quota"]: r["minutes_above_80pct"] for r in rows(views.quota_summary(con, later))}[
        QUOTA
    ] == 0


def test_litellm_key_and_team_limits(con) -> None:
    summary = {r["quota"]: r for r in rows(views.quota_summary(con, PERIOD))}
    # 600 input + 600 output tokens in one minute: LiteLLM counts every token (1,200)
    key = summary["LiteLLM key dave-key"]
    assert (key["limit_kind"], key["peak_tokens_per_minute"], key["peak_requests_per_minute"]) == (
        "litellm_key",
        1200,
        6,
    )
    assert key["peak_utilisation"] == pytest.approx(0.6) and key["minutes_above_80pct"] == 0
    team = summary["LiteLLM team search"]
    assert team["peak_utilisation"] == pytest.approx(0.8) and team["minutes_above_80pct"] == 1
    drivers = rows(views.peak_drivers(con, PERIOD, "LiteLLM team search", top_minutes=1))
    assert [(d["developer"], d["tokens"]) for d in drivers] == [("dave@acme.example", 1200)]
    # the provider-side quota does not see LiteLLM's own limits' traffic twice
    assert summary["sonnet us-east-1 geo"]["peak_tokens_per_minute"] == 9000


def test_rate_limits_without_quota_limits(tmp_path: Path) -> None:
    """A snapshot without quota_limits (no LiteLLM models) measures ref_quotas alone."""
    path = build(tmp_path / "old.duckdb", quota_limits=False)
    con = snapshot.open_snapshot(path)
    summary = {r["quota"]: r for r in rows(views.quota_summary(con, PERIOD))}
    con.close()
    assert set(summary) == {"sonnet us-east-1 geo", "bedrock claude-opus-4-6 global us-east-1"}
    assert summary["sonnet us-east-1 geo"]["minutes_above_80pct"] == 3


def test_data_health(con) -> None:
    health = {r["source"]: r for r in rows(views.source_health(con))}
    # ingest sources with their family's newest record; a family with data but no run listed
    assert set(health) == {"bedrock-files", "vertex", "litellm"}
    files = health["bedrock-files"]
    assert (files["last_status"], files["newest_record_minute"]) == (
        "ok",
        datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
    )
    assert health["vertex"]["last_status"] == "failed"
    assert health["vertex"]["last_success_at"] is None
    assert health["vertex"]["newest_record_minute"] is None  # no vertex minutes in this snapshot
    assert "permission denied" in health["vertex"]["last_message"]
    assert health["litellm"]["last_run_at"] is None
    gaps = [(r["identity_status"], r["principal"]) for r in rows(views.identity_gaps(con))]
    assert gaps == [
        ("named_not_in_directory", "erin@contractor.example"),
        ("unattributed", "arn:aws:sts::1:assumed-role/shared/x"),
    ]
    rejected = [(r["reason"], r["records"]) for r in rows(views.rejected_by_reason(con))]
    assert rejected[0] == ("malformed JSON", 2)
    unpriced = rows(views.unpriced_models(con, PERIOD))
    assert [(r["model"], r["unpriced_requests"]) for r in unpriced] == [("claude-fable-5", 2)]
    unmapped = rows(views.unmapped_identities(con, PERIOD))
    assert [(r["principal"], r["identity_status"], r["requests"]) for r in unmapped] == [
        ("arn:aws:sts::1:assumed-role/shared/x", "unattributed", 2),
        ("erin@contractor.example", "named_not_in_directory", 1),
        # the gateway's own role, counted where LiteLLM has no row for the request
        ("arn:aws:sts::1:assumed-role/litellm/proxy", "unattributed", 1),
    ]


def test_previous_period_has_the_same_length() -> None:
    prev = views.Filters(since=date(2026, 11, 1), until=date(2026, 11, 10)).previous()
    assert prev is not None and (prev.since, prev.until) == (date(2026, 10, 22), date(2026, 10, 31))
    f = views.Filters(
        since=date(2026, 11, 1), until=date(2026, 11, 10), teams=("x",), allowed_teams=("a", "b")
    )
    assert f.report_range() == (date(2026, 11, 1), date(2026, 11, 11))
    assert f.report_filters()["team"] == [views.NO_TEAM]  # x is outside the scope


def test_every_view_runs_on_a_read_only_snapshot(con) -> None:  # type: ignore[no-untyped-def]
    # the dashboard's connection is read-only: a view that wrote anything would raise here
    arguments = {
        "f": PERIOD,
        "by": "team",
        "developer": "alice@acme.example",
        "quota": QUOTA,
        "viewer": "boss@acme.example",
        "allowed_teams": None,
    }
    called = []
    for name, function in vars(views).items():
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        if function.__module__ != views.__name__:
            continue
        parameters = list(inspect.signature(function).parameters.values())
        if not parameters or parameters[0].name != "con":
            continue
        required = [
            p.name
            for p in parameters[1:]
            if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
        ]
        function(con, **{n: arguments[n] for n in required})
        called.append(name)
    assert {"overview_totals", "budget_status", "peak_drivers", "report", "totals"} <= set(called)
    with pytest.raises(duckdb.Error):
        con.execute("create table x (a int)")


def test_data_freshness_is_the_newest_record_the_reader_may_see(con) -> None:
    everyone = views.read(views.EVERYONE, con, "data_freshness", None)
    data_only = views.read(views.Scope(teams=("data",), admin=False), con, "data_freshness")
    nobody = views.read(views.NOBODY, con, "data_freshness")
    newest = con.execute("select max(occurred_at) from usage_events").fetchone()[0]
    assert everyone == newest.astimezone(UTC).replace(tzinfo=None)
    (data_newest,) = con.execute(
        "select max(occurred_at) from usage_events where team = 'data'"
    ).fetchone()
    assert data_only == data_newest.astimezone(UTC).replace(tzinfo=None)
    assert nobody is None


def test_filter_options_name_each_developers_teams(con) -> None:
    teams_of = views.filter_options(con)["developer_teams"]
    assert teams_of["alice@acme.example"] == ["data"]
    assert teams_of["carol@acme.example"] == ["search"]
    assert (
        "alice@acme.example"
        not in views.read(views.Scope(teams=("search",), admin=False), con, "filter_options", None)[
            "developer_teams"
        ]
    )
