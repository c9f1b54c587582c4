"""Credentials out of text: ``scheme://user:pass@host`` becomes ``scheme://***@host``.

Applied where text is stored (the run log, error messages) and again where it is shown, so a
message written before this rule existed is redacted on screen too. One pattern, used by
Python (:func:`redact`) and by DuckDB (:func:`redact_sql`; RE2 reads it the same way).
"""

from __future__ import annotations

import re

# the userinfo of a URL that holds a password: a user (no ":" or "@"), ":", then everything up
# to the last "@" before the host ends (a password may hold an "@"). A user alone
# (postgresql://reader@db) is a name, not a secret, and stays readable.
URL_USERINFO = r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s?#@:]*:[^/\s?#]*@"
REPLACEMENT = "***@"
_PATTERN = re.compile(URL_USERINFO)


def redact(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return _PATTERN.sub(lambda m: m.group(1) + REPLACEMENT, text)


def redact_sql(expr: str) -> str:
    """The same, as a DuckDB expression over the text column ``expr``."""
    return f"regexp_replace({expr}, '{URL_USERINFO}', '\\1{REPLACEMENT}', 'g')"
