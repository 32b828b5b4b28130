"""Stable links over time: a record keeps its enterprise unless a reviewer says otherwise.

The enterprise id is the register's credit code. Each run scores only records that
have no link yet (new accounts, new employers, last month's unlinked records)
with the stored model; records linked before keep their link, so a new month
joins existing clusters instead of relinking everything and the panels of past
months do not shift. Reviewer decisions override both ways: an accepted pair is
a link (method ``clerical``), a rejected pair is never proposed again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.linkage.priors import apply_prior
from workbench.linkage.review import standing
from workbench.linkage.splink_models import LinkageModel, SourceModel, best_per_record, expected_f1_threshold

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
                spark=None, prior: pd.Series | None = None) -> SourceOutcome:
    """Link one source's records to the register.

    *previous*: this source's earlier links of methods ``splink``/``clerical``
    (``record_id, credit_code, match_probability, match_weight``); *decisions*: reviewer
    decisions (``source, record_id, credit_code, decision, decided_at``); *skip*: record
    ids linked deterministically (a credit code or a unique exact name beats any model);
    *stored*: ``{"model_json", "threshold"}`` of an earlier run: reused, not retrained;
    *prior*: a weight shift by credit code (``priors.weight_shift``), added to every
    pair's weight before the best candidate and the threshold are chosen (a stored
    threshold was chosen with the same prior, so pass the same one).
    """
    skip = set(skip or ())
    previous = previous if previous is not None else pd.DataFrame(
        columns=["record_id", "credit_code", "match_probability", "match_weight"])
    decided = latest_decisions(decisions, model.source)
    trained = stored is None
    if trained:  # a new model relinks everything (reviewers' decisions still apply)
        previous = previous.iloc[0:0]
    todo = records_to_score(records, previous, decided, skip)
    lm = LinkageModel(model, backend=backend, spark=spark)
    if trained:
        lm.fit(register, records)
    else:
        lm.with_model(stored["model_json"])
    if len(todo):
        pairs = lm.predict(register, todo, population=records)
    else:
        pairs = pd.DataFrame(columns=["record_id", "credit_code", "match_weight", "match_probability"])
        lm.comparisons_ = 0
    if prior is not None and len(pairs):
        pairs = apply_prior(pairs, prior)
    rejected = decided[decided["decision"] == "reject"]
    best = best_per_record(pairs, rejected)
    threshold = expected_f1_threshold(best["match_weight"]) if trained else float(stored["threshold"])
    links, queue = assign(model.source, best, threshold, model.review_band, previous, decided, skip)
    return SourceOutcome(model.source, links, queue, lm.model_json_, threshold, trained, len(todo),
                         lm.comparisons_, frozenset(todo["unique_id"]))
