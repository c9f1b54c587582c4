"""Configuration errors: one line on stderr naming the key and the fix, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures_models import add_bedrock, new_ledger

from ingest import config
from ingest.cli import cli


def keys(spec: dict) -> str:  # type: ignore[type-arg]
    return ", ".join(sorted(k.rstrip("?") for k in spec))


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LLMLEDGER_CONFIG", raising=False)
    monkeypatch.delenv("LLMLEDGER_DB", raising=False)

    def _write(text: str, name: str = "llmledger.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def run_with(path: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(
        cli, ["--db", str(path.parent / "x.duckdb"), "--config", str(path), *(args or ("report",))]
    )


OVERRIDE = '[[prices.overrides]]\nprovider = "bedrock"\nmodel = "claude-sonnet-4-5"\n'

CASES = [
    ("colour = 1\n", "{p}: unknown key 'colour'; valid keys here: " + keys(config.SPEC)),
    (
        "[identity]\nmatch_local_parts = true\n",
        "{p}: unknown key 'identity.match_local_parts'; valid keys here: "
        + keys(config.SPEC["identity?"]),
    ),
    (
        '[identity]\nmatch_local_part = "yes"\n',
        "{p}: 'identity.match_local_part' must be true or false, got str 'yes'",
    ),
    (
        '[[identity.rules]]\ndeveloper = "a@b.c"\n',
        "{p}: missing key 'identity.rules[0].match'; add it",
    ),
    (
        '[[identity.rules]]\nmatch = "ci-(runner"\n',
        "{p}: 'identity.rules[0].match' = 'ci-(runner' is not a valid regular expression "
        "(missing ), unterminated subpattern at position 3)",
    ),
    (
        '[gateway]\nidentities = ["litellm["]\n',
        "{p}: 'gateway.identities[0]' = 'litellm[' is not a valid regular expression "
        "(unterminated character set at position 7)",
    ),
    (
        '[[sources.bedrock_s3]]\nprefix = "logs"\n',
        "{p}: missing key 'sources.bedrock_s3[0].bucket'; add it",
    ),
    (
        '[sources]\nbedrock_s3 = "my-bucket"\n',
        "{p}: 'sources.bedrock_s3' must be an array (use [[sources.bedrock_s3]] tables)",
    ),
    (
        OVERRIDE + 'valid_from = "2026-01-01"\n',
        "{p}: prices.overrides[0]: give exactly one of usd_per_mtok or discount_pct",
    ),
    (
        OVERRIDE + 'usd_per_mtok = "3"\ndiscount_pct = 10\nvalid_from = "2026-01-01"\n',
        "{p}: prices.overrides[0]: give exactly one of usd_per_mtok or discount_pct",
    ),
    (
        OVERRIDE + 'usd_per_mtok = "2.5"\nvalid_from = "2026-01-01"\n',
        "{p}: prices.overrides[0]: usd_per_mtok needs token_type "
        "(input, output, cache_read, cache_write_5m, cache_write_1h)",
    ),
    (
        OVERRIDE + 'token_type = "prompt"\nusd_per_mtok = "2.5"\nvalid_from = "2026-01-01"\n',
        "{p}: prices.overrides[0].token_type = 'prompt'; use one of "
        "input, output, cache_read, cache_write_5m, cache_write_1h",
    ),
    (
        OVERRIDE + 'scope = "us"\ndiscount_pct = 10\nvalid_from = "2026-01-01"\n',
        "{p}: prices.overrides[0].scope = 'us'; use one of global, geo, regional, in_region",
    ),
    (
        OVERRIDE + 'discount_pct = "ten"\nvalid_from = "2026-01-01"\n',
        "{p}: 'prices.overrides[0].discount_pct' must be a non-negative number, got 'ten'",
    ),
    (
        OVERRIDE + 'discount_pct = 120\nvalid_from = "2026-01-01"\n',
        "{p}: prices.overrides[0].discount_pct must be between 0 and 100",
    ),
    (
        OVERRIDE + 'discount_pct = 10\nvalid_from = "January"\n',
        "{p}: prices.overrides[0].valid_from = 'January' is not a date (YYYY-MM-DD)",
    ),
    (OVERRIDE + "discount_pct = 10\n", "{p}: missing key 'prices.overrides[0].valid_from'; add it"),
    (
        OVERRIDE + 'discount_pct = 1.5e400\nvalid_from = "2026-01-01"\n',
        "{p}: 'prices.overrides[0].discount_pct' must be a non-negative number, got inf",
    ),
    (
        '[[budgets]]\nteam = "data"\nmonthly_usd = "-5"\n',
        "{p}: 'budgets[0].monthly_usd' must be a non-negative number, got '-5'",
    ),
    (
        '[[budgets]]\nteam = "data"\nmonthly_usd = true\n',
        "{p}: 'budgets[0].monthly_usd' must be a number or a decimal string, got bool True",
    ),
    (
        '[people]\ndirectory = "missing.csv"\n',
        "{p}: people.directory = 'missing.csv' not found (looked at {d}/missing.csv); "
        "fix the path (relative to the config file)",
    ),
    (
        "[database\npath = 1\n",
        "config file {p} is not valid TOML: Expected ']' at the end of a table declaration "
        "(at line 1, column 10)",
    ),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_config_errors_are_one_line_and_exit_2(write, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = write(text)
    result = run_with(path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {message.format(p=path, d=path.parent)}\n"


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(cli, ["--config", str(missing), "report"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: config file {missing} not found; pass --config FILE or set LLMLEDGER_CONFIG "
        "to an existing file\n"
    )


def test_not_utf8(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'title = "caf\xe9"\n')
    result = run_with(path)
    assert result.exit_code == 2
    assert result.stderr == f"error: config file {path} is not UTF-8 text\n"


@pytest.mark.parametrize(
    ("people", "message"),
    [
        (
            "name,team\nAlice,data\n",
            "{c}: missing column 'email'; the people directory needs the columns "
            "email,name,team[,cost_center,manager,aliases]",
        ),
        (
            "email,name,team\nalice@x.example,Alice,data\n,Nobody,data\n",
            "{c}:3: email is empty; fill it in or drop the row",
        ),
        (
            "email,name,team\nalice@x.example,Alice,data\nALICE@x.example,Alice,data\n",
            "{c}:3: duplicate email 'ALICE@x.example'; keep one row per person",
        ),
    ],
)
def test_bad_people_directory_fails_the_build(write, people: str, message: str) -> None:  # type: ignore[no-untyped-def]
    csv_path = write(people, "people.csv")
    path = write('[people]\ndirectory = "people.csv"\n')
    con = new_ledger(path.parent / "x.duckdb")
    add_bedrock(con, "r", input_tokens=1)
    con.close()
    result = run_with(path, "build")
    assert result.exit_code == 2
    assert result.stderr == f"error: {message.format(c=csv_path)}\n"


def test_rule_regex_duckdb_cannot_run(write) -> None:  # type: ignore[no-untyped-def]
    # valid for Python's re, not for DuckDB's RE2 (no look-ahead): caught when the build loads it
    path = write('[[identity.rules]]\nmatch = "^(?!ci-)"\nteam = "x"\n')
    result = run_with(path, "build")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: identity.rules[0].match = '^(?!ci-)' is not a valid regular expression "
        "(RE2 syntax)\n"
    )


def test_valid_config_loads(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write("email,name,team\nalice@x.example,Alice,data\n", "people.csv")
    path = write(
        '[people]\ndirectory = "people.csv"\n'
        "[identity]\nmatch_local_part = true\n"
        "[[identity.rules]]\nmatch = '^arn:aws:iam::\\d+:user/BedrockAPIKey-x7k2$'\n"
        'developer = "alice@x.example"\n'
        '[bedrock.application_profiles]\n"arn:aws:bedrock:us-west-2:1:application-inference-'
        'profile/abc" = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"\n'
        + OVERRIDE
        + 'token_type = "input"\nusd_per_mtok = 2.5\nscope = "geo"\n'
        'valid_from = "2026-11-15T12:00:00Z"\n'
    )
    cfg = config.load(path)
    assert cfg.people_directory == tmp_path / "people.csv"
    result = run_with(path, "doctor")
    assert result.exit_code == 1  # no database yet: a failed check, not a config error
    assert f"ok       config: {path}" in result.stdout
