"""`llmledger ingest <source>`: one command per declared source, generated from its options.

Nothing here names a source: flags, help and example come from ``ingest/sources``.
"""

from __future__ import annotations

import os
from typing import Any

import click

from ingest.cli_ingest import date_options, run_ad_hoc
from ingest.source import Option, Source


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
    if option.envvar:
        help_text += f" (env {option.envvar})"
    if option.type is bool:
        return click.Option([option.flag, option.name], is_flag=True, default=None, help=help_text)
    return click.Option(
        [option.flag, option.name],
        type=kind,
        required=option.required and not option.envvar,
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


def register(group: click.Group) -> None:
    from ingest import sources

    for source in sources.SOURCES.values():
        group.add_command(command(source))
