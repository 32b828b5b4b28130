"""Review states with the four-eyes rule, every transition appended to the audit trail.

    draft -> submitted -> approved -> released -> withdrawn
                       -> rejected -> submitted (after rework)

The rules are enforced here, in the library, so that a page, a notebook or a
direct function call cannot get around them: only a supervisor approves,
rejects, releases or withdraws; nobody approves their own run; rejecting and
withdrawing need a written reason. ``workbench.audit`` is append-only in the
lake itself (``Lake.write`` refuses to overwrite it), so no page can rewrite it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa
from pyspark.sql import functions as F

from workbench.auth import User
from workbench.lake import Lake

AUDIT = "workbench.audit"
AUDIT_SCHEMA = pa.schema([
    ("audit_id", pa.string()), ("run_id", pa.string()), ("at", pa.timestamp("us", tz="UTC")),
    ("user", pa.string()), ("action", pa.string()), ("before", pa.string()), ("after", pa.string()),
    ("comment", pa.string()),
])
SUPERVISOR = "supervisor"

# action -> (allowed states before, state after)
TRANSITIONS = {
    "submit": (("draft", "rejected"), "submitted"),
    "approve": (("submitted",), "approved"),
    "reject": (("submitted",), "rejected"),
    "release": (("approved",), "released"),
    "withdraw": (("released",), "withdrawn"),
}


class ReviewError(PermissionError):
    """A transition the rules do not allow."""


@dataclass(frozen=True)
class AuditEntry:
    audit_id: str
    run_id: str
    at: datetime
    user: str
    action: str
    before: str | None
    after: str
    comment: str


def record_transition(lake: Lake, run_id: str, user: str, action: str, before: str | None, after: str,
                      comment: str) -> None:
    row = {"audit_id": uuid.uuid4().hex, "run_id": run_id, "at": datetime.now(timezone.utc), "user": user,
           "action": action, "before": before, "after": after, "comment": comment}
    lake.write(AUDIT, lake.spark.createDataFrame(pa.Table.from_pylist([row], schema=AUDIT_SCHEMA)))


def audit_trail(lake: Lake, run_id: str | None = None) -> list[AuditEntry]:
    if not lake.exists(AUDIT):
        return []
    df = lake.read(AUDIT)
    if run_id is not None:
        df = df.filter(F.col("run_id") == run_id)
    entries = [AuditEntry(**r.asDict()) for r in df.collect()]
    return sorted(entries, key=lambda e: e.at)


def states(lake: Lake) -> dict[str, str]:
    """Current state of every run: the state after its latest transition."""
    latest: dict[str, AuditEntry] = {}
    for entry in audit_trail(lake):
        latest[entry.run_id] = entry
    return {run_id: e.after for run_id, e in latest.items()}


def state(lake: Lake, run_id: str) -> str:
    entries = audit_trail(lake, run_id)
    if not entries:
        raise ReviewError(f"no run {run_id} in the audit trail")
    return entries[-1].after


def transition(lake: Lake, run_id: str, user: User, action: str, comment: str = "") -> str:
    """Apply *action* to *run_id* as *user* if the rules allow it; return the new state."""
    from workbench.runs.registry import get_run

    if action not in TRANSITIONS:
        raise ReviewError(f"unknown action {action!r}; actions: {', '.join(TRANSITIONS)}")
    allowed_before, after = TRANSITIONS[action]
    run = get_run(lake, run_id)
    before = state(lake, run_id)
    if before not in allowed_before:
        raise ReviewError(f"cannot {action} run {run_id}: it is {before}, and {action} needs {' or '.join(allowed_before)}")
    if action == "submit":
        if user.username != run.user and SUPERVISOR not in user.roles:
            raise ReviewError(f"{user.username} cannot submit {run.user}'s run {run_id}")
    else:
        if SUPERVISOR not in user.roles:
            raise ReviewError(f"only a supervisor may {action} a run; {user.username} has roles {list(user.roles)}")
        if action in ("approve", "reject", "release") and user.username == run.user:
            raise ReviewError(f"four-eyes rule: {user.username} made run {run_id} and cannot {action} it")
    if action in ("reject", "withdraw") and not comment.strip():
        raise ReviewError(f"{action} needs a reason")
    record_transition(lake, run_id, user.username, action, before, after, comment)
    return after


def submit(lake: Lake, run_id: str, user: User, comment: str = "") -> str:
    return transition(lake, run_id, user, "submit", comment)


def approve(lake: Lake, run_id: str, user: User, comment: str = "") -> str:
    return transition(lake, run_id, user, "approve", comment)


def reject(lake: Lake, run_id: str, user: User, comment: str) -> str:
    return transition(lake, run_id, user, "reject", comment)
