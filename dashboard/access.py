"""Optional sign-in: who is looking, and which teams they may see.

Off unless ``LLMLEDGER_AUTH=1`` (``llmledger dashboard`` sets it from ``[dashboard] auth`` in the
config). When on, the viewer signs in with Streamlit's OIDC support (``st.login``; the provider
is configured in Streamlit's ``secrets.toml`` under ``[auth]``). Admins
(``LLMLEDGER_ADMINS``, comma-separated emails, from ``[dashboard] admins``) see everything; any
other viewer sees only the teams the people directory puts under them (``ref_people.manager``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from dashboard import data
from models.views import Scope

AUTH_ENV = "LLMLEDGER_AUTH"
ADMINS_ENV = "LLMLEDGER_ADMINS"


@dataclass(frozen=True)
class Viewer:
    email: str | None
    is_admin: bool
    allowed_teams: tuple[str, ...] | None  # None: everything

    @property
    def scope(self) -> Scope:
        return Scope(teams=self.allowed_teams, admin=self.is_admin)

    @property
    def label(self) -> str:
        if self.email is None:
            return "sign-in off"
        return f"{self.email} ({'admin' if self.is_admin else 'manager'})"


def auth_enabled() -> bool:
    return os.environ.get(AUTH_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def admins() -> set[str]:
    raw = os.environ.get(ADMINS_ENV, "")
    return {a.strip().lower() for a in raw.split(",") if a.strip()}


def current_viewer() -> Viewer:
    """The viewer, whose scope every query of this run then reads with (``data.query``);
    stops the page with a sign-in prompt when sign-in is on and needed."""
    data.set_scope(Scope(teams=(), admin=False))  # nothing until we know who this is
    viewer = _identify()
    data.set_scope(viewer.scope)
    return viewer


def _identify() -> Viewer:
    if not auth_enabled():
        return Viewer(email=None, is_admin=True, allowed_teams=None)
    if not st.user.is_logged_in:
        st.title("llmledger")
        st.info("Sign in to see your teams' LLM spend.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    email = str(st.user.get("email") or "").strip()
    with st.sidebar:
        st.caption(f"Signed in as {email}")
        st.button("Sign out", on_click=st.logout)
    if email.lower() in admins():
        return Viewer(email=email, is_admin=True, allowed_teams=None)
    teams = data.query("managed_teams", email)
    if not teams:
        st.warning(
            f"{email} manages no team in the people directory, so there is nothing to show. "
            "Ask an admin to add you as a manager, or to the dashboard's admins."
        )
        st.stop()
    return Viewer(email=email, is_admin=False, allowed_teams=tuple(teams))
