"""Identity resolution (ARCHITECTURE rule 6) for every identity.arn form Bedrock logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_models import PEOPLE_CSV, SSO, add_bedrock, build, event, new_ledger

ACCT = "arn:aws:sts::111122223333:assumed-role/"
IAM = "arn:aws:iam::111122223333:user/"

RULES = [
    {"match": r"^arn:aws:iam::\d+:user/BedrockAPIKey-x7k2$", "developer": "bob@corp.example"},
    {"match": r"^arn:aws:sts::\d+:assumed-role/ci-runner/", "team": "platform"},
    {
        "match": "AWSReservedSSO_Robots_",
        "developer": "unattributed",
        "team": "search",
        "cost_center": "CC-BOTS",
    },
    {"match": "assumed-role/vertex-only/", "team": "data", "source": "vertex"},
    {"match": "user/contractor-kim$", "developer": "kim@partner.example"},
]

# request id, principal, request metadata, expected (developer, team, cost_center, status)
CASES = [
    # IAM Identity Center: the session name is the user's e-mail, compared case-insensitively
    (
        "sso-email",
        SSO + "Alice@Corp.Example",
        None,
        ("alice@corp.example", "payments", "CC-PAY", "directory"),
    ),
    # ... or an alias from the directory
    ("sso-alias", SSO + "ally", None, ("alice@corp.example", "payments", "CC-PAY", "directory")),
    # ... or the e-mail's local part (identity.match_local_part = true)
    ("sso-local", SSO + "truc.le", None, ("truc.le@corp.example", "data", "CC-DATA", "directory")),
    # a local part two people share names no one; the SSO user name is still personal
    (
        "sso-ambiguous",
        SSO + "sam",
        None,
        ("sam", "unattributed", "unattributed", "named_not_in_directory"),
    ),
    # someone missing from the directory keeps the name, team unattributed
    (
        "sso-outsider",
        SSO + "ext.jordan@partner.example",
        None,
        ("ext.jordan@partner.example", "unattributed", "unattributed", "named_not_in_directory"),
    ),
    # ... unless a request tag names the team
    (
        "sso-outsider-tagged",
        SSO + "ext.jordan@partner.example",
        {"team": "search"},
        ("ext.jordan@partner.example", "search", "CC-SEARCH", "named_not_in_directory"),
    ),
    # OIDC / Okta federation: e-mail in the session name of an ordinary role
    (
        "okta",
        ACCT + "BedrockOktaFederatedRole/bob@corp.example",
        None,
        ("bob@corp.example", "platform", "CC-PLAT", "directory"),
    ),
    (
        "okta-outsider",
        ACCT + "BedrockOktaFederatedRole/contractor.sam@partner.example",
        None,
        (
            "contractor.sam@partner.example",
            "unattributed",
            "unattributed",
            "named_not_in_directory",
        ),
    ),
    # a session name on an ordinary role counts only when it is in the directory
    (
        "role-session-in-directory",
        ACCT + "dev-role/truc.le",
        None,
        ("truc.le@corp.example", "data", "CC-DATA", "directory"),
    ),
    (
        "role-session-unknown",
        ACCT + "dev-role/botocore-session-1700000000",
        None,
        ("unattributed", "unattributed", "unattributed", "unattributed"),
    ),
    # IAM users: a person only when the directory, a rule or the name itself (an e-mail) says so
    ("iam-alias", IAM + "alice.a", None, ("alice@corp.example", "payments", "CC-PAY", "directory")),
    (
        "iam-path",
        "arn:aws:iam::111122223333:user/engineering/truc.le",
        None,
        ("truc.le@corp.example", "data", "CC-DATA", "directory"),
    ),
    (
        "iam-email-outsider",
        IAM + "Dana@Partner.Example",
        None,
        ("dana@partner.example", "unattributed", "unattributed", "named_not_in_directory"),
    ),
    # ... otherwise a named service identity: no developer, status 'service'
    (
        "iam-unknown",
        IAM + "carol",
        None,
        ("unattributed", "unattributed", "unattributed", "service"),
    ),
    (
        "iam-bedrock-test",
        IAM + "bedrock-test",
        None,
        ("unattributed", "unattributed", "unattributed", "service"),
    ),
    (
        "iam-observe-test",
        IAM + "observe-test",
        None,
        ("unattributed", "unattributed", "unattributed", "service"),
    ),
    ("iam-user", IAM + "user", None, ("unattributed", "unattributed", "unattributed", "service")),
    # ... whose team tag still counts, and whose developer tag names the person
    (
        "iam-service-team-tag",
        IAM + "observe-test",
        {"team": "search"},
        ("unattributed", "search", "CC-SEARCH", "service"),
    ),
    (
        "iam-service-developer-tag",
        IAM + "bedrock-test",
        {"developer": "bob@corp.example"},
        ("bob@corp.example", "platform", "CC-PLAT", "directory"),
    ),
    # Bedrock API keys: an IAM user BedrockAPIKey-*, no person unless a rule or an alias says so
    (
        "api-key-rule",
        IAM + "BedrockAPIKey-x7k2",
        None,
        ("bob@corp.example", "platform", "CC-PLAT", "rule"),
    ),
    (
        "api-key-alias",
        IAM + "BedrockAPIKey-zz11",
        None,
        ("bob@corp.example", "platform", "CC-PLAT", "directory"),
    ),
    (
        "api-key-unmapped",
        IAM + "BedrockAPIKey-q9m4",
        None,
        ("unattributed", "unattributed", "unattributed", "unattributed"),
    ),
    # a shared CI role: a rule gives the team (its cost center from the directory's team)
    (
        "ci",
        ACCT + "ci-runner/i-0abc123def4567890",
        None,
        ("unattributed", "platform", "CC-PLAT", "rule"),
    ),
    # a batch role whose requests carry requestMetadata tags
    (
        "batch-tagged",
        ACCT + "ranker-batch/ranker-job-42",
        {"team": "search", "project": "ranker"},
        ("unattributed", "search", "CC-SEARCH", "unattributed"),
    ),
    # a developer tag on a shared role names the person
    (
        "tagged-developer",
        ACCT + "ranker-batch/ranker-job-43",
        {"developer": "Alice@corp.example"},
        ("alice@corp.example", "payments", "CC-PAY", "directory"),
    ),
    # the gateway's role: no personal identity
    (
        "gateway",
        ACCT + "litellm-proxy/litellm-session",
        None,
        ("unattributed", "unattributed", "unattributed", "unattributed"),
    ),
    # rules win over everything, may name 'unattributed' and set team and cost center
    (
        "rule-over-sso",
        ACCT + "AWSReservedSSO_Robots_0123456789abcdef/bot@corp.example",
        None,
        ("unattributed", "search", "CC-BOTS", "rule"),
    ),
    # a rule for another source does not apply
    (
        "rule-other-source",
        ACCT + "vertex-only/job",
        None,
        ("unattributed", "unattributed", "unattributed", "unattributed"),
    ),
    # a rule may name someone outside the directory
    (
        "rule-outsider",
        IAM + "contractor-kim",
        None,
        ("kim@partner.example", "unattributed", "unattributed", "rule"),
    ),
    # no principal at all
    ("no-principal", None, None, ("unattributed", "unattributed", "unattributed", "unattributed")),
]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    con = new_ledger()
    for request_id, principal, metadata, _ in CASES:
        add_bedrock(con, request_id, principal=principal, metadata=metadata, input_tokens=1)
    build(
        con,
        tmp_path_factory.mktemp("people"),
        people=PEOPLE_CSV,
        identity={"match_local_part": True, "request_metadata_team_key": "team", "rules": RULES},
        gateway={"identities": ["assumed-role/litellm-proxy/"]},
    )
    yield con
    con.close()


@pytest.mark.parametrize(("request_id", "expected"), [(c[0], c[3]) for c in CASES])
def test_identity(resolved, request_id: str, expected: tuple[str, str, str, str]) -> None:  # type: ignore[no-untyped-def]
    row = event(resolved, request_id)
    assert (row["developer"], row["team"], row["cost_center"], row["identity_status"]) == expected


def test_principal_is_kept_as_logged(resolved) -> None:  # type: ignore[no-untyped-def]
    assert event(resolved, "sso-email")["principal"] == SSO + "Alice@Corp.Example"
    assert event(resolved, "iam-bedrock-test")["principal"] == IAM + "bedrock-test"


def test_service_identities_are_not_developers(resolved) -> None:  # type: ignore[no-untyped-def]
    rows = resolved.execute(
        "select principal, person_hint, developer, developer_name, team, identity_status "
        "from identity_map where identity_status = 'service' order by principal, team_hint"
    ).fetchall()
    assert rows == [
        (IAM + "bedrock-test", None, "unattributed", None, "unattributed", "service"),
        (IAM + "carol", None, "unattributed", None, "unattributed", "service"),
        (IAM + "observe-test", None, "unattributed", None, "search", "service"),
        (IAM + "observe-test", None, "unattributed", None, "unattributed", "service"),
        (IAM + "user", None, "unattributed", None, "unattributed", "service"),
    ]
    developers = {
        r[0]
        for r in resolved.execute(
            "select distinct developer from usage_events where developer <> 'unattributed'"
        ).fetchall()
    }
    assert not {"carol", "bedrock-test", "observe-test", "user"} & developers


def test_project_tag_and_gateway_flag(resolved) -> None:  # type: ignore[no-untyped-def]
    assert event(resolved, "batch-tagged")["project"] == "ranker"
    assert event(resolved, "gateway")["gateway_role"] is True
    assert event(resolved, "ci")["gateway_role"] is False


def test_identity_map_has_one_row_per_identity(resolved) -> None:  # type: ignore[no-untyped-def]
    rows = resolved.execute(
        "select developer, developer_name, team from identity_map where principal = ?",
        [SSO + "Alice@Corp.Example"],
    ).fetchall()
    assert rows == [("alice@corp.example", "Alice Archer", "payments")]
    total = resolved.execute("select count(*) from identity_map").fetchone()[0]
    assert total == len(CASES)  # every case is a distinct (principal, person_hint, team_hint)


def test_local_part_matching_is_opt_in(tmp_path: Path) -> None:
    con = new_ledger()
    add_bedrock(con, "r", principal=SSO + "truc.le", input_tokens=1)
    add_bedrock(con, "s", principal=ACCT + "dev-role/truc.le", input_tokens=1)
    build(con, tmp_path, people=PEOPLE_CSV, identity={"match_local_part": False})
    row = event(con, "r")
    assert (row["developer"], row["team"], row["identity_status"]) == (
        "truc.le",
        "unattributed",
        "named_not_in_directory",
    )
    # not personal on an ordinary role, and not in the directory without local-part matching
    assert event(con, "s")["developer"] == "unattributed"


def test_configured_metadata_keys(tmp_path: Path) -> None:
    con = new_ledger()
    add_bedrock(
        con,
        "r",
        principal=ACCT + "batch/job",
        input_tokens=1,
        metadata={"cost-team": "search", "owner": "bob@corp.example", "app": "ranker"},
    )
    build(
        con,
        tmp_path,
        people=PEOPLE_CSV,
        identity={
            "request_metadata_team_key": "cost-team",
            "request_metadata_developer_key": "owner",
            "request_metadata_project_key": "app",
        },
    )
    row = event(con, "r")
    # the directory's team wins over the tag for a person in the directory
    assert (row["developer"], row["team"], row["project"]) == (
        "bob@corp.example",
        "platform",
        "ranker",
    )


def test_everything_unattributed_without_a_directory() -> None:
    con = new_ledger()
    add_bedrock(con, "r", principal=SSO + "alice@corp.example", input_tokens=1)
    add_bedrock(con, "s", principal=ACCT + "ci-runner/i-0abc", input_tokens=1)
    build(con)
    assert (event(con, "r")["developer"], event(con, "r")["team"]) == (
        "alice@corp.example",
        "unattributed",
    )
    assert event(con, "s")["developer"] == "unattributed"


def test_service_identities_are_listed_as_identity_gaps(resolved) -> None:  # type: ignore[no-untyped-def]
    from models import views

    gaps = {
        (r["identity_status"], r["principal"])
        for r in views.rows(views.identity_gaps(resolved))
        if r["identity_status"] == "service"
    }
    assert gaps == {
        ("service", IAM + "bedrock-test"),
        ("service", IAM + "carol"),
        ("service", IAM + "observe-test"),
        ("service", IAM + "user"),
    }
