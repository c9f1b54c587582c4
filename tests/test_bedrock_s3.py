"""Bedrock S3 source against moto's real S3 server (through boto3 and AWS_ENDPOINT_URL)."""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from moto_server import (  # noqa: F401 - fixtures
    ACCOUNT,
    OTHER_ACCOUNT,
    aws,
    gz,
    log_key,
    moto_endpoint,
    put_objects,
    record,
)

from ingest import runner, store
from ingest.context import AppContext
from ingest.errors import ConfigError, SourceUnavailable
from ingest.runner import run_source
from ingest.sources.bedrock import format as bedrock

pytestmark = pytest.mark.service

BUCKET = "acme-bedrock-logs"
PREFIX = "bedrock-logs"


def _app(tmp_path: Path, name: str = "ledger.duckdb") -> AppContext:
    return AppContext.create(str(tmp_path / name), None, quiet=True)


def _key(account: str, region: str, hour: str, name: str) -> str:
    return log_key(PREFIX, account, region, hour, name)


def _four_partitions() -> dict[str, bytes]:
    """2 accounts x 2 regions, 2 hours each, 3 records per object; plus things to skip."""
    objects: dict[str, bytes] = {}
    n = 0
    for account in (ACCOUNT, OTHER_ACCOUNT):
        for region in ("us-east-1", "us-west-2"):
            for hour in ("2026/11/20/09", "2026/11/20/10"):
                ids = [f"{account[:3]}-{region}-{hour[-2:]}-{i}" for i in range(3)]
                name = f"202611{hour[8:10]}T{hour[-2:]}0000000Z_{n:016x}.json.gz"
                objects[_key(account, region, hour, name)] = gz(
                    [record(i, account=account, region=region) for i in ids]
                )
                n += 1
            # A body object and a zero-byte batch file: never parsed.
            objects[_key(account, region, "2026/11/20/10", "data/big_input.json.gz")] = gz(
                [{"messages": "LLMLEDGER-BODY-SENTINEL"}]
            )
        marker = f"{PREFIX}/AWSLogs/{account}/BedrockModelInvocationLogs/"
        objects[marker + bedrock.PERMISSION_CHECK_MARKER] = b""
    objects[f"{PREFIX}/{bedrock.PERMISSION_CHECK_MARKER}"] = b""
    return objects


def _bucket(aws: Any, objects: dict[str, bytes]) -> Any:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    put_objects(s3, BUCKET, objects)
    return s3


