"""`llmledger ingest`: every configured source, or one source ad hoc from flags.

The ad hoc commands (Bedrock: `ingest bedrock-s3`, `bedrock-cloudwatch`, `bedrock-files`;
LiteLLM: `ingest litellm`, `litellm-api`, `litellm-files`; Vertex AI: `ingest vertex`,
`vertex-files`) each run one source from flags (no config file needed), then build the models
and publish the snapshot, like a configured `llmledger ingest`.
"""

from __future__ import annotations

import os
import sys
from contextlib import closing
from typing import Any

import click

from ingest import pipeline, sources
from ingest.cli.common import app_context, as_date, date_options
from ingest.errors import ConfigError
from ingest.source import Option, Shard, Source


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
        code = pipeline.ingest_sources(app, sources, since=as_date(since), until=as_date(until))
    sys.exit(code)


def run_ad_hoc(
    ctx: click.Context,
    kind: str,
    options: dict,
    since: object,
    until: object,
    shard: Shard | None = None,
) -> None:
    """Shared body of the ad hoc source commands. A --shard worker only loads its raw tables:
    `llmledger merge` combines the workers' databases, then builds and publishes once."""
    from ingest.scheduler import run_lock

    app = app_context(ctx)
    with run_lock(app):  # one run at a time, shared with `llmledger run` (exit 1 if busy)
        if shard is None:
            code = pipeline.ingest_sources(
                app, [(kind, options)], since=as_date(since), until=as_date(until)
            )
        else:
            with closing(app.connect()) as con:
                outcome = pipeline.ingest_one(
                    app, con, kind, options, since=as_date(since), until=as_date(until), shard=shard
                )
                code = pipeline.report_failures(app, [outcome])
                app.log(
                    "shard_done",
                    f"shard {shard} of {outcome.name} loaded into {app.db_path}; combine the "
                    "shards with `llmledger merge SHARD_DB...`",
                    shard=str(shard),
                )
    sys.exit(code)


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

    def callback(
        ctx: click.Context, since: object, until: object, shard: str | None = None, **values: Any
    ) -> None:
        options: dict[str, Any] = {}
        for option in source.options:
            value = values.get(option.name)
            if value is None or (option.type is bool and value is False):
                continue
            if option.path and isinstance(value, str):
                value = os.path.abspath(value)  # flags are relative to the working directory
            options[option.name] = value
        run_ad_hoc(ctx, source.name, options, since, until, Shard.parse(shard) if shard else None)

    params = [_param(o) for o in source.options if o.cli]
    params += date_options(click.Command("_")).params[::-1]  # --since, --until
    if source.shards:
        params.append(
            click.Option(
                ["--shard"],
                metavar="K/N",
                help=f"Be worker K of N (K from 0): read only the {source.shards} this worker "
                "owns, into this --db, without building; `llmledger merge` combines the N "
                "databases. In a Kubernetes Indexed Job: --shard $(JOB_COMPLETION_INDEX)/N.",
            )
        )
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
