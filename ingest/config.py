"""The TOML configuration file: loading and validation.

One file names the database, the sources, the people directory, identity rules, price overrides,
quotas and budgets. Validation is strict: an unknown key, a wrong type or a missing file is one
line naming the key and the fix. Secrets never live here: credentials come from the SDKs' own
chains or from environment variables the file names (``dsn_env = "LITELLM_DATABASE_URL"``).
"""

from __future__ import annotations

import decimal
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError

# A spec is: a python type, a (list, spec) for arrays, a dict of key -> spec for tables, or
# ("map", spec) for tables with free keys. Keys ending in "?" are optional; others required.
_STR, _INT, _BOOL, _NUM = str, int, bool, (int, float, str)

_RULE = {
    "match": _STR,
    "developer?": _STR,
    "team?": _STR,
    "cost_center?": _STR,
    "source?": _STR,
}
_QUOTA = {
    "provider": _STR,
    "region?": _STR,
    "model": _STR,
    "scope?": _STR,
    "tokens_per_minute?": _INT,
    "requests_per_minute?": _INT,
    "name?": _STR,
}
_PRICE = {
    "provider": _STR,
    "model": _STR,
    "scope?": _STR,
    "token_type?": _STR,
    "usd_per_mtok?": _NUM,
    "discount_pct?": _NUM,
    "valid_from": _STR,
    "note?": _STR,
}
_DISCOUNT = {
    "provider": _STR,
    "model?": _STR,
    "discount_pct": _NUM,
    "valid_from?": _STR,
    "note?": _STR,
}
_BILLING_ACCOUNT = {"provider": _STR, "id": _STR, "name?": _STR}
SPEC: dict[str, Any] = {
    "database?": {
        "path?": _STR,
        "snapshot?": _STR,
        "scratch?": _STR,
        "memory_limit?": _STR,  # DuckDB's memory_limit: '4GB', '512MiB' or '50%' (default)
        "temp_directory?": _STR,  # where a build spills (default: beside the database)
    },
    "people?": {"directory": _STR},
    "identity?": {
        "request_metadata_developer_key?": _STR,
        "request_metadata_team_key?": _STR,
        "request_metadata_project_key?": _STR,
        "vertex_label_developer_key?": _STR,
        "vertex_label_team_key?": _STR,
        "vertex_label_project_key?": _STR,
        "vertex_match_window_seconds?": _NUM,  # audit <-> response join window (default 2)
        "match_local_part?": _BOOL,
        "otel_developer_attribute?": _STR,  # Claude Code telemetry: a resource attribute naming
        # the developer (set centrally through OTEL_RESOURCE_ATTRIBUTES) when user.email is absent
        "rules?": (list, _RULE),
    },
    "bedrock?": {"application_profiles?": ("map", _STR)},
    "gateway?": {
        "identities?": (list, _STR),
        "match_window_seconds?": _INT,
        # gateway keys (rotated by an apiKeyHelper) -> a person, effective-dated
        "keys?": (
            list,
            {
                "match": _STR,
                "developer?": _STR,
                "team?": _STR,
                "valid_from?": _STR,
                "valid_to?": _STR,
            },
        ),  # fmt: skip
    },
    "sources?": {},  # one table per declared source: see spec()
    "prices?": {
        "overrides?": (list, _PRICE),
        "litellm_file?": _STR,
        # contracted discounts off list cost, applied by the billing exports
        "discounts?": (list, _DISCOUNT),
    },
    "export?": {"billing_accounts?": (list, _BILLING_ACCOUNT)},
    "quotas?": (list, _QUOTA),
    "budgets?": (list, {"team": _STR, "monthly_usd": _NUM}),
    "alerts?": {
        "webhook_url_env?": _STR,
        "webhook_url?": _STR,
        "forecast_min_days?": _INT,
        "request_timeout?": _INT,
        "run_timeout?": _INT,
    },
    "dashboard?": {
        "auth?": _BOOL,
        "admins?": (list, _STR),
        "title?": _STR,
    },
    "run?": {"every?": _STR, "lock_stale_minutes?": _INT},
    # doctor and the dashboard's Data health page warn about a source whose newest record is
    # older than this many hours (0: never)
    "doctor?": {"stale_after_hours?": _INT},
}


