"""Stable links over time: a record keeps its enterprise unless a reviewer says otherwise.

The enterprise id is the register's credit code. Each run scores only records that
have no link yet (new accounts, new employers, last month's unlinked records)
with the stored model; records linked before keep their link, so a new month
joins existing clusters instead of relinking everything and the panels of past
months do not shift. Reviewer decisions override both ways: an accepted pair is
a link (method ``clerical``), a rejected pair is never proposed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.linkage.review import standing
from workbench.linkage.splink_models import (
    BLOCK_KEYS,
    DUCKDB_DEFAULTS,
    DuckDBBudget,
    LinkageModel,
    SourceModel,
    expected_f1_threshold,
)

LINK_COLUMNS = ["source", "record_id", "credit_code", "method", "match_probability", "match_weight"]
OWN_METHODS = ("splink", "clerical")


@dataclass
class SourceOutcome:
    source: str
    links: pd.DataFrame        # LINK_COLUMNS
    queue: pd.DataFrame        # best candidates in the uncertain band, for clerical review
    model_json: dict
    threshold: float
    trained: bool
    scored_records: int
    pairs_compared: int
    scored_ids: frozenset = frozenset()  # the records this run scored (their queue rows are new)
    # the records left without a link, with the digest of what was scored (records_needing_score)
    unlinked: pd.DataFrame | None = None


def latest_decisions(decisions: pd.DataFrame | None, source: str) -> pd.DataFrame:
    """The decision that counts per (record, enterprise) pair of *source*: the last one, and
    none where the last was an ``undo`` (:func:`workbench.linkage.review.standing`)."""
    cols = ["record_id", "credit_code", "decision"]
    if decisions is None or decisions.empty:
        return pd.DataFrame(columns=cols)
    return standing(decisions[decisions["source"] == source])[cols]


def records_to_score(records: pd.DataFrame, previous: pd.DataFrame, decisions: pd.DataFrame,
                     skip: set) -> pd.DataFrame:
    """Records without a kept link: not linked deterministically (*skip*), not linked by an
    earlier run, or linked earlier to a pair a reviewer has since rejected."""
    rejected = decisions[decisions["decision"] == "reject"]
    kept = previous.merge(rejected, on=["record_id", "credit_code"], how="left", indicator=True)
    kept_ids = set(kept.loc[kept["_merge"] == "left_only", "record_id"])
    accepted_ids = set(decisions.loc[decisions["decision"] == "accept", "record_id"])
    done = kept_ids | accepted_ids | set(skip)
    return records[~records["unique_id"].isin(done)]


def _tagged(value) -> str:
    """A value as text that no value of another kind can equal (None, "", [] and ["a"] vs "a")."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "L" + "\x1e".join(sorted(map(str, value)))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "N"
    return "S" + str(value)


def record_digests(records: pd.DataFrame) -> pd.Series:
    """A digest of each record's compared attributes, one per ``unique_id`` (a source may hold
    one id under several spellings: all of them, in any order): a record whose digest is
    unchanged scores as it did."""
    columns = sorted(c for c in records.columns if c != "unique_id")
    text = ["\x1f".join(_tagged(v) for v in row) for row in zip(*(records[c] for c in columns))] \
        if columns else [""] * len(records)
    rows = pd.Series([hashlib.blake2b(t.encode("utf-8"), digest_size=12).hexdigest() for t in text],
                     index=records["unique_id"].to_numpy(), dtype=object)
    if rows.index.is_unique:
        return rows
    return rows.groupby(level=0).agg(lambda d: "|".join(sorted(d)))


def blocking_keys(frame: pd.DataFrame, blocking: tuple[str, ...]) -> set[str] | None:
    """Every key *frame*'s rows block on under *blocking* (``splink_models.BLOCK_KEYS``), or
    None when a rule has no key function (then nothing can be said about what it reaches)."""
    if any(rule not in BLOCK_KEYS for rule in blocking):
        return None
    keys: set[str] = set()
    for rule in blocking:
        keys.update(f"{rule}\x1f{k}" for k in BLOCK_KEYS[rule](frame).dropna())
    return keys


def records_needing_score(todo: pd.DataFrame, scored: pd.DataFrame | None, register_changed: pd.DataFrame | None,
                          blocking: tuple[str, ...], decided: set, digests: pd.Series | None = None) -> pd.DataFrame:
    """Of the records without a kept link (*todo*), those whose score may differ from the one
    the stored model gave them when it left them unlinked: records it never scored or whose
    attributes changed since (*scored*: ``record_id, digest``), records that share a blocking
    key with an enterprise whose compared attributes changed (*register_changed*: the model
    frame of those enterprises, old and new), and records with a reviewer decision (*decided*:
    any decision, an undone one included). *digests*: ``record_digests(todo)`` when the caller
    has them already.

    Everything when *scored* or *register_changed* is None (no earlier state, or a register
    change that cannot be diffed). Term frequencies are not a reason to score again: they
    come from the whole source, and a month's new records move them by a hair."""
    if scored is None or register_changed is None or todo.empty:
        return todo
    keys = blocking_keys(register_changed, blocking) if len(register_changed) else set()
    if keys is None:
        return todo
    before = scored.drop_duplicates("record_id").set_index("record_id")["digest"]
    now = record_digests(todo) if digests is None else digests
    changed = set(now.index[now.to_numpy() != before.reindex(now.index).to_numpy()])
    reached = np.zeros(len(todo), dtype=bool)
    if keys:
        for rule in blocking:
            key = BLOCK_KEYS[rule](todo)
            reached |= (key.notna() & (rule + "\x1f" + key.fillna("").astype(str)).isin(keys)).to_numpy()
    again = changed | set(todo["unique_id"][reached]) | set(decided)
    return todo[todo["unique_id"].isin(again)]  # every spelling of a record scored again


