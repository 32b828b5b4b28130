"""Display helpers for the quality pages (no data access, no statistics)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

# The quality library's progress steps (English, for logs and the CLI) and the catalogue entry
# that says each on the page in the UI language.
_PROGRESS = (
    (re.compile(r"^(?P<table>[\w.]+): reading$"), "qprogress.reading"),
    (re.compile(r"^(?P<table>[\w.]+): evaluating (?P<n>\d+) rules$"), "qprogress.evaluating"),
    (re.compile(r"^(?P<table>[\w.]+): summary$"), "qprogress.summary"),
    (re.compile(r"^(?P<table>[\w.]+): outliers and fraud score$"), "qprogress.screening"),
    (re.compile(r"^panel: sample units x months$"), "qprogress.panel_grid"),
    (re.compile(r"^panel: imputing$"), "qprogress.panel_imputing"),
    (re.compile(r"^panel: change log$"), "qprogress.panel_log"),
    (re.compile(r"^(?:[\w.]+): done$"), "qprogress.done"),
)


def progress_text(message: str, language: str) -> str:
    """A quality step in the UI language (``survey_returns：评估 12 条规则``); unknown text as is."""
    from workbench.i18n import translate_matching

    return translate_matching(_PROGRESS, message, language)


def progress_bar(text: str) -> tuple[object, Callable[[str, float], None]]:
    """A progress bar and the ``progress(message, fraction)`` callback the quality library calls,
    its steps said in the page's language."""
    from workbench.app.session import lang

    language = lang()  # bound now: the callback may run where the session is not known
    bar = st.progress(0.0, text=text)

    def progress(message: str, fraction: float) -> None:
        try:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=progress_text(message, language))
        except Exception:  # a callback from a worker thread cannot draw; the run goes on
            pass

    return bar, progress


@dataclass(frozen=True)
class Said:
    """A message kept until it is shown, said then in the reader's language: an action's
    success message outlives the page run that made it, and a reader who switches language
    afterwards read it in the old one when the page kept the translated text. *args* may
    themselves be :class:`Said` or :class:`Coded`."""

    key: str
    args: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, **args: Any) -> "Said":
        return cls(key, tuple(args.items()))

    def text(self, language: str) -> str:
        from workbench.i18n import translate

        return translate(self.key, language, **{k: v.text(language) if isinstance(v, (Said, Coded)) else v
                                               for k, v in self.args})


@dataclass(frozen=True)
class Coded:
    """A code said by its name in the reader's language (``conf/catalog.toml`` code lists)."""

    dimension: str
    code: object

    def text(self, language: str) -> str:
        from workbench.formatting import code_text

        return code_text(self.dimension, self.code, language) or "—"


def outcome(prefix: str) -> None:
    """Show the last action's error (``<prefix>_error``) or message (``<prefix>_message``, a
    :class:`Said` said in the current language, or text)."""
    from workbench.app.session import lang

    if st.session_state.get(f"{prefix}_error"):
        error = st.session_state[f"{prefix}_error"]
        if hasattr(error, "show"):  # a Refusal: said by its rule in the current language
            error.show(lang())
        else:
            st.error(error)
    elif st.session_state.get(f"{prefix}_message"):
        message = st.session_state[f"{prefix}_message"]
        st.success(message.text(lang()) if isinstance(message, Said) else message)
