"""Precision, recall and F1 of links against known true links (pure pandas)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class LinkQuality:
    records: int
    true_links: int
    predicted_links: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted_links if self.predicted_links else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_links if self.true_links else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (f"records {self.records:,}: precision {self.precision:.3f}, recall {self.recall:.3f}, "
                f"F1 {self.f1:.3f}")


def link_quality(predicted: pd.DataFrame, truth: pd.DataFrame) -> LinkQuality:
    """*truth*: ``record_id, credit_code`` (None = the record has no enterprise);
    *predicted*: ``record_id, credit_code``, at most one row per record. A predicted
    link is correct when it names the true enterprise; a true link is found when the
    record's predicted link is correct."""
    if predicted["record_id"].duplicated().any():
        raise ValueError("more than one predicted link for a record")
    t = truth.drop_duplicates("record_id").set_index("record_id")["credit_code"]
    p = predicted.set_index("record_id")["credit_code"]
    p = p[p.index.isin(t.index)]
    correct = int((p == t.reindex(p.index)).sum())
    return LinkQuality(records=len(t), true_links=int(t.notna().sum()), predicted_links=len(p), correct=correct)
