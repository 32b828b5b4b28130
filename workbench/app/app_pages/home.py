"""Home: what is in the lake."""

import pandas as pd
import streamlit as st

from workbench.app import data

st.title("G City Statistics Workbench")
tables = data.lake_tables()
if tables.empty:
    st.info("The lake is empty: run `make lake` (or `workbench demo generate` then `workbench jobs run all`).")
else:
    st.dataframe(tables, hide_index=True, key="home_tables")
