"""Small display helpers shared by the pages (no data access, no statistics)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.app.session import t


def table(df: pd.DataFrame, key: str, column_config: dict | None = None) -> None:
    """A read-only table inside a keyed container.

    A display-only ``st.dataframe`` carries no key of its own (only selectable
    ones do), so the container holds it: AppTest finds the table by ``key`` and
    the browser test by the ``st-key-<key>`` CSS class.
    """
    with st.container(key=key):
        st.dataframe(df, hide_index=True, column_config=column_config)


def tables_list(df: pd.DataFrame, key: str) -> None:
    """The lake's table list (``data.tables_frame``) with translated headings."""
    table(df, key, column_config={
        "table": t("common.table"),
        "title": t("common.title"),
        "layer": t("common.layer"),
        "owner": t("common.owner"),
        "version": t("common.version"),
        "rows": t("common.rows"),
        "columns": t("common.columns"),
        "last_write": st.column_config.DatetimeColumn(t("common.last_write"), format="YYYY-MM-DD HH:mm"),
    })
