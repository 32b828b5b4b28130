"""Streamlit entry point: sign-in, then navigation over the pages the user's roles allow.

Started by ``workbench serve`` (which also supervises the engine). Page files live
in ``app_pages/``; which pages exist and who may open them is ``session.PAGES``.
"""

import streamlit as st

from workbench.app import session, widgets

st.set_page_config(page_title="G City Statistics Workbench", page_icon=":material/query_stats:", layout="wide")
session.keep_widget_values()  # before any widget and before init's defaults: settings survive a page switch
session.init()
widgets.wide_tables_scroll()
session.keep_language_in_address()  # a reload keeps the language
session.bind_to_browser()  # in a server, the sign-in is the browser's cookie, checked on every run
session.adopt_oidc_user()
# expanded: every page listed; a collapsed menu says "View N more" in English, which Streamlit cannot translate
user = session.current_user()
# signed out, every address shows the sign-in page: no menu of pages nobody may open yet
navigation = st.navigation(session.navigation_pages(user), expanded=True, position="sidebar" if user else "hidden")
if user is None:
    session.remember_requested_page(navigation.url_path)
session.sidebar()
navigation.run()
