"""Display helpers for the quality pages (no data access, no statistics)."""

from __future__ import annotations

from typing import Callable

import streamlit as st


def progress_bar(text: str) -> tuple[object, Callable[[str, float], None]]:
    """A progress bar and the ``progress(message, fraction)`` callback the quality library calls."""
    bar = st.progress(0.0, text=text)

    def progress(message: str, fraction: float) -> None:
        try:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)
        except Exception:  # noqa: BLE001 - a callback from a worker thread cannot draw; the run goes on
            pass

    return bar, progress


def outcome(prefix: str) -> None:
    """Show the last action's error (``<prefix>_error``) or message (``<prefix>_message``)."""
    if st.session_state.get(f"{prefix}_error"):
        st.error(st.session_state[f"{prefix}_error"])
    elif st.session_state.get(f"{prefix}_message"):
        st.success(st.session_state[f"{prefix}_message"])
