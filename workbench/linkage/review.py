"""Clerical review of uncertain pairs: what the reviewer sees and what a decision records.

The linkage job puts each record's best candidate whose match weight lies within the
model's review band around the threshold in ``silver.link_review_queue``. A reviewer
accepts or rejects a pair; decisions are appended to ``silver.link_reviews`` (never
overwritten: they are labels kept for good) and the next linkage run applies them:
an accepted pair becomes a link with method ``clerical``, a rejected pair is never
proposed again and the record's next-best candidate is considered. A decision taken by
mistake is undone by a later ``undo`` decision on the same pair: the latest decision of a
pair is the one that counts, and after an ``undo`` the pair is undecided again (in the
queue if it is still uncertain), while the record keeps every decision ever made.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

DECISIONS = ("accept", "reject", "undo")
UNDO = "undo"
DECISION_COLUMNS = ["source", "record_id", "credit_code", "decision", "reviewer", "decided_at", "match_weight"]
DECISION_SCHEMA = ("source string, record_id string, credit_code string, decision string, reviewer string, "
                   "decided_at timestamp, match_weight double")


def standing(decisions: pd.DataFrame | None) -> pd.DataFrame | None:
    """The decision that counts for each pair: its latest, unless that is an ``undo``.

    *decisions* in the order they were made (``decided_at`` when present, else as given)."""
    if decisions is None or decisions.empty:
        return decisions
    ordered = decisions.sort_values("decided_at", kind="stable") if "decided_at" in decisions.columns else decisions
    latest = ordered.drop_duplicates(["source", "record_id", "credit_code"], keep="last")
    return latest[latest["decision"] != UNDO]


def open_pairs(queue: pd.DataFrame, decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Queue pairs nobody has decided yet (or whose decision was undone), the closest to the
    threshold first."""
    decisions = standing(decisions) if decisions is not None and "decision" in decisions.columns else decisions
    if decisions is not None and len(decisions):
        done = set(zip(decisions["source"], decisions["record_id"], decisions["credit_code"]))
        queue = queue[[k not in done for k in zip(queue["source"], queue["record_id"], queue["credit_code"])]]
    distance = (queue["match_weight"] - queue["threshold_weight"]).abs()
    return queue.assign(_d=distance).sort_values(["_d", "source", "record_id"]).drop(columns="_d") \
        .reset_index(drop=True)


def decision_rows(pairs: pd.DataFrame, decision: str, reviewer: str, now: datetime | None = None) -> pd.DataFrame:
    """Decision records for *pairs* (rows of the queue)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision!r}")
    if not reviewer:
        raise ValueError("a decision needs a reviewer")
    now = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    return pd.DataFrame({"source": pairs["source"].astype(str), "record_id": pairs["record_id"].astype(str),
                         "credit_code": pairs["credit_code"].astype(str), "decision": decision,
                         "reviewer": reviewer, "decided_at": pd.Timestamp(now),
                         "match_weight": pairs["match_weight"].astype(float)})[DECISION_COLUMNS]


def record_decisions(lake, rows: pd.DataFrame) -> int:
    """Append decisions to ``silver.link_reviews`` (the only write here)."""
    if rows.empty:
        return 0
    df = lake.spark.createDataFrame(rows, schema=DECISION_SCHEMA)
    lake.write("silver.link_reviews", df, mode="append")
    return len(rows)