def assign(source: str, best: pd.DataFrame, threshold: float, band: float, previous: pd.DataFrame,
           decisions: pd.DataFrame, skip: set) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One link per record: reviewer's accept > earlier link (unless rejected) > new model
    link above *threshold*. Returns (links, review queue)."""
    accepted = decisions[decisions["decision"] == "accept"].drop_duplicates("record_id", keep="last")
    accepted = accepted[~accepted["record_id"].isin(skip)]
    clerical = pd.DataFrame({"source": source, "record_id": accepted["record_id"],
                             "credit_code": accepted["credit_code"], "method": "clerical",
                             "match_probability": 1.0, "match_weight": np.inf})
    rejected = decisions[decisions["decision"] == "reject"]
    prev = previous.merge(rejected, on=["record_id", "credit_code"], how="left", indicator=True)
    prev = prev[(prev["_merge"] == "left_only") & ~prev["record_id"].isin(set(accepted["record_id"]) | set(skip))]
    kept = prev.assign(source=source, method="splink")[LINK_COLUMNS]
    taken = set(clerical["record_id"]) | set(kept["record_id"]) | set(skip)
    fresh = best[~best["record_id"].isin(taken)]
    new = fresh[fresh["match_weight"] >= threshold]
    new_links = pd.DataFrame({"source": source, "record_id": new["record_id"], "credit_code": new["credit_code"],
                              "method": "splink", "match_probability": new["match_probability"],
                              "match_weight": new["match_weight"]})
    decided = set(zip(decisions["record_id"], decisions["credit_code"]))
    uncertain = fresh[(fresh["match_weight"] - threshold).abs() <= band]
    uncertain = uncertain[[(r, c) not in decided for r, c in zip(uncertain["record_id"], uncertain["credit_code"])]]
    links = concat_rows([clerical, kept, new_links], LINK_COLUMNS)
    return links, uncertain.assign(source=source, threshold_weight=threshold).reset_index(drop=True)


def concat_rows(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Stack frames, skipping empty ones (pandas warns about their dtypes otherwise)."""
    frames = [f[columns] for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def link_source(model: SourceModel, register: pd.DataFrame, records: pd.DataFrame, *,
                previous: pd.DataFrame | None = None, decisions: pd.DataFrame | None = None,
                skip: set | None = None, stored: dict | None = None, backend: str = "duckdb",
                spark=None, prior: pd.Series | None = None, scored: pd.DataFrame | None = None,
                register_changed: pd.DataFrame | None = None,
                budget: DuckDBBudget = DUCKDB_DEFAULTS) -> SourceOutcome:
    """Link one source's records to the register.

    *previous*: this source's earlier links of methods ``splink``/``clerical``
    (``record_id, credit_code, match_probability, match_weight``); *decisions*: reviewer
    decisions (``source, record_id, credit_code, decision, decided_at``); *skip*: record
    ids linked deterministically (a credit code or a unique exact name beats any model);
    *stored*: ``{"model_json", "threshold"}`` of an earlier run: reused, not retrained;
    *prior*: a weight shift by credit code (``priors.weight_shift``), added to every
    pair's weight before the best candidate and the threshold are chosen (a stored
    threshold was chosen with the same prior, so pass the same one); *scored* and
    *register_changed*: what the stored model left unlinked before and what changed in the
    register since (:func:`records_needing_score`): only records they say may score
    differently are scored again; the rest stay unlinked and keep their queue rows.
    """
    skip = set(skip or ())
    previous = previous if previous is not None else pd.DataFrame(
        columns=["record_id", "credit_code", "match_probability", "match_weight"])
    decided = latest_decisions(decisions, model.source)
    trained = stored is None
    if trained:  # a new model relinks everything (reviewers' decisions still apply)
        previous = previous.iloc[0:0]
    todo = records_to_score(records, previous, decided, skip)
    unlinked_before = todo
    digests = record_digests(unlinked_before)  # once: what decides a record's scoring, and what is kept
    if not trained:
        # every record a reviewer ever decided on, an undone decision included (it reopens a pair)
        ever = set() if decisions is None or decisions.empty else \
            set(decisions.loc[decisions["source"] == model.source, "record_id"])
        todo = records_needing_score(todo, scored, register_changed, model.blocking, ever, digests)
    lm = LinkageModel(model, backend=backend, spark=spark, budget=budget)
    if trained:
        lm.fit(register, records)
    else:
        lm.with_model(stored["model_json"])
    rejected = decided[decided["decision"] == "reject"]
    if len(todo):
        best = lm.best_candidates(register, todo, population=records, prior=prior, rejected=rejected)
    else:
        best = pd.DataFrame(columns=["record_id", "credit_code", "match_weight", "match_probability"])
        lm.comparisons_ = 0
    threshold = expected_f1_threshold(best["match_weight"]) if trained else float(stored["threshold"])
    links, queue = assign(model.source, best, threshold, model.review_band, previous, decided, skip)
    still = digests[~digests.index.isin(set(links["record_id"]))]
    unlinked = pd.DataFrame({"record_id": still.index.to_numpy(), "digest": still.to_numpy()})
    return SourceOutcome(model.source, links, queue, lm.model_json_, threshold, trained, len(todo),
                         lm.comparisons_, frozenset(todo["unique_id"]), unlinked)
