"""Review states with the four-eyes rule, every transition appended to the audit trail.

    draft -> submitted -> approved -> released -> withdrawn
                       -> rejected -> submitted (after rework)

The rules are enforced here, in the library, so that a page, a notebook or a
direct function call cannot get around them: only a supervisor approves,
rejects, releases or withdraws; nobody approves or releases their own run;
rejecting and withdrawing need a written reason. What a user may do is read from
the user registry (``conf/users.toml``, :func:`workbench.auth.load_users`) by the
user's name, never from the roles on the ``User`` passed in: a ``User`` made up in
code has no roles here. Who the user is, the library cannot prove: that is the
sign-in of the app (and of the identity provider behind it). The only ways to add an entry
are :func:`register_draft` (a run just recorded), :func:`submit`, :func:`approve`,
:func:`reject`, ``release_run`` and ``withdraw`` (``workbench.runs.release``);
the writer itself is private.

``workbench.audit`` is append-only in the lake and a keyed hash chain
(:mod:`workbench.runs.audit_chain`): every read verifies the chain and refuses a
trail with an entry edited, inserted or deleted, naming it. Appends hold the
lake's ``workbench.audit`` lock, so two decisions at once cannot fork the chain
or both pass the same state check.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

import pyarrow as pa

from workbench.auth import User, load_users
from workbench.lake import Lake
from workbench.runs.audit_chain import (
    AUDIT,
    AUDIT_SCHEMA,
    AuditChainError,
    anchor_head,
    audit_key,
    new_entry,
    read_chain,
)
from workbench.runs.registry import get_run, output_digests

__all__ = ["AUDIT", "AUDIT_SCHEMA", "AuditChainError", "AuditEntry", "ReviewError", "TRANSITIONS", "approve",
           "audit_trail", "identical_runs", "register_draft", "reject", "state", "states", "submit", "transition"]

SUPERVISOR = "supervisor"

# action -> (allowed states before, state after)
TRANSITIONS = {
    "submit": (("draft", "rejected"), "submitted"),
    "approve": (("submitted",), "approved"),
    "reject": (("submitted",), "rejected"),
    "release": (("approved",), "released"),
    "withdraw": (("released",), "withdrawn"),
}
# Releasing writes a vintage first; only release_run may append its audit entry.
PUBLIC_ACTIONS = ("submit", "approve", "reject", "withdraw")


class ReviewError(PermissionError):
    """A transition the rules do not allow.

    *rule* names the rule that refused it and *facts* its particulars (plain values: user
    names, a run id, action and state codes), so a page says the refusal in its reader's
    language (``review.rule.<rule>`` in ``workbench.i18n``); the message itself is the English
    sentence for logs and the command line. A refusal without a catalogued rule is ``other``.
    """

    def __init__(self, message: str, rule: str = "other", **facts: Any) -> None:
        super().__init__(message)
        self.rule = rule
        self.facts = facts


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
    seq: int = -1
    evidence: dict[str, Any] | None = field(default=None, compare=False)


def _entry(row: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(audit_id=row["audit_id"], run_id=row["run_id"], at=row["at"], user=row["user"],
                      action=row["action"], before=row["before"], after=row["after"], comment=row["comment"] or "",
                      seq=int(row["seq"]), evidence=json.loads(row["evidence"]) if row["evidence"] else None)


def audit_trail(lake: Lake, run_id: str | None = None) -> list[AuditEntry]:
    """The verified trail (of one run, or all), in chain order; AuditChainError if it was tampered with."""
    entries = [_entry(r) for r in read_chain(lake)]
    return [e for e in entries if run_id is None or e.run_id == run_id]


def states(lake: Lake) -> dict[str, str]:
    """Current state of every run: the state after its latest transition."""
    return {e.run_id: e.after for e in audit_trail(lake)}


def state(lake: Lake, run_id: str) -> str:
    entries = audit_trail(lake, run_id)
    if not entries:
        raise ReviewError(f"no run {run_id} in the audit trail", "no_run", run=run_id)
    return entries[-1].after


# The states in which a run already stands for its figures: submitting an identical one again
# only adds a second copy of the same numbers to someone's queue.
STANDING = ("submitted", "approved", "released")


def identical_runs(lake: Lake, kind: str, params: Mapping[str, Any], inputs: Mapping[str, int],
                   besides: str | None = None) -> list[tuple[str, str]]:
    """(run id, state) of every run other than *besides* that is the same computation (kind,
    parameters, input versions: :func:`~workbench.runs.registry.run_fingerprint`) and is
    submitted, approved or released, oldest first."""
    from workbench.runs.registry import list_runs, run_fingerprint

    wanted = run_fingerprint(kind, params, inputs)
    current = states(lake)
    same = [r for r in list_runs(lake) if r.run_id != besides and current.get(r.run_id) in STANDING
            and run_fingerprint(r.kind, r.params, r.inputs) == wanted]
    return [(r.run_id, current[r.run_id]) for r in sorted(same, key=lambda r: r.started_at)]


def _append(lake: Lake, chain: list[dict[str, Any]], run_id: str, user: str, action: str, before: str | None,
            after: str, comment: str, evidence: Mapping[str, Any] | None = None) -> None:
    """Append one entry after the verified *chain*. The caller holds the audit lock."""
    key = audit_key(lake.settings)
    row = new_entry(key, chain, audit_id=uuid.uuid4().hex, run_id=run_id,
                    at=datetime.now(timezone.utc), user=user, action=action, before=before, after=after,
                    comment=comment, evidence=evidence)
    lake.append_arrow(AUDIT, pa.Table.from_pylist([row], schema=AUDIT_SCHEMA))
    anchor_head(lake, key, [*chain, row])  # after the entry: a crash between leaves the head behind, not ahead


def register_draft(lake: Lake, run_id: str) -> str:
    """Start the trail of a run just recorded in ``workbench.runs``: draft, by its author."""
    run = get_run(lake, run_id)  # the author comes from the run's record, not from the caller
    with lake.exclusive(AUDIT):
        chain = read_chain(lake)
        if any(r["run_id"] == run_id for r in chain):
            raise ReviewError(f"run {run_id} already has an audit trail")
        _append(lake, chain, run_id, run.user, "record", None, "draft", "")
    return "draft"


def registered_roles(user: User) -> tuple[str, ...]:
    """The roles the user registry gives *user*'s account; ReviewError when it has none there."""
    account = load_users().get(user.username)
    if account is None:
        raise ReviewError(f"{user.username} is not an account of the user registry, so has no role in review",
                          "no_account", user=user.username)
    return account.roles


