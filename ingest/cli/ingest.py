"""`llmledger ingest`: every configured source, or one source ad hoc from flags.

The ad hoc commands (Bedrock: `ingest bedrock-s3`, `bedrock-cloudwatch`, `bedrock-files`;
LiteLLM: `ingest litellm`, `litellm-api`, `litellm-files`; Vertex AI: `ingest vertex`,
`vertex-files`) each run one source from flags (no config file needed), then build the models
and publish the snapshot, like a configured `llmledger ingest`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ingest import pipeline, sources
from ingest.cli.common import app_context, as_date, date_options
from ingest.errors import ConfigError
from ingest.source import Option, Source


@click.group(invoke_without_command=True)
@date_options
@click.pass_context
def ingest(ctx: click.Context, since: object, until: object) -> None:
    """Ingest every configured source incrementally, then build and publish.

    \b
    Example:
      llmledger --config llmledger.toml ingest
      llmledger --db ledger.duckdb ingest bedrock-files ./bedrock-logs
    """
    if ctx.invoked_subcommand is not None:
        return
    app = app_context(ctx)
    sources = pipeline.configured_sources(app)
    if not sources:
        raise ConfigError(
            "no sources configured; add [[sources.<kind>]] tables to the config file "
            "or run one source ad hoc, e.g. `llmledger ingest bedrock-files DIR`"
        )
    from ingest.scheduler import run_lock

    with run_lock(app):  # one run at a time, shared with `llmledger run` (exit 1 if busy)
        con = app.connect()
        outcomes = [
            pipeline.ingest_one(app, con, kind, options, since=as_date(since), until=as_date(until))
            for kind, options in sources
        ]
        sys.exit(pipeline.finish(app, con, outcomes))


def run_ad_hoc(ctx: click.Context, kind: str, options: dict, since: object, until: object) -> None:
    """Shared body of the ad hoc source commands."""
    from ingest.scheduler import run_lock

    app = app_context(ctx)
    with run_lock(app):  # one run at a time, shared with `llmledger run` (exit 1 if busy)
        con = app.connect()
        outcome = pipeline.ingest_one(
            app, con, kind, options, since=as_date(since), until=as_date(until)
        )
        sys.exit(pipeline.finish(app, con, [outcome]))


# ---------------------------------------------------------------------------------------------
# Bedrock

CREDENTIALS = (
    "AWS credentials come from boto3's standard chain (AWS_PROFILE or --profile, SSO, "
    "environment, instance role); AWS_ENDPOINT_URL points it at another endpoint."
)


@click.command("bedrock-s3")
@click.option("--bucket", required=True, metavar="NAME", help="Bucket the logs are delivered to.")
@click.option(
    "--prefix",
    default="",
    show_default=False,
    metavar="P",
    help="Key prefix of the logging configuration (the part before AWSLogs/).",
)
@click.option("--region", metavar="R", help="Bucket region (else AWS_REGION / the profile's).")
@click.option("--profile", metavar="NAME", help="AWS profile (else AWS_PROFILE / the default).")
@click.option(
    "--overlap-hours",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Hours re-listed before the cursor, for late deliveries.",
)
@date_options
@click.pass_context
def bedrock_s3(
    ctx: click.Context,
    bucket: str,
    prefix: str,
    region: str | None,
    profile: str | None,
    overlap_hours: int,
    since: object,
    until: object,
) -> None:
    """Ingest Bedrock invocation logs from S3 (every account and region under the prefix).

    Lists only keys newer than each account/region's cursor (less the overlap) and skips
    objects already read (key + ETag), data/ bodies and permission-check markers.
    """
    options = {"bucket": bucket, "prefix": prefix, "overlap_hours": overlap_hours}
    if region:
        options["region"] = region
    if profile:
        options["profile"] = profile
    run_ad_hoc(ctx, "bedrock_s3", options, since, until)


bedrock_s3.epilog = f"""{CREDENTIALS}

\b
Example:
  llmledger --db ledger.duckdb ingest bedrock-s3 --bucket acme-bedrock-logs \\
      --prefix bedrock-logs --region us-east-1 --since 2026-11-01
"""


@click.command("bedrock-cloudwatch")
@click.option("--log-group", required=True, metavar="G", help="Log group Bedrock writes to.")
@click.option("--region", metavar="R", help="Log group region (else AWS_REGION / the profile's).")
@click.option("--profile", metavar="NAME", help="AWS profile (else AWS_PROFILE / the default).")
@click.option(
    "--overlap-minutes",
    type=click.IntRange(min=0),
    default=15,
    show_default=True,
    help="Minutes re-read before the cursor, for late events.",
)
@date_options
@click.pass_context
def bedrock_cloudwatch(
    ctx: click.Context,
    log_group: str,
    region: str | None,
    profile: str | None,
    overlap_minutes: int,
    since: object,
    until: object,
) -> None:
    """Ingest Bedrock invocation logs from a CloudWatch Logs log group."""
    options: dict[str, object] = {"log_group": log_group, "overlap_minutes": overlap_minutes}
    if region:
        options["region"] = region
    if profile:
        options["profile"] = profile
    run_ad_hoc(ctx, "bedrock_cloudwatch", options, since, until)


bedrock_cloudwatch.epilog = f"""{CREDENTIALS}

\b
Example:
  llmledger --db ledger.duckdb ingest bedrock-cloudwatch \\
      --log-group /aws/bedrock/modelinvocations --region us-east-1
