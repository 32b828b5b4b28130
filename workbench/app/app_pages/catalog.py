"""Data catalog: every table, what it is, who owns it, its schema, history and rows."""

import altair as alt
import pandas as pd
import streamlit as st

from workbench import catalog, formatting
from workbench.app import data, session, widgets
from workbench.app.session import ROLES_FOR, lang, require_role, t
from workbench.i18n import MESSAGES

user = require_role(*ROLES_FOR["catalog"])
st.title(t("nav.catalog"))

infos = data.tables()
if not infos:
    st.info(t("home.lake_empty"))
    st.stop()

search_col, layer_col = st.columns([3, 2])
query = search_col.text_input(t("catalog.search"), key="catalog_search")
layers = sorted({i.layer for i in infos})


def layer_name(layer: str) -> str:
    """A layer by its name in the UI language (``gold`` -> 分析层)."""
    return t(f"layer.{layer}") if f"layer.{layer}" in MESSAGES else layer


picked_layers = widgets.multiselect(layer_col, t("catalog.layer_filter"), layers, format_func=layer_name,
                                      key="catalog_layers")
matches = [i for i in catalog.search(infos, query, lang()) if not picked_layers or i.layer in picked_layers]
if not matches:
    st.info(t("catalog.no_match"))
    st.stop()

widgets.tables_list(data.tables_frame(matches, lang()), "catalog_tables")

names = [i.name for i in matches]
language = lang()  # bound now: format_func may be called outside this script run
# open on a table this user may preview (a statistician's first look is not a raw layer)
readable = [i.name for i in matches if not (i.layer in catalog.RAW_LAYERS and not user.has_any(catalog.RAW_ROLES))]
name = widgets.selectbox(st, t("catalog.pick"), names, index=names.index(readable[0]) if readable else 0,
                    format_func=lambda n: f"{n} · {catalog.entry(n).title(language)}", key="catalog_table")
info = next(i for i in matches if i.name == name)
entry = catalog.entry(name)
root = data.root()

st.header(entry.title(lang()))
st.markdown(entry.description(lang()) or "")
meta = st.columns(4)
meta[0].metric(t("common.layer"), layer_name(info.layer))
meta[1].metric(t("common.rows"), f"{info.rows:,}")
meta[2].metric(t("common.version"), info.version)
meta[3].markdown(f"**{t('common.owner')}**  \n{formatting.bilingual(entry.owner, language) or '—'}")
st.caption(f"{t('catalog.path')}: `{info.path}`")

schema_tab, history_tab, preview_tab = st.tabs([t("catalog.schema"), t("catalog.history"), t("catalog.preview")])
with schema_tab:
    # every column with its label, description and unit from conf/catalog.toml ([columns.*])
    widgets.table(formatting.schema_frame(info.columns, language), "catalog_schema", column_config={
        "name": t("col.name"), "label": t("catalog.col.label"), "unit": t("catalog.col.unit"),
        "description": t("col.description"), "type": t("col.type")})

with history_tab:
    counts = data.rows_over_versions(root, name, info.version)
    st.subheader(t("catalog.rows_over_versions"))
    st.altair_chart(
        alt.Chart(counts)
        .mark_line(point=True, interpolate="step-after")
        .encode(x=alt.X("version:O", title=t("common.version")), y=alt.Y("rows:Q", title=t("common.rows")),
                tooltip=["version", "rows"])
        .properties(height=220),
        key="catalog_rows_chart",
    )
    history = data.history(root, name, info.version)
    # Delta's operation names (WRITE, MERGE) in the UI language; English keeps Delta's own
    history = history.assign(operation=history["operation"].map(lambda op: formatting.delta_operation(op, language)))
    widgets.table(history, "catalog_history",
        column_config={
            "version": t("common.version"),
            "time": st.column_config.DatetimeColumn(t("col.time"), format="YYYY-MM-DD HH:mm:ss"),
            "operation": t("col.operation"),
            "who": t("col.who"),
            "parameters": t("col.parameters"),
        },
    )


def show_preview(rows: pd.DataFrame) -> None:
    """The preview rows through the formatting layer, as every other table: codes with their
    names, numbers in their shown unit, months by name, a missing value as a dash (it showed raw
    codes, yuan and "None"); a column the registry does not know keeps a heading in the language."""
    reg = formatting.registry()
    unknown = {c: title for c in rows.columns
               if reg.column(str(c)) is None and (title := formatting.column_title(str(c), language)) != c}
    widgets.formatted_table(rows, "catalog_preview", labels=unknown)


with preview_tab:
    access = catalog.preview_access(user, name, run_author=data.run_author(name))
    if not access.allowed:
        st.warning(t(access.reason))
    elif access.release_rows:
        # Released series: only the vintages the release reader lets this user read now.
        st.caption(t("catalog.release_rows"))
        rows = data.release_preview(name, user)
        st.caption(t("catalog.shown", n=f"{len(rows):,}"))
        show_preview(rows)
    else:
        # version and filter belong to one table: another table starts at its newest version
        if st.session_state.get("_catalog_preview_of") != name:
            session.forget_widget_values("catalog_version", "catalog_filter_column", "catalog_filter_value")
            st.session_state["_catalog_preview_of"] = name
        c1, c2, c3 = st.columns([1, 2, 2])
        version = widgets.selectbox(c1, t("catalog.preview_version"), list(range(info.version, -1, -1)),
                               key="catalog_version")
        column = widgets.selectbox(c2, t("catalog.filter_column"), [""] + [c for c, _ in info.columns],
                              format_func=lambda c: formatting.column_title(c, language),
                              key="catalog_filter_column")
        contains = c3.text_input(t("catalog.filter_value"), key="catalog_filter_value")
        rows = data.preview(root, name, int(version), column or None, contains or None)
        st.caption(t("catalog.shown", n=f"{len(rows):,}"))
        show_preview(rows)
