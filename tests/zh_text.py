"""What a page shows a Chinese reader, and which Latin-letter words in it are not allowed.

One allowlist (:data:`ALLOWED`): proper names of methods, standards, formats and products that
Chinese statistical publications write in Latin letters, and units. A token holding a digit,
an underscore, a dot, a slash, ``@`` or ``:`` is an identifier (``silver.vat_monthly``,
``660102001``, ``vat/vat_2018-03.csv``, ``geks_jevons``) and is allowed as such; a single
letter is a code (GB/T 4754 section ``C``, SDMX status ``F``). Every other word of two or more
Latin letters fails the test.
"""

from __future__ import annotations

import json
import re

import pandas as pd

ALLOWED = frozenset("""
    GB GB/T COICOP CPI PPI GDP SDMX SDMX-CSV DSD CSV Excel PARQUET Parquet JSON JSONL XLSX API MCC ISO
    HB FH BHF EBLUP REML GEKS Jevons Dutot Carli Törnqvist Tornqvist Fisher Geary Khamis Hidiroglou Berthelot MAD
    X-13 X-13ARIMA-SEATS ARIMA SEATS STL AR MA DFM MIDAS Splink DuckDB Delta Spark Sail Streamlit OIDC ESS
    CV RMSE UTC SHA kWh ID URL
    G
    stat research super super2 eng admin
""".split())  # the last line: the demo accounts' login names (conf/users.toml), identifiers a user types
_IDENTIFIER = re.compile(r"[\d_./@:=\\]")
_WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ']*")
_CODE = re.compile(r"`[^`]*`")  # markdown code: a command or a table name, shown as code
_TOKEN = re.compile(r"[^\s\u3000-\u303f\uff00-\uffef，。；：、（）“”《》【】]+")


def latin_words(text: str, allowed: frozenset[str] = ALLOWED) -> list[str]:
    """The Latin-letter words of *text* that are neither allowed names, identifiers nor codes."""
    bad = []
    for token in _TOKEN.findall(_CODE.sub(" ", text or "")):
        if _IDENTIFIER.search(token):
            continue
        for word in _WORD.findall(token):
            word = word.strip("'-")
            if len(word) < 2 or word in allowed or word.upper() in allowed:
                continue
            if token.strip("()[]{}\"'`*") in allowed:
                continue
            bad.append(word)
    return bad


def _column_labels(element) -> dict[str, str]:
    """Headings a dataframe element shows: its column settings' labels (from the proto)."""
    try:
        config = json.loads(element.proto.columns or "{}")
    except Exception:  # no column settings
        return {}
    out = {}
    for key, spec in config.items():
        name = key.split(":", 1)[1] if key.startswith("name:") else key
        if isinstance(spec, dict) and spec.get("label"):
            out[name] = spec["label"]
    return out


def _offers_select_all(proto) -> bool:
    """Whether Streamlit's front end shows its "Select all" entry for this multiselect (the
    rule of its Multiselect component: 2+ options and a threshold that is -1 or at least that
    many; a message without the field means a threshold of 1000)."""
    threshold = proto.select_all if proto.HasField("select_all") else 1000
    n = len(proto.options)
    return n >= 2 and (threshold == -1 or 0 < n <= threshold)


def shown_texts(at) -> list[tuple[str, str]]:
    """(where, text) of every text a reader sees on an AppTest page: titles, markdown, captions,
    alerts, widget labels, options as formatted, metrics, table headings and text cells."""
    out: list[tuple[str, str]] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "text"):
        for el in getattr(at, kind):
            out.append((kind, str(el.value)))
    for kind in ("button", "checkbox", "toggle", "text_input", "text_area", "number_input", "date_input",
                 "time_input", "slider", "select_slider"):
        for el in getattr(at, kind):
            out.append((f"{kind} label", str(el.label)))
    for kind in ("selectbox", "multiselect", "radio"):
        for el in getattr(at, kind):
            out.append((f"{kind} label", str(el.label)))
            for option in getattr(el, "options", []) or []:
                out.append((f"{kind} {el.label} option", str(option)))
            placeholder = getattr(el.proto, "placeholder", "")
            if placeholder:
                out.append((f"{kind} {el.label} placeholder", placeholder))
            if kind == "multiselect" and _offers_select_all(el.proto):
                # Streamlit's front end labels its bulk action in fixed English
                out.append((f"{kind} {el.label} bulk action", "Select all"))
    for el in at.metric:
        out.append(("metric label", str(el.label)))
        out.append(("metric value", str(el.value)))
    for el in at.table:  # static tables (a run's parameters and metrics): headings are their columns
        frame = el.value
        for column in frame.columns:
            out.append(("static table heading", str(column)))
            for value in frame[column].dropna().astype(str).unique()[:200]:
                out.append((f"static table cell {column}", value))
    for el in at.dataframe:
        frame: pd.DataFrame = el.value
        labels = _column_labels(el)
        for column in frame.columns:
            out.append(("table heading", labels.get(str(column), str(column))))
            series = frame[column]
            if series.dtype == object:
                for value in series.dropna().astype(str).unique()[:200]:
                    out.append((f"table cell {labels.get(str(column), column)}", value))
    return out


def declared_names() -> frozenset[str]:
    """Names the configuration declares: the language switch's own names (``English``, and its
    bilingual label, so a reader who cannot read the other language finds it) and the demo
    accounts' display names (conf/users.toml)."""
    from workbench.auth import load_users
    from workbench.i18n import LANGUAGE_NAMES, MESSAGES

    words = set()
    for text in [*LANGUAGE_NAMES.values(), MESSAGES["sidebar.language"]["zh"],
                 *(u.name for u in load_users().values())]:
        words.update(_WORD.findall(text))
    return frozenset(words)


def violations(at, allowed: frozenset[str] = ALLOWED, extra: frozenset[str] = frozenset()) -> list[str]:
    """``where: word in "text"`` for every disallowed Latin word on the page."""
    found = []
    allowed = allowed | extra | declared_names()
    for where, text in shown_texts(at):
        for word in latin_words(text, allowed):
            found.append(f"{where}: {word!r} in {text[:120]!r}")
    return sorted(set(found))
