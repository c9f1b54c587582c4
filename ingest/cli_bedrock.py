"""Ad hoc Bedrock ingest commands: `ingest bedrock-s3`, `bedrock-cloudwatch`, `bedrock-files`.

Each runs one source from flags (no config file needed), then builds the models and publishes
the snapshot, like a configured `llmledger ingest`.
"""

from __future__ import annotations

import click

from ingest.cli_ingest import date_options, run_ad_hoc

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


def register(group: click.Group) -> None:
    """Add this family's `ingest <source>` commands to the ingest group."""
    for command in (bedrock_s3, bedrock_cloudwatch):
        group.add_command(command)