"""


@click.command("litellm")
@click.option(
    "--dsn-env",
    default="LITELLM_DATABASE_URL",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the proxy database's PostgreSQL DSN.",
)
@click.option(
    "--name",
    default=None,
    metavar="NAME",
    help="A name for this proxy (its cursor; several proxies can be ingested).",
)
@click.option(
    "--overlap-minutes",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Re-read this far before the cursor: the proxy writes rows late.",
)
@date_options
@click.pass_context
def litellm(
    ctx: click.Context,
    dsn_env: str,
    name: str | None,
    overlap_minutes: int,
    since: object,
    until: object,
) -> None:
    """Ingest a LiteLLM proxy's spend logs, keys, teams and users from its PostgreSQL.

    A read-only role is enough. The DSN is read from $LITELLM_DATABASE_URL (or --dsn-env NAME),
    never from the command line or the config file.

    \b
    Example:
      export LITELLM_DATABASE_URL=postgresql://reader@litellm-db:5432/litellm
      llmledger --db ledger.duckdb ingest litellm
    """
    options = {"dsn_env": dsn_env, "overlap_minutes": overlap_minutes}
    if name:
        options["name"] = name
    run_ad_hoc(ctx, "litellm", options, since, until)


@click.command("litellm-api")
@click.option("--url", required=True, metavar="URL", help="The proxy's base URL.")
@click.option(
    "--key-env",
    default="LITELLM_MASTER_KEY",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the proxy's master key (or an admin key).",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=1000,
    show_default=True,
    help="Rows per /spend/logs/v2 page (the API allows 1-1000).",
)
@click.option(
    "--overlap-minutes",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Re-read this far before the cursor: the proxy writes rows late.",
)
@date_options
@click.pass_context
def litellm_api(
    ctx: click.Context,
    url: str,
    key_env: str,
    page_size: int,
    overlap_minutes: int,
    since: object,
    until: object,
) -> None:
    """Ingest a LiteLLM proxy's spend logs, keys, teams and users through its REST API.

    For when the database is out of reach. Reads /spend/logs/v2 in narrow time slices (its
    totals are capped at 10,000 rows and its pages have no tie-breaker).

    \b
    Example:
      export LITELLM_MASTER_KEY=sk-...
      llmledger --db ledger.duckdb ingest litellm-api --url https://litellm.internal:4000
    """
    options = {
        "url": url,
        "key_env": key_env,
        "page_size": page_size,
        "overlap_minutes": overlap_minutes,
    }
    run_ad_hoc(ctx, "litellm_api", options, since, until)


@click.command("litellm-files")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@date_options
@click.pass_context
def litellm_files(ctx: click.Context, path: str, since: object, until: object) -> None:
    """Ingest CSV dumps of a LiteLLM proxy's tables from a folder.

    The folder holds LiteLLM_SpendLogs.csv and optionally LiteLLM_VerificationToken.csv,
    LiteLLM_TeamTable.csv, LiteLLM_UserTable.csv (and their Deleted/Deprecated tables), each as
    written by COPY "<table>" TO STDOUT WITH (FORMAT csv, HEADER true).

    \b
    Example:
      llmledger --db ledger.duckdb ingest litellm-files sample_data/litellm
    """
    run_ad_hoc(ctx, "litellm_files", {"path": str(Path(path).resolve())}, since, until)


# --------------------------------------------------------------------------------------------
# Commands generated from the declared sources (ingest/sources): no source is named here.
# --------------------------------------------------------------------------------------------


def _param(option: Option) -> click.Parameter:
    if option.argument:
        return click.Argument(
            [option.name],
            metavar=option.metavar or option.name.upper(),
            type=click.Path(exists=True) if option.path else click.STRING,
            required=option.required,
        )
    kind: Any = click.STRING
    if option.type is int:
        kind = click.IntRange(min=option.minimum, max=option.maximum)
    help_text = option.help
    if option.envvar:  # "... (env NAME)." : the note goes inside the sentence
        stem, stop = (help_text[:-1], ".") if help_text.endswith(".") else (help_text, "")
        help_text = f"{stem} (env {option.envvar}){stop}"
    if option.type is bool:
        return click.Option([option.flag, option.name], is_flag=True, default=None, help=help_text)
    return click.Option(
        [option.flag, option.name],
        type=kind,
        required=option.required,  # click reads the envvar before it checks
        default=option.default,
        show_default=option.default not in (None, ""),
        metavar=option.metavar,
        envvar=option.envvar,
        help=help_text,
    )


def _epilog(source: Source) -> str:
    example = "\n".join(f"  {line}" for line in source.example.splitlines())
    parts = [source.credentials] if source.credentials else []
    parts.append(f"\b\nExample:\n{example}")
    return "\n\n".join(parts) + "\n"


def command(source: Source) -> click.Command:
    """The ``ingest <name>`` command of one source."""

    def callback(ctx: click.Context, since: object, until: object, **values: Any) -> None:
        options: dict[str, Any] = {}
        for option in source.options:
            value = values.get(option.name)
            if value is None or (option.type is bool and value is False):
                continue
            if option.path and isinstance(value, str):
                value = os.path.abspath(value)  # flags are relative to the working directory
            options[option.name] = value
        run_ad_hoc(ctx, source.name, options, since, until)

    params = [_param(o) for o in source.options if o.cli]
    params += date_options(click.Command("_")).params[::-1]  # --since, --until
    return click.Command(
        source.name,
        params=params,
        callback=click.pass_context(callback),
        help=f"{source.summary}\n\n{source.description}".strip(),
        epilog=_epilog(source),
        short_help=source.summary,
    )


for _source in sources.SOURCES.values():
    ingest.add_command(command(_source))

for _command in (
    bedrock_s3,
    bedrock_cloudwatch,
    litellm,
    litellm_api,
    litellm_files,
):
    ingest.add_command(_command)
