"""Small display helpers shared by the pages (no data access, no statistics)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.app.session import t

# Streamlit's page style hides every scrollbar until the pointer is over it (``scrollbar-color:
# transparent``), and a static table clips what does not fit. A table wider than its box (a run's
# output, a catalogue preview: 8,000 px of columns in 940) then looks whole, cut at the box's right
# edge, and a reader with a mouse wheel never finds the rest. A data grid's own scroller keeps its
# scrollbar in sight, and a static table scrolls instead of clipping.
WIDE_TABLES_STYLE = """<style>
[data-testid="stDataFrame"] .dvn-scroller { scrollbar-width: auto; scrollbar-color: rgba(49, 51, 63, 0.45) transparent; }
[data-testid="stTable"] { overflow-x: auto; scrollbar-color: rgba(49, 51, 63, 0.45) transparent; }
</style>"""


def wide_tables_scroll() -> None:
    """Every table of the page shows that it scrolls sideways when it is wider than its box
    (:data:`WIDE_TABLES_STYLE`); called once per page run by the app's entry point."""
    st.html(WIDE_TABLES_STYLE)


def table(df: pd.DataFrame, key: str, column_config: dict | None = None) -> None:
    """A read-only table inside a keyed container.

    A display-only ``st.dataframe`` carries no key of its own (only selectable
    ones do), so the container holds it: AppTest finds the table by ``key`` and
    the browser test by the ``st-key-<key>`` CSS class.
    """
    with st.container(key=key):
        if df.empty:  # Streamlit's empty grid says "empty" in English: say it in the UI language
            st.caption(t("common.no_rows"))
            return
        shown, config = df.copy(), dict(column_config or {})
        for name in shown.columns:  # a missing text or time reads as a dash, not Streamlit's "None"
            if shown[name].dtype == object:
                shown[name] = shown[name].map(lambda v: "—" if v is None or (isinstance(v, float) and v != v) else v)
            elif pd.api.types.is_datetime64_any_dtype(shown[name]) and shown[name].isna().any():
                shown[name] = shown[name].dt.strftime("%Y-%m-%d %H:%M").fillna("—")
                setting = config.get(name)
                label = setting.get("label") if isinstance(setting, dict) else setting
                config[name] = st.column_config.Column(label) if label else st.column_config.Column()
        st.dataframe(shown, hide_index=True, column_config=config or None)


def text_table(df: pd.DataFrame, key: str, headings: dict[str, str]) -> None:
    """A short table of words (a run's parameters, its metrics) as a static table in a keyed
    container: it prints, it wraps long values, and its text is on the page (a data grid
    draws on a canvas). *headings* renames the columns for display."""
    with st.container(key=key):
        st.table(df.rename(columns=headings), hide_index=True, border="horizontal")


def tables_list(df: pd.DataFrame, key: str) -> None:
    """The lake's table list (``data.tables_frame``) with translated headings."""
    table(df, key, column_config={
        "table": t("common.table"),
        "title": t("common.title"),
        "layer": t("common.layer"),
        "owner": t("common.owner"),
        "version": t("common.version"),
        "rows": st.column_config.NumberColumn(t("common.rows"), format="%,d"),  # 596,677, not 596677
        "columns": t("common.columns"),
        "last_write": st.column_config.DatetimeColumn(t("common.last_write"), format="YYYY-MM-DD HH:mm"),
    })


def multiselect(where, label: str, options, **kwargs):
    """*where*'s ``multiselect`` (``st`` or a column) in the UI language: its placeholder says
    "choose" in that language, and Streamlit's own bulk action, whose label ("Select all",
    "Select 3 matches") is fixed English in its front end, is offered only to English readers.
    Every multiselect of the app goes through here."""
    from workbench.app.session import lang

    kwargs.setdefault("placeholder", t("common.choose"))
    kwargs.setdefault("select_all", lang() != "zh")
    return where.multiselect(label, options, **kwargs)


def selectbox(where, label: str, options, **kwargs):
    """*where*'s ``selectbox`` (``st`` or a column) with its placeholder in the UI language:
    Streamlit's own ("Choose an option", "No options to select") is English, and shows whenever
    the box has no choice (no options, or a kept setting whose option is gone). Every select box
    of the app goes through here."""
    kwargs.setdefault("placeholder", t("common.choose"))
    return where.selectbox(label, options, **kwargs)


def failure(said: str, detail: object = None) -> None:
    """An error said in the UI language, with the original words beneath it, verbatim, when
    there are any (a library's exception, a rule file's parse error): the reader learns what
    failed in their language, and whoever fixes it gets the exact text to search for."""
    st.error(said)
    if detail is not None and str(detail).strip():
        st.caption(t("common.failed_detail"))
        st.code(str(detail), language=None, wrap_lines=True)


# ---- the formatting layer on screen (workbench.formatting; issue 21) ---------------------

def _column(c) -> object:
    """A Streamlit column setting from a :class:`workbench.formatting.ColumnFormat`."""
    if c.printf:
        return st.column_config.NumberColumn(c.heading, format=c.printf, help=c.help or None)
    return st.column_config.Column(c.heading, help=c.help or None)


def formatted_table(df: pd.DataFrame, key: str, variables: dict | None = None, labels: dict | None = None,
                    column_config: dict | None = None) -> None:
    """A read-only table in the UI language: headings with units, values in the shown unit and
    precision with thousands separators, codes with their names, months with their year.
    *variables* and *labels* as in :func:`workbench.formatting.format_table`."""
    from workbench.app.session import lang
    from workbench.formatting import format_table

    shown = format_table(df, lang(), variables, labels)
    config = {name: _column(c) for name, c in shown.columns.items()}
    config.update(column_config or {})
    table(shown.frame, key, column_config=config)


def chart(chart, key: str | None = None, **kwargs) -> None:
    """An Altair chart with month names, weekdays and separators in the UI language."""
    from workbench.app.session import lang
    from workbench.formatting import chart_locale

    st.altair_chart(chart.configure(locale=chart_locale(lang())), key=key, width="stretch", **kwargs)


def downloads(df: pd.DataFrame, file_stem: str, key: str, variables: dict | None = None,
              labels: dict | None = None, title: str = "") -> None:
    """CSV (with BOM) and Excel downloads of a result table, formatted as shown on the page."""
    from workbench.app.session import lang, t
    from workbench.formatting import table_file

    csv_col, xlsx_col = st.columns(2)
    csv_col.download_button(t("common.download_csv"), table_file(df, lang(), "csv", variables, labels, title),
                            file_name=f"{file_stem}.csv", mime="text/csv", key=f"{key}_csv",
                            icon=":material/download:")
    xlsx_col.download_button(t("common.download_xlsx"), table_file(df, lang(), "xlsx", variables, labels, title),
                             file_name=f"{file_stem}.xlsx",
                             mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                             key=f"{key}_xlsx", icon=":material/download:")