def _count_calls(s3: Any, operation: str) -> list[dict[str, Any]]:
    """Parameters of every ``operation`` call the client makes (botocore event hook)."""
    calls: list[dict[str, Any]] = []
    s3.meta.events.register(
        f"provide-client-params.s3.{operation}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def _run(app: AppContext, con: Any, s3: Any, **options: Any) -> Any:
    opts = {"bucket": BUCKET, "prefix": PREFIX} | options
    since, until = opts.pop("since", None), opts.pop("until", None)
    return run_source(app, con, "bedrock-s3", opts, since=since, until=until, client=s3)


def _cursors(con: Any) -> dict[str, str]:
    rows = con.execute(
        "select partition, value from ingest_cursors where source = 'bedrock-s3'"
    ).fetchall()
    return dict(rows)


def test_several_accounts_and_regions_under_one_prefix(aws: Any, tmp_path: Path) -> None:
    s3 = _bucket(aws, _four_partitions())
    app = _app(tmp_path)
    con = app.connect()
    result = run_source(app, con, "bedrock-s3", {"bucket": BUCKET, "prefix": PREFIX})
    assert (result.new_rows, result.updated_rows, result.rejected_rows) == (24, 0, 0)
    by_partition = con.execute(
        "select account_id, region, count(*) from raw_bedrock group by all order by all"
    ).fetchall()
    assert by_partition == [
        (ACCOUNT, "us-east-1", 6),
        (ACCOUNT, "us-west-2", 6),
        (OTHER_ACCOUNT, "us-east-1", 6),
        (OTHER_ACCOUNT, "us-west-2", 6),
    ]
    cursors = _cursors(con)
    assert sorted(cursors) == [
        f"{ACCOUNT}/us-east-1",
        f"{ACCOUNT}/us-west-2",
        f"{OTHER_ACCOUNT}/us-east-1",
        f"{OTHER_ACCOUNT}/us-west-2",
    ]
    assert cursors[f"{ACCOUNT}/us-west-2"] == _key(
        ACCOUNT, "us-west-2", "2026/11/20/10", "20261120T100000000Z_0000000000000003.json.gz"
    )
    # 16 batch files read; data/ bodies, markers and nothing else.
    processed = con.execute(
        "select count(*), sum(records), count(*) filter (where object_key like '%/data/%') "
        "from processed_objects where source = 'bedrock-s3'"
    ).fetchone()
    assert processed == (8, 24, 0)
    location = con.execute(
        "select source_location, source_kind from raw_bedrock where request_id = ?",
        [f"{OTHER_ACCOUNT[:3]}-us-east-1-09-1"],
    ).fetchone()
    assert location == (
        f"s3://{BUCKET}/"
        + _key(
            OTHER_ACCOUNT,
            "us-east-1",
            "2026/11/20/09",
            "20261120T090000000Z_0000000000000004.json.gz",
        )
        + ":2",
        "s3",
    )
    assert s3 is not None


def test_incremental_run_lists_and_reads_only_new_objects(aws: Any, tmp_path: Path) -> None:
    s3 = _bucket(aws, _four_partitions())
    app = _app(tmp_path)
    con = app.connect()
    _run(app, con, s3)

    late_in_overlap = _key(
        ACCOUNT, "us-east-1", "2026/11/20/09", "20261120T095959000Z_late.json.gz"
    )
    next_hour = _key(ACCOUNT, "us-east-1", "2026/11/20/11", "20261120T110500000Z_new.json.gz")
    put_objects(
        s3,
        BUCKET,
        {
            late_in_overlap: gz([record("late-1")]),
            next_hour: gz([record("new-1"), record("new-2")]),
        },
    )
    gets = _count_calls(s3, "GetObject")
    lists = _count_calls(s3, "ListObjectsV2")
    result = _run(app, con, s3)
    assert (result.new_rows, result.updated_rows, result.unchanged_rows) == (3, 0, 0)
    assert sorted(call["Key"] for call in gets) == sorted([late_in_overlap, next_hour])
    # Each partition is listed from one hour before its cursor's hour, not from the start.
    starts = sorted(c["StartAfter"] for c in lists if "StartAfter" in c)
    assert starts == sorted(
        _key(a, r, "2026/11/20/09", "").rstrip("/")
        for a in (ACCOUNT, OTHER_ACCOUNT)
        for r in ("us-east-1", "us-west-2")
    )
    assert _cursors(con)[f"{ACCOUNT}/us-east-1"] == next_hour

    gets.clear()
    before = con.execute("select * from raw_bedrock order by request_id").fetchall()
    again = _run(app, con, s3)
    assert (again.new_rows, again.updated_rows, again.unchanged_rows, again.rejected_rows) == (
        0,
        0,
        0,
        0,
    )
    assert gets == []
    assert con.execute("select * from raw_bedrock order by request_id").fetchall() == before


def test_changed_object_is_read_again(aws: Any, tmp_path: Path) -> None:
    key = _key(ACCOUNT, "us-east-1", "2026/11/20/09", "20261120T090000000Z_a.json.gz")
    s3 = _bucket(aws, {key: gz([record("r-1", output_tokens=5)])})
    app = _app(tmp_path)
    con = app.connect()
    _run(app, con, s3)
    put_objects(s3, BUCKET, {key: gz([record("r-1", output_tokens=7), record("r-2")])})
    result = _run(app, con, s3)
    assert (result.new_rows, result.updated_rows) == (1, 1)
    assert con.execute(
        "select output_tokens from raw_bedrock where request_id = 'r-1'"
    ).fetchone() == (7,)


def test_object_deleted_after_listing_is_skipped(aws: Any, tmp_path: Path) -> None:
    gone = _key(ACCOUNT, "us-east-1", "2026/11/20/09", "20261120T090000000Z_gone.json.gz")
    kept = _key(ACCOUNT, "us-east-1", "2026/11/20/09", "20261120T091000000Z_kept.json.gz")
    s3 = _bucket(aws, {gone: gz([record("gone-1")]), kept: gz([record("kept-1")])})
    other = aws.client("s3")

    def expire(params: dict[str, Any], **_: Any) -> None:
        if params["Key"] == gone:  # a lifecycle rule removes it between listing and reading
            other.delete_object(Bucket=BUCKET, Key=gone)

    s3.meta.events.register("provide-client-params.s3.GetObject", expire)
    app = _app(tmp_path)
    con = app.connect()
    result = _run(app, con, s3)
    assert (result.new_rows, result.rejected_rows) == (1, 0)
    assert con.execute("select object_key from processed_objects").fetchall() == [
        (f"s3://{BUCKET}/{kept}",)
    ]


def test_kill_between_batches_then_rerun_gives_one_clean_run(
    aws: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = _four_partitions()
    # A duplicate across batches and a bad line, so every table has something to compare.
    objects[_key(ACCOUNT, "us-west-2", "2026/11/20/10", "20261120T103000000Z_dup.json.gz")] = gz(
        [record(f"{ACCOUNT[:3]}-us-east-1-09-0"), "{not json"]
    )
    s3 = _bucket(aws, objects)

    clean_app = _app(tmp_path, "clean.duckdb")
    clean = clean_app.connect()
    _run(clean_app, clean, s3, batch_objects=2)

    app = _app(tmp_path, "killed.duckdb")
    con = app.connect()
    real_write = runner._commit
    calls = {"n": 0}

    def dying_write(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed between batches")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(runner, "_commit", dying_write)
    with pytest.raises(KeyboardInterrupt):
        _run(app, con, s3, batch_objects=2)
    assert con.execute("select count(*) from processed_objects").fetchone() == (4,)
    assert con.execute("select count(*) from raw_bedrock").fetchone() == (12,)
    monkeypatch.setattr(runner, "_commit", real_write)
    _run(app, con, s3, batch_objects=2)

    def state(c: Any) -> list[Any]:
        return [
            c.execute("select * from raw_bedrock order by request_id").fetchall(),
            c.execute(
                "select object_key, etag, records from processed_objects order by 1"
            ).fetchall(),
            c.execute(
                "select source, location, reason from rejected_records order by 2"
            ).fetchall(),
            c.execute("select source, partition, value from ingest_cursors order by 2").fetchall(),
        ]

    assert state(con) == state(clean)
    assert con.execute("select count(*) from raw_bedrock").fetchone() == (24,)
    assert con.execute("select count(*) from rejected_records").fetchone() == (1,)


def test_since_until_restrict_the_hours_read(aws: Any, tmp_path: Path) -> None:
    from datetime import date

    objects = {
        _key(ACCOUNT, "us-east-1", f"2026/11/{day}/23", f"202611{day}T230000000Z_x.json.gz"): gz(
            [record(f"day-{day}")]
        )
        for day in ("18", "19", "20")
    }
    s3 = _bucket(aws, objects)
    app = _app(tmp_path)
    con = app.connect()
    gets = _count_calls(s3, "GetObject")
    _run(app, con, s3, since=date(2026, 11, 19), until=date(2026, 11, 20))
    assert con.execute("select request_id from raw_bedrock").fetchall() == [("day-19",)]
    assert len(gets) == 1
    # A later plain run reads the rest; the backfill did not move the cursor backwards.
    _run(app, con, s3)
    assert con.execute("select count(*) from raw_bedrock").fetchone() == (2,)  # day-20 only
    _run(app, con, s3, since=date(2026, 11, 1))
    assert con.execute("select count(*) from raw_bedrock").fetchone() == (3,)


def test_missing_bucket_is_a_usage_error(aws: Any, tmp_path: Path) -> None:
    app = _app(tmp_path)
    con = app.connect()
    with pytest.raises(ConfigError) as err:
        run_source(app, con, "bedrock-s3", {"bucket": "no-such-bucket"})
    assert str(err.value) == "bucket 'no-such-bucket' does not exist; check --bucket (and --region)"
    assert err.value.exit_code == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_s3_fails_cleanly_and_keeps_the_cursor(
    aws: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3 = _bucket(aws, _four_partitions())
    app = _app(tmp_path)
    con = app.connect()
    _run(app, con, s3)
    cursors = _cursors(con)
    port = _closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    with pytest.raises(SourceUnavailable) as err:
        run_source(app, con, "bedrock-s3", {"bucket": BUCKET, "prefix": PREFIX})
    assert str(err.value) == (
        f"bedrock-s3: cannot reach S3 at http://127.0.0.1:{port} (EndpointConnectionError). "
        "check the network, the region and AWS_ENDPOINT_URL"
    )
    assert _cursors(con) == cursors


def test_cli_exit_code_3_when_s3_is_unreachable(
    aws: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest.cli import cli

    port = _closed_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    db = tmp_path / "cli.duckdb"
    first = CliRunner().invoke(
        cli, ["--db", str(db), "ingest", "bedrock-s3", "--bucket", BUCKET], catch_exceptions=False
    )
    # a first run that loads nothing leaves no database behind (issue 10)
    assert first.exit_code == 3, first.output
    assert not db.exists()
    assert first.stderr.splitlines()[-1] == (
        f"nothing loaded: {db} not created (fix the error above and run again)"
    )
    store.connect(db).close()  # an existing database: the failed run is logged in it
    result = CliRunner().invoke(
        cli, ["--db", str(db), "ingest", "bedrock-s3", "--bucket", BUCKET], catch_exceptions=False
    )
    assert result.exit_code == 3, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: bedrock-s3: cannot reach S3 at http://127.0.0.1:{port} "
        "(EndpointConnectionError). check the network, the region and AWS_ENDPOINT_URL"
    ]
    con = store.connect(db)  # the command's own connection may still be open in-process
    assert con.execute("select count(*) from ingest_cursors").fetchone() == (0,)
    assert con.execute("select status from ingest_runs").fetchall() == [("failed",)]


def test_no_credentials_is_refused_credentials(
    aws: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _bucket(aws, _four_partitions())
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    app = _app(tmp_path)
    con = app.connect()
    with pytest.raises(SourceUnavailable) as err:
        run_source(app, con, "bedrock-s3", {"bucket": BUCKET, "prefix": PREFIX})
    assert str(err.value) == (
        "bedrock-s3: S3 refused credentials (no AWS credentials found). "
        "run `aws sso login` (or refresh your credentials) or set AWS_PROFILE"
    )
    assert err.value.exit_code == 3


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("InvalidAccessKeyId", 403, "S3 refused credentials (InvalidAccessKeyId)"),
        ("ExpiredToken", 400, "S3 refused credentials (ExpiredToken)"),
        ("SignatureDoesNotMatch", 403, "S3 refused credentials (SignatureDoesNotMatch)"),
        ("AccessDenied", 403, "S3 refused credentials (AccessDenied)"),
    ],
)
def test_refused_credentials_map_to_one_line(
    aws: Any,
    tmp_path: Path,
    code: str,
    status: int,
    expected: str,
) -> None:
    from botocore.stub import Stubber

    s3 = aws.client("s3")
    app = _app(tmp_path)
    con = app.connect()
    with Stubber(s3) as stub:
        stub.add_client_error(
            "list_objects_v2",
            service_error_code=code,
            service_message="AKIASECRETKEYID must never be printed",
            http_status_code=status,
        )
        with pytest.raises(SourceUnavailable) as err:
            _run(app, con, s3)
    message = str(err.value)
    assert message == (
        f"bedrock-s3: {expected}. run `aws sso login` (or refresh your credentials) "
        "or set AWS_PROFILE"
    )
    assert "AKIA" not in message


def test_unknown_profile_is_a_usage_error(
    aws: Any,
    tmp_path: Path,
) -> None:
    app = _app(tmp_path)
    con = app.connect()
    with pytest.raises(ConfigError) as err:
        run_source(app, con, "bedrock-s3", {"bucket": BUCKET, "profile": "nobody"})
    assert str(err.value) == (
        "AWS profile 'nobody' not found in ~/.aws/config; pass an existing --profile "
        "or configure it with `aws configure sso`"
    )


SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_sample_data_tree_through_s3(aws: Any, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    manifest = json.loads((SAMPLE / "manifest.json").read_text())
    root = SAMPLE / "bedrock" / "s3"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    files = [p for p in root.rglob("*") if p.is_file()]

    def upload(path: Path) -> None:
        s3.put_object(Bucket=BUCKET, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, files))
    app = _app(tmp_path)
    con = app.connect()
    gets = _count_calls(s3, "GetObject")
    result = _run(app, con, s3)
    truncated = "20261108T045611615Z_4f056ccf8c39f2e2.json.gz"
    # Valid unique records, plus the 24 complete lines recovered from the truncated gzip.
    assert result.new_rows == manifest["bedrock_s3"]["valid_unique_records"] + 24 == 43053
    assert len(gets) == manifest["bedrock_s3"]["batch_files"] == 1615
    hour = (
        f"s3://{BUCKET}/bedrock-logs/AWSLogs/111122223333/BedrockModelInvocationLogs/"
        "us-east-1/2026/11/08/04/"
    )
    rejected = con.execute(
        "select location, reason from rejected_records order by location"
    ).fetchall()
    assert rejected == [
        (f"{hour}20261108T041035782Z_0b5eb7e81b5a4d4e.json.gz:11", "missing field modelId"),
        (f"{hour}20261108T041035782Z_0b5eb7e81b5a4d4e.json.gz:3", "malformed JSON"),
        (f"{hour}20261108T041035782Z_0b5eb7e81b5a4d4e.json.gz:5", "malformed JSON"),
        (f"{hour}20261108T041035782Z_0b5eb7e81b5a4d4e.json.gz:7", "missing field requestId"),
        (
            f"{hour}20261108T041035782Z_0b5eb7e81b5a4d4e.json.gz:9",
            "wrong type for input.inputTokenCount: expected an integer",
        ),
        (
            f"{hour}{truncated}",
            "truncated gzip: 24 complete lines recovered, the rest is unreadable",
        ),
    ]
    assert len(_cursors(con)) == 4
    again = _run(app, con, s3)
    assert (again.new_rows, again.updated_rows, again.unchanged_rows) == (0, 0, 0)
