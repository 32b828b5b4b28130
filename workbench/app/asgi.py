"""The app as served: Streamlit's ``st.App`` around main.py with the sign-in routes.

``workbench serve`` runs ``streamlit run`` on this file; Streamlit finds ``app`` and
serves it with uvicorn. The additions (see ``browser_session``) are the two routes
that set and clear the HttpOnly sign-in cookie, the middleware that binds a
Streamlit session to that cookie, and log redaction of session ids.
"""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from workbench.app.browser_session import SessionBindingMiddleware, install_log_redaction, routes

install_log_redaction()
app = st.App(str(Path(__file__).resolve().parent / "main.py"), routes=routes(),
             middleware=[Middleware(SessionBindingMiddleware)])
