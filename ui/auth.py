"""Sign-in with Streamlit's own ``st.login`` (OpenID Connect), on when the server's secrets have
an ``[auth]`` table (see README, "Sign-in"); off otherwise, so the app runs locally as it is.

While sign-in is on, nothing but the sign-in screen is drawn before login: no dataset, no count,
no figure. The link a colleague opened is kept in a short-lived cookie across the provider's
redirect (Streamlit's callback returns to the app's root) and opened again after sign-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import streamlit as st

from cohort.access import DEFAULT_GROUPS_CLAIM, User, user_from_claims
from ui.text import literal_markdown

LINK_COOKIE = "oligomet_link_after_sign_in"
#: Longest link kept across sign-in, characters (a link of every option is about 1,000).
MAX_KEPT_LINK = 4000
_REQUESTED_PATH = "_path_before_sign_in"

_KEEP_LINK_JS = f"""
export default function(component) {{
    // The page's path as first requested (the sign-in screen's navigation has replaced it).
    const link = component.data.path + window.location.search;
    if (window.location.search && link.length <= {MAX_KEPT_LINK}) {{
        document.cookie = "{LINK_COOKIE}=" + encodeURIComponent(link) +
            "; path=/; max-age=900; SameSite=Lax";
    }}
}}
"""

_REOPEN_LINK_JS = f"""
export default function() {{
    const match = document.cookie.match(/(?:^|; ){LINK_COOKIE}=([^;]*)/);
    document.cookie = "{LINK_COOKIE}=; path=/; max-age=0; SameSite=Lax";
    if (!match) return;
    const link = decodeURIComponent(match[1]);
    // Same origin only: a path, never '//host' or a scheme.
    if (/^\\/(?![\\/\\\\])/.test(link) && link.length <= {MAX_KEPT_LINK}) {{
        window.location.replace(link);
    }}
}}
"""

_keep_link = st.components.v2.component("oligomet_keep_link", js=_KEEP_LINK_JS)
_reopen_link = st.components.v2.component("oligomet_reopen_link", js=_REOPEN_LINK_JS)


def sign_in_configured() -> bool:
    """True when the secrets have an ``[auth]`` table (sign-in on)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def provider_names() -> list[str | None]:
    """The configured providers: the names of ``[auth.<name>]`` tables, or [None] for one
    provider configured in ``[auth]`` itself."""
    section = st.secrets["auth"]
    named = [name for name, value in section.items() if hasattr(value, "items")]
    return named or [None]


def current_user(groups_claim: str = DEFAULT_GROUPS_CLAIM) -> User | None:
    """The signed-in user, or None (sign-in off, or nobody signed in)."""
    if not sign_in_configured() or not st.user.is_logged_in:
        return None
    return user_from_claims(st.user.to_dict(), groups_claim)


def _requested_path() -> str:
    """The path of the page this session first asked for ('/survival'), before the sign-in
    screen's navigation replaced it with the root."""
    if _REQUESTED_PATH not in st.session_state:
        st.session_state[_REQUESTED_PATH] = urlsplit(st.context.url or "/").path or "/"
    return st.session_state[_REQUESTED_PATH]


def _sign_in_screen() -> None:
    st.title("Oligomet Cohort Explorer")
    st.write("Sign in with your department account to see its datasets.")
    for name in provider_names():
        label = "Sign in" if name is None else f"Sign in with {name}"
        st.button(label, on_click=st.login, args=() if name is None else (name,),
                  type="primary", key=f"sign_in.{name or 'default'}")
    if st.query_params:
        st.caption("The link you opened is shown after sign-in.")
        _keep_link(data={"path": st.session_state[_REQUESTED_PATH]}, key="keep_link")


def require_sign_in(url_paths: Iterable[str] = ()) -> None:
    """Stop this run at the sign-in screen (drawn under the app's ``url_paths`` too) unless
    sign-in is off or the user is signed in; once signed in, reopen the link kept across the
    provider's redirect."""
    if not sign_in_configured():
        return
    if not st.user.is_logged_in:
        _requested_path()
        # The sign-in screen under every screen's path (hidden): no navigation lists the
        # screens before login, and a deep link finds a page (no "page not found" dialog).
        pages = [st.Page(_sign_in_screen, title="Sign in", default=True),
                 *(st.Page(_sign_in_screen, title="Sign in", url_path=path)
                   for path in url_paths)]
        st.navigation(pages, position="hidden").run()
        st.stop()
    if LINK_COOKIE in st.context.cookies and not st.query_params:
        _reopen_link(key="reopen_link")


def signed_in_panel() -> None:
    """In the sidebar: who is signed in, and a sign-out button (nothing when sign-in is off)."""
    if not sign_in_configured() or not st.user.is_logged_in:
        return
    address = st.user.get("email") or st.user.get("name") or "signed in"
    st.caption(literal_markdown(f"Signed in as {address}"))
    st.button("Sign out", on_click=st.logout, key="sign_out")
