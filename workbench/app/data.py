"""All data access and caching for the app (pages never read the lake themselves)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from workbench.config import load_settings
from workbench.lake import Lake


@st.cache_resource
def lake() -> Lake:
    return Lake.from_settings(load_settings())


def lake_tables() -> pd.DataFrame:
    infos = lake().tables()
    return pd.DataFrame(
        [
            {
                "table": i.name,
                "layer": i.layer,
                "version": i.version,
                "rows": i.rows,
                "columns": len(i.columns),
                "last write (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime(i.last_modified))
                if i.last_modified else "",
            }
            for i in infos
        ],
        columns=["table", "layer", "version", "rows", "columns", "last write (UTC)"],
    )
