"""Who may see which rows: the one access rule of the app, its pages, downloads and links.

Every signed-in role sees that a table exists, its schema, its version history and
row counts: they say what the lake holds, not what is in it. Rows are another
matter, and this module is the one place that decides, per user and table or run:

* raw layers (``bronze``, ``quarantine``) hold personal identifiers in the clear: data
  engineers only;
* the pseudonymised, cleaned and aggregated layers (``silver``, ``gold``, ``quality``):
  every signed-in role;
* ``release.<series>``: only the vintages the release reader lets the user read now
  (released, not withdrawn, embargo passed or the user cleared for it);
* a run's outputs (``runs.<run_id>.<output>``) are the method's raw result, before the
  release gate's disclosure control (cells with too few contributors, embargoed
  figures): for the run's author and the reviewers (supervisors). Everyone else reads
  what was released of it, disclosure-controlled, through the release reader
  (Dissemination, the data API);
* the workbench's own records: per table, below; unknown ones for supervisors;
* any other layer: nobody, until someone decides (the rule fails closed).

The catalogue's preview (:func:`workbench.catalog.preview_access`) is this rule; the
Runs, Compare and Review pages ask :func:`run_access` through ``workbench.app.data``,
whose run readers refuse a run the user may not open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.auth import User

# Layers holding deliveries as received (personal identifiers in the clear).
RAW_LAYERS = ("bronze", "quarantine")
RAW_ROLES = ("data_engineer",)
# Pseudonymised, cleaned and aggregated layers every signed-in role works with.
OPEN_LAYERS = ("silver", "gold", "quality")
# Bookkeeping tables of the workbench, each with who may read its rows and why:
WORKBENCH_READERS: dict[str, tuple[str, ...]] = {
    # the load log and watermarks: file names, hashes and row counts, no personal data;
    # data engineers run the loads, supervisors oversee them
    "workbench.loads": ("data_engineer", "supervisor"),
    "workbench.watermarks": ("data_engineer", "supervisor"),
    # the run registry (parameters, logs), run outputs, the review audit trail, the
    # releases record (embargo times of unpublished vintages) and the suppression
    # reports (the values disclosure control hid): supervisors, who review and release.
    # Authors see their own runs on the Runs page, the public its releases on Dissemination.
    "workbench.runs": ("supervisor",),
    "workbench.run_outputs": ("supervisor",),
    "workbench.audit": ("supervisor",),
    "workbench.releases": ("supervisor",),
    "workbench.disclosure_reports": ("supervisor",),
}
# A workbench table not listed above (one a later issue adds) is for supervisors until
# someone decides otherwise: the policy fails closed.
WORKBENCH_DEFAULT_READERS = ("supervisor",)
# Who sees every run's unprotected outputs (besides the run's author): the reviewers.
RUN_REVIEWERS = ("supervisor",)


@dataclass(frozen=True)
class Access:
    """Whether a user may see the rows of *subject* (a table, or ``runs.<run_id>``), and how.

    ``allowed`` False comes with ``reason``, the message key that tells the user why.
    ``release_rows`` True means the rows of a ``release.<series>`` table are shown only
    for the vintages :class:`workbench.disclosure.reader.ReleaseReader` lets this user
    read now.
    """

    table: str
    allowed: bool
    reason: str = ""
    release_rows: bool = False


class AccessDenied(PermissionError):
    """A read the access rule refused; ``rule`` and ``facts`` say why (message ``access.<rule>``)."""

    def __init__(self, message: str, rule: str, **facts: Any):
        super().__init__(message)
        self.rule = rule
        self.facts = facts


def run_id_of(table: str) -> str | None:
    """The run id in a run output's name ``runs.<run_id>.<output>``, else ``None``."""
    parts = table.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "runs" and parts[1] else None


def may_open_run(user: User | None, run_author: str | None) -> bool:
    """True when *user* may see the raw outputs (and the record) of a run by *run_author*.

    *run_author* ``None`` (the run is not recorded) leaves the reviewers only.
    """
    if user is None:
        return False
    return user.has_any(RUN_REVIEWERS) or (run_author is not None and run_author == user.username)


def run_access(user: User | None, run_id: str, run_author: str | None) -> Access:
    """May *user* open run *run_id* (by *run_author*): its parameters, trail and raw outputs?"""
    subject = f"runs.{run_id}"
    if user is None:
        return Access(subject, False, "catalog.access.signin")
    ok = may_open_run(user, run_author)
    return Access(subject, ok, "" if ok else "catalog.access.run_output")


def check_run(user: User | None, run_id: str, run_author: str | None) -> None:
    """Raise :class:`AccessDenied` unless *user* may open run *run_id*.

    The refusal is the same for a run that exists and one that does not, so a refusal
    does not tell anyone which run ids exist.
    """
    if not run_access(user, run_id, run_author).allowed:
        raise AccessDenied(f"run {run_id} is not open to this user", "run_refused", run=run_id)


def table_access(user: User | None, table: str, *, run_author: str | None = None) -> Access:
    """May *user* see the rows of *table*? By layer and role; a run output by :func:`run_access`.

    *run_author* is the user name recorded for the run behind a ``runs.<run_id>.<output>``
    table (``None`` when unknown: then only reviewers may look). Unknown layers are
    refused to everyone.
    """
    if user is None:
        return Access(table, False, "catalog.access.signin")
    layer = table.partition(".")[0]
    if layer in RAW_LAYERS:
        ok = user.has_any(RAW_ROLES)
        return Access(table, ok, "" if ok else "catalog.raw_restricted")
    if layer in OPEN_LAYERS:
        return Access(table, True)
    if layer == "release":
        return Access(table, True, release_rows=True)
    if layer == "runs":
        decided = run_access(user, run_id_of(table) or "", run_author)
        return Access(table, decided.allowed, decided.reason)
    if layer == "workbench":
        ok = user.has_any(WORKBENCH_READERS.get(table, WORKBENCH_DEFAULT_READERS))
        return Access(table, ok, "" if ok else "catalog.access.workbench")
    return Access(table, False, "catalog.access.unclassified")
