"""Sign-in: an account from conf/users.toml, or the identity provider when configured."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import streamlit as st

from workbench.app import session
from workbench.app.session import t
from workbench.config import load_settings

st.title(t("app.title"))
st.subheader(t("signin.title"))

if session.oidc_configured():
    st.button(t("signin.oidc"), key="signin_oidc", on_click=st.login, icon=":material/badge:", type="primary")
    try:
        if st.user.is_logged_in and session.current_user() is None:
            st.error(t("signin.oidc_no_roles", email=st.user.get("email", "")))
    except Exception:  # no identity-provider session
        pass
    st.divider()

with st.form("signin_form"):
    username = st.text_input(t("signin.username"), key="signin_username")
    password = st.text_input(t("signin.password"), type="password", key="signin_password")
    submitted = st.form_submit_button(t("signin.submit"), key="signin_submit", type="primary")

if submitted:
    from workbench.app.browser_session import guard

    result = guard().attempt(username, password, session.client_address())
    if result.status == "locked":
        # the city's clock, which is the users' clock
        until = datetime.fromtimestamp(result.locked_until, timezone.utc).astimezone(
            ZoneInfo(load_settings().lake.local_timezone))
        st.error(t("signin.locked", time=until.strftime("%H:%M")))
    elif result.user is None:
        st.error(t("signin.failed"))
    elif session.browser_bound() and not session.browser_cookie():
        # the grant could be bound to no browser: a browser that keeps no cookies cannot sign in
        st.error(t("signin.cookies_needed"))
    elif session.sign_in(result.user):
        st.rerun()
    else:
        st.info(t("signin.redirecting"))
st.caption(t("signin.demo_hint"))