def spec() -> dict[str, Any]:
    """SPEC, with one ``[[sources.<name>]]`` table per declared source (options declared once,
    in the source; the older underscore spelling of a name is accepted too)."""
    from ingest import sources

    tables = dict(SPEC["sources?"])
    types = {str: _STR, int: _INT, bool: _BOOL}
    for name, source in sources.SOURCES.items():
        keys = {o.name + ("" if o.required else "?"): types[o.type] for o in source.options}
        tables[f"{name}?"] = (list, keys)
        tables[f"{name.replace('-', '_')}?"] = (list, keys)
    return {**SPEC, "sources?": tables}


@dataclass
class Config:
    """A validated configuration. ``raw`` keeps the TOML tables; paths are resolved."""

    path: Path | None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, value: str) -> Path:
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else self.base_dir / p

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        return value if isinstance(value, dict) else {}

    def sources(self, name: str) -> list[dict[str, Any]]:
        """The ``[[sources.<name>]]`` tables (``bedrock-files``; the older ``bedrock_files``
        spelling is read too)."""
        section = self.section("sources")
        spellings = dict.fromkeys([name, name.replace("_", "-"), name.replace("-", "_")])
        return [dict(table) for key in spellings for table in section.get(key, [])]

    @property
    def database_path(self) -> Path | None:
        path = self.section("database").get("path")
        return self.resolve(path) if path else None

    @property
    def people_directory(self) -> Path | None:
        directory = self.section("people").get("directory")
        return self.resolve(directory) if directory else None


def load(path: str | Path | None) -> Config:
    """Load and validate ``path``; ``None`` gives an empty configuration."""
    if path is None:
        return Config(path=None)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"config file {p} not found; pass --config FILE or set LLMLEDGER_CONFIG "
            "to an existing file"
        )
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text") from None
    _check(raw, spec(), "", p)
    _check_values(raw, p)
    cfg = Config(path=p.resolve(), raw=raw)
    people = cfg.people_directory
    if people is not None and not people.is_file():
        raise ConfigError(
            f"{p}: people.directory = {str(cfg.section('people')['directory'])!r} "
            f"not found (looked at {people}); fix the path (relative to the config file)"
        )
    return cfg


def _type_name(spec: Any) -> str:
    if spec is _NUM:
        return "a number or a decimal string"
    if isinstance(spec, tuple) and spec and spec[0] is list:
        return "an array"
    if isinstance(spec, (dict, tuple)):
        return "a table"
    return {str: "a string", int: "an integer", bool: "true or false"}.get(spec, str(spec))


def _check(value: Any, spec: Any, where: str, path: Path) -> None:
    name = where or "the file"
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {name} must be a table; see the README's configuration")
        allowed = {k.rstrip("?"): v for k, v in spec.items()}
        for key, item in value.items():
            if key not in allowed:
                choices = ", ".join(sorted(allowed))
                raise ConfigError(
                    f"{path}: unknown key '{_join(where, key)}'; valid keys here: {choices}"
                )
            _check(item, allowed[key], _join(where, key), path)
        for key in spec:
            if not key.endswith("?") and key not in value:
                raise ConfigError(f"{path}: missing key '{_join(where, key)}'; add it")
        return
    if isinstance(spec, tuple) and spec[0] is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: '{name}' must be an array (use [[{name}]] tables)")
        for i, item in enumerate(value):
            _check(item, spec[1], f"{where}[{i}]", path)
        return
    if isinstance(spec, tuple) and spec[0] == "map":
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: '{name}' must be a table")
        for key, item in value.items():
            _check(item, spec[1], f'{where}."{key}"', path)
        return
    ok = isinstance(value, spec) and not (spec is int and isinstance(value, bool))
    if spec is _NUM and isinstance(value, bool):
        ok = False
    if not ok:
        raise ConfigError(
            f"{path}: '{name}' must be {_type_name(spec)}, got {type(value).__name__} {value!r}"
        )


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


