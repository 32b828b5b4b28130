"""Jobs and their progress in the UI language (no data access, no statistics).

A job's description and its progress messages are written in English by the job itself (they
go to logs and the command line too); the page shows them in the user's language: the
description from the message catalogue (``job.desc.<name>``), the progress message through
the patterns below. A message no pattern knows is shown as it is, so nothing is hidden.
"""

from __future__ import annotations

import re

from workbench.i18n import MESSAGES, translate

# (pattern, message key): the groups fill the message.
_PROGRESS = (
    (re.compile(r"^typing (?P<rows>[\d,]+) new rows$"), "job.progress.typing"),
    (re.compile(r"^deriving$"), "job.progress.deriving"),
    (re.compile(r"^writing$"), "job.progress.writing"),
    (re.compile(r"^writing links$"), "job.progress.writing_links"),
    (re.compile(r"^linking (?P<source>\w+)$"), "job.progress.linking"),
    (re.compile(r"^building the enterprise x month panel$"), "job.progress.panel"),
    (re.compile(r"^started$"), "job.progress.started"),
    (re.compile(r"^(?P<file>[\w./-]+\.\w+)$"), "job.progress.file"),
)


def job_description(name: str, description: str, lang: str) -> str:
    key = f"job.desc.{name}"
    return translate(key, lang) if key in MESSAGES else description


def progress_message(message: str, lang: str) -> str:
    for pattern, key in _PROGRESS:
        m = pattern.match(message or "")
        if m:
            return translate(key, lang, **m.groupdict()) if m.groupdict() else translate(key, lang)
    return message


def status_label(status: str, lang: str) -> str:
    key = f"job.status.{status}"
    return translate(key, lang) if key in MESSAGES else status


# quarantine causes (workbench.quarantine): the expected type in words
_TYPES = {"decimal": "number", "double": "number", "float": "number", "int": "integer", "bigint": "integer",
          "integer": "integer", "long": "integer", "date": "date", "timestamp": "timestamp", "boolean": "boolean",
          "string": "text"}


def cause_label(cause, lang: str) -> str:
    """A quarantine cause (a row of ``workbench.quarantine.causes``) in words."""
    kind = _TYPES.get(str(cause.expected).lower(), "")
    expected = translate(f"job.type.{kind}", lang) if kind else cause.expected
    return translate(f"job.cause.{cause.code}", lang, field=cause.field, header=cause.header,
                     expected=expected, text=cause.text)