def _check(lake: Lake, chain: list[dict[str, Any]], run_id: str, user: User, action: str, comment: str) -> str:
    """The state before *action*, if the rules let *user* apply it; else ReviewError."""
    if action not in TRANSITIONS:
        raise ReviewError(f"unknown action {action!r}; actions: {', '.join(TRANSITIONS)}")
    allowed_before, _ = TRANSITIONS[action]
    run = get_run(lake, run_id)
    trail = [r for r in chain if r["run_id"] == run_id]
    if not trail:
        raise ReviewError(f"no run {run_id} in the audit trail", "no_run", run=run_id)
    before = trail[-1]["after"]
    if before not in allowed_before:
        raise ReviewError(f"cannot {action} run {run_id}: it is {before}, and {action} needs {' or '.join(allowed_before)}",
                          "wrong_state", run=run_id, action=action, state=before, needs=tuple(allowed_before))
    roles = registered_roles(user)
    if action == "submit":
        if user.username != run.user and SUPERVISOR not in roles:
            raise ReviewError(f"{user.username} cannot submit {run.user}'s run {run_id}", "not_own", user=user.username,
                              author=run.user, run=run_id)
    else:
        if SUPERVISOR not in roles:
            raise ReviewError(f"only a supervisor may {action} a run; {user.username} has roles {list(roles)}",
                              "not_supervisor", user=user.username, action=action)
        if action in ("approve", "reject", "release") and user.username == run.user:
            raise ReviewError(f"four-eyes rule: {user.username} made run {run_id} and cannot {action} it", "four_eyes",
                              user=user.username, run=run_id, action=action)
    if action in ("reject", "withdraw") and not comment.strip():
        raise ReviewError(f"{action} needs a reason", "needs_reason", action=action)
    return before


def transition(lake: Lake, run_id: str, user: User, action: str, comment: str = "") -> str:
    """Apply *action* to *run_id* as *user* if the rules allow it; return the new state.

    ``release`` is refused here: a run is released by ``release_run``, which writes
    the vintage first and then the entry that vouches for it.
    """
    if action == "release":
        raise ReviewError("release a run with workbench.runs.release.release_run, which writes its vintage")
    if action not in PUBLIC_ACTIONS:
        raise ReviewError(f"unknown action {action!r}; actions: {', '.join(PUBLIC_ACTIONS)}")
    with lake.exclusive(AUDIT):
        chain = read_chain(lake)
        before = _check(lake, chain, run_id, user, action, comment)
        after = TRANSITIONS[action][1]
        # An approval is of these rows: release publishes an output only while its digest is this one.
        evidence = {"outputs": output_digests(lake, get_run(lake, run_id))} if action == "approve" else None
        _append(lake, chain, run_id, user.username, action, before, after, comment, evidence)
    return after


def approved_outputs(chain: list[dict[str, Any]], run_id: str) -> dict[str, dict[str, Any]]:
    """What the run's latest approval approved: output name -> table, version, rows and digest."""
    approvals = [r for r in chain if r["run_id"] == run_id and r["action"] == "approve"]
    evidence = json.loads(approvals[-1]["evidence"]) if approvals and approvals[-1]["evidence"] else {}
    return evidence.get("outputs") or {}


def _release_entry(lake: Lake, run_id: str, user: User, comment: str, evidence: Mapping[str, Any]) -> None:
    """Append the ``release`` entry with its evidence (for release_run, which holds the lock)."""
    chain = read_chain(lake)
    before = _check(lake, chain, run_id, user, "release", comment)
    _append(lake, chain, run_id, user.username, "release", before, "released", comment, evidence)


def submit(lake: Lake, run_id: str, user: User, comment: str = "") -> str:
    return transition(lake, run_id, user, "submit", comment)


def approve(lake: Lake, run_id: str, user: User, comment: str = "") -> str:
    return transition(lake, run_id, user, "approve", comment)


def reject(lake: Lake, run_id: str, user: User, comment: str) -> str:
    return transition(lake, run_id, user, "reject", comment)

