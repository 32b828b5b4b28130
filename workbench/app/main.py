"""Streamlit entry point: navigation over the pages in app_pages/."""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="G City Statistics Workbench", layout="wide")
navigation = st.navigation([st.Page(str(PAGES / "home.py"), title="Home", icon=":material/home:", default=True)])
navigation.run()
