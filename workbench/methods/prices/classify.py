"""COICOP classification of scraped products: rules on the category path, then a text model.

1. **Rules**: regular expressions on the retailer's category path (``conf/prices.toml``)
   give a group when one matches (``source = "rule"``).
2. **Model**: a character n-gram TF-IDF + logistic regression on product names,
   trained on the rule-labelled products, classifies products no rule covers
   (``source = "model"``). Its probability is the item's confidence; for
   rule-labelled items the confidence is the model's out-of-fold probability of the
   rule's group, so a rule the names contradict shows up too.
3. **Review list**: items with confidence below the threshold, or whose rule and
   model disagree, for a statistician to check.

Chinese product names need no word segmentation here: character 1-3-grams carry
the item words (大米, 衬衫, 血压计) whatever the brand in front of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from workbench.methods.prices.settings import Group


def rule_group(paths: pd.Series, groups: tuple[Group, ...]) -> pd.Series:
    """The first group whose path pattern matches each category path, else None."""
    out = pd.Series([None] * len(paths), index=paths.index, dtype=object)
    text = paths.fillna("").astype(str)
    for g in groups:
        for pattern in g.path:
            hit = out.isna() & text.str.contains(re.compile(pattern), regex=True)
            out[hit] = g.code
    return out


@dataclass
class ProductClassifier:
    """Text classifier on product names (scikit-learn estimator conventions)."""

    min_df: int = 1
    C: float = 10.0
    seed: int = 0

    def _pipeline(self):
        return make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=self.min_df, sublinear_tf=True),
            LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed))

    def fit(self, names: pd.Series, labels: pd.Series) -> "ProductClassifier":
        self.model_ = self._pipeline().fit(names.fillna("").astype(str), labels.astype(str))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, names: pd.Series) -> np.ndarray:
        return self.model_.predict_proba(names.fillna("").astype(str))

    def oof_proba(self, names: pd.Series, labels: pd.Series, folds: int = 5) -> np.ndarray:
        """Out-of-fold probabilities for the training items (so confidence is honest)."""
        counts = labels.value_counts()
        folds = int(min(folds, counts.min())) if len(counts) else 0
        if folds < 2:
            return self.predict_proba(names)
        cv = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        return cross_val_predict(self._pipeline(), names.fillna("").astype(str), labels.astype(str), cv=cv,
                                 method="predict_proba")


def classify_products(products: pd.DataFrame, groups: tuple[Group, ...], review_below: float = 0.6,
                      seed: int = 0) -> pd.DataFrame:
    """Classify each product (columns ``product_name``, ``category_path``) to a COICOP group.

    Returns the input with ``coicop`` (final group), ``rule_coicop``, ``model_coicop``,
    ``source`` (rule | model | none), ``confidence`` (0..1) and ``review`` (bool).
    """
    out = products.copy()
    out["rule_coicop"] = rule_group(out["category_path"], groups)
    labelled = out["rule_coicop"].notna()
    out["model_coicop"] = None
    out["confidence"] = np.nan
    if labelled.sum() >= 2 and out.loc[labelled, "rule_coicop"].nunique() >= 2:
        clf = ProductClassifier(seed=seed).fit(out.loc[labelled, "product_name"], out.loc[labelled, "rule_coicop"])
        classes = np.asarray(clf.classes_)
        if labelled.any():
            proba = clf.oof_proba(out.loc[labelled, "product_name"], out.loc[labelled, "rule_coicop"])
            best = classes[proba.argmax(axis=1)]
            rule = out.loc[labelled, "rule_coicop"].to_numpy()
            col = {c: i for i, c in enumerate(classes)}
            out.loc[labelled, "model_coicop"] = best
            out.loc[labelled, "confidence"] = proba[np.arange(len(rule)), [col[r] for r in rule]]
        if (~labelled).any():
            proba = clf.predict_proba(out.loc[~labelled, "product_name"])
            out.loc[~labelled, "model_coicop"] = classes[proba.argmax(axis=1)]
            out.loc[~labelled, "confidence"] = proba.max(axis=1)
    out["coicop"] = out["rule_coicop"].where(labelled, out["model_coicop"])
    out["source"] = np.where(labelled, "rule", np.where(out["model_coicop"].notna(), "model", "none"))
    conflict = labelled & out["model_coicop"].notna() & (out["model_coicop"] != out["rule_coicop"])
    out["review"] = (out["confidence"].fillna(0.0) < review_below) | conflict
    return out


def review_list(classified: pd.DataFrame) -> pd.DataFrame:
    """Items a statistician should check, least confident first."""
    cols = [c for c in ("retailer", "product_id", "product_name", "category_path", "coicop", "rule_coicop",
                        "model_coicop", "source", "confidence") if c in classified.columns]
    return classified.loc[classified["review"], cols].sort_values("confidence").reset_index(drop=True)