_TOKEN_TYPES = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
_SCOPES = ("global", "geo", "regional", "in_region")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?)?")


def _check_values(raw: dict[str, Any], path: Path) -> None:
    """Checks beyond types: price overrides, regexes, dates and decimal strings."""
    from models import limits

    memory_limit = raw.get("database", {}).get("memory_limit")
    if memory_limit is not None and not limits.valid_memory_limit(memory_limit):
        raise ConfigError(
            f"{path}: database.memory_limit = {memory_limit!r} is not a size; use e.g. "
            "'4GB', '512MiB' or '50%' (a share of the machine's memory)"
        )
    stale = raw.get("doctor", {}).get("stale_after_hours")
    if stale is not None and stale < 0:
        raise ConfigError(
            f"{path}: doctor.stale_after_hours = {stale} is negative; give hours, or 0 for never"
        )
    for i, o in enumerate(raw.get("prices", {}).get("overrides", [])):
        where = f"prices.overrides[{i}]"
        if ("usd_per_mtok" in o) == ("discount_pct" in o):
            raise ConfigError(f"{path}: {where}: give exactly one of usd_per_mtok or discount_pct")
        token_type = o.get("token_type")
        if token_type is not None and token_type not in _TOKEN_TYPES:
            raise ConfigError(
                f"{path}: {where}.token_type = {token_type!r}; use one of {', '.join(_TOKEN_TYPES)}"
            )
        if "usd_per_mtok" in o and token_type is None:
            raise ConfigError(
                f"{path}: {where}: usd_per_mtok needs token_type ({', '.join(_TOKEN_TYPES)})"
            )
        scope = o.get("scope")
        if scope is not None and scope not in _SCOPES:
            raise ConfigError(f"{path}: {where}.scope = {scope!r}; use one of {', '.join(_SCOPES)}")
        for key in ("usd_per_mtok", "discount_pct"):
            if key in o:
                _decimal_value(o[key], f"{where}.{key}", path)
        if "discount_pct" in o and decimal.Decimal(str(o["discount_pct"])) > 100:
            raise ConfigError(f"{path}: {where}.discount_pct must be between 0 and 100")
        if not _DATE.fullmatch(str(o["valid_from"]).strip()):
            raise ConfigError(
                f"{path}: {where}.valid_from = {o['valid_from']!r} is not a date (YYYY-MM-DD)"
            )
    for i, budget in enumerate(raw.get("budgets", [])):
        _decimal_value(budget["monthly_usd"], f"budgets[{i}].monthly_usd", path)
    for i, rule in enumerate(raw.get("identity", {}).get("rules", [])):
        _regex(rule["match"], f"identity.rules[{i}].match", path)
    for i, pattern in enumerate(raw.get("gateway", {}).get("identities", [])):
        _regex(pattern, f"gateway.identities[{i}]", path)
    for i, key in enumerate(raw.get("gateway", {}).get("keys", [])):
        _regex(key["match"], f"gateway.keys[{i}].match", path)
        for bound in ("valid_from", "valid_to"):
            if bound in key and not _DATE.fullmatch(str(key[bound]).strip()):
                raise ConfigError(
                    f"{path}: gateway.keys[{i}].{bound} = {key[bound]!r} is not a date (YYYY-MM-DD)"
                )


def _decimal_value(value: Any, where: str, path: Path) -> None:
    try:
        number = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        number = decimal.Decimal("NaN")
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{path}: '{where}' must be a non-negative number, got {value!r}")


def _regex(pattern: str, where: str, path: Path) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"{path}: '{where}' = {pattern!r} is not a valid regular expression ({exc})"
        ) from None
