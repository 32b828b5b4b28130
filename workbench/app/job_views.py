"""Jobs and their progress in the UI language (no data access, no statistics).

A job's description and its progress messages are written in English by the job itself (they
go to logs and the command line too); the page shows them in the user's language: the
description from the message catalogue (``job.desc.<name>``), the progress message through
the patterns below. A message no pattern knows is shown as it is, so nothing is hidden. A job's
result is kept as catalogued sentences (``JobResult.messages``) and said here in the language
of the moment it is shown, not the one it was run in.
"""

from __future__ import annotations

import re

from workbench import formatting
from workbench.i18n import MESSAGES, translate, translate_matching

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
    return translate_matching(_PROGRESS, message, lang)


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


# Arguments of job messages shown as a reader names them: a source by its title, a month with
# its year. Every other argument (counts, table names, versions) is shown as it is.
_ARGUMENTS = {"source": formatting.source_title, "first": formatting.format_month, "last": formatting.format_month}
_SEPARATOR = {"zh": "；", "en": "; "}


def result_message(messages, message: str, lang: str) -> str:
    """A job result's message in *lang*: its catalogued sentences (``JobMessage`` specs) if it has
    them, else the text it was recorded with (a result from before the catalogue)."""
    if not messages:
        return message or ""
    said = []
    for m in messages:
        args = {k: _ARGUMENTS[k](v, lang) if k in _ARGUMENTS else v for k, v in m.args}
        said.append(translate(m.key, lang, **args))
    return _SEPARATOR.get(lang, "; ").join(said)
