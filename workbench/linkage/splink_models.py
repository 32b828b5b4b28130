"""Probabilistic linkage with Splink (Fellegi-Sunter, trained without labels by EM).

One model per source pair (register x electricity accounts, register x card
merchants, register x job-ad employers). Inputs are pandas frames with the
standard columns below, already standardised (``standardise.py``); the model
binds to a backend late (settings saved apart from any engine): DuckDB here, Spark on a cluster
(``backend="spark"`` with a SparkSession from classic PySpark; Sail's Spark
Connect session is not one Splink can drive).

Standard columns (missing ones are simply not compared):

``unique_id``        record id (register: credit code)
``name_core``        distinctive name (``standardise.name_core``)
``name_grams``       character bigrams of ``name_core`` (list)
``name_pinyin``      toneless pinyin of ``name_core`` (homophone slips)
``name_head``        first two characters of ``name_core`` (a blocking key)
``name_tail``        last two characters (the industry word: 食品, 餐饮...)
``address_core``     ``standardise.address_core``
``county``           county name
``division``         register: industry division; source: learned compatible divisions (list)
``phone``            digits only
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.linkage.priors import apply_prior

REGISTER = "register"


@dataclass(frozen=True)
class SourceModel:
    """What one source pair compares and how candidate pairs are found."""

    source: str
    comparisons: tuple[str, ...]
    blocking: tuple[str, ...]
    # EM sessions: each blocks on something, and trains every comparison not using it
    em_blocking: tuple[str, ...]
    review_band: float = 2.0  # match weights within +-band of the threshold go to clerical review
    tf_name: bool = True  # term-frequency adjustment on exact name: common names weigh less
    u_pairs: float = 1e6  # random pairs for u (Splink's estimate_u_using_random_sampling)
    em_sample: int = 2000  # records (NumPy-sampled, seeded) the EM sessions train on: bounds the cost
    # ... and fewer when an EM session would compare more pairs than this: a loose session
    # rule (same county) grows with the register, and EM's cost with its pairs
    em_max_pairs: float = 2.5e6
    # weight each candidate by how many records units of its size class produce
    # (``priors``): large employers post many job ads, one-person shops few
    size_prior: bool = False


# Exact name; the two-character trade name (字号) at the head; and, for a slip in one of
# those two characters, the other one with the industry word at the tail.
NAME_BLOCKS = ("l.name_core = r.name_core",
               "l.name_head = r.name_head",
               "l.name_tail = r.name_tail AND substr(l.name_core, 1, 1) = substr(r.name_core, 1, 1)",
               "l.name_tail = r.name_tail AND substr(l.name_core, 2, 1) = substr(r.name_core, 2, 1)")
ADDRESS_BLOCK = "l.address_core = r.address_core"


def _joined(*parts: pd.Series) -> pd.Series:
    """Parts joined into one key; a missing part makes the key missing (SQL's NULL = NULL)."""
    key = parts[0].astype(object)
    missing = parts[0].isna()
    for part in parts[1:]:
        key = key.astype(str) + "\x1f" + part.astype(str)
        missing |= part.isna()
    return key.where(~missing, None)


# The key each blocking rule compares, as a function of a model frame: a record and an
# enterprise are compared under the rule exactly when their keys are equal and not null.
# A record the register's changes cannot reach through any of these scores as it did
# (clusters.records_needing_score); a rule missing here means every record is scored.
BLOCK_KEYS = {
    NAME_BLOCKS[0]: lambda f: f["name_core"],
    NAME_BLOCKS[1]: lambda f: f["name_head"],
    NAME_BLOCKS[2]: lambda f: _joined(f["name_tail"], f["name_core"].str[0:1]),
    NAME_BLOCKS[3]: lambda f: _joined(f["name_tail"], f["name_core"].str[1:2]),
    ADDRESS_BLOCK: lambda f: f["address_core"],
}
MODELS = {
    "electricity": SourceModel(
        "electricity", ("name", "address", "township"),
        NAME_BLOCKS + (ADDRESS_BLOCK,),
        ("l.address_core = r.address_core", "l.name_head = r.name_head")),
    "card_merchants": SourceModel(
        "card_merchants", ("name", "address", "county", "division"),
        NAME_BLOCKS + (ADDRESS_BLOCK,),
        ("l.address_core = r.address_core", "l.name_head = r.name_head")),
    # job-ad contacts are recruiters' mobiles, not the register's phone: no phone comparison
    "job_ads": SourceModel(
        "job_ads", ("name", "county"),
        NAME_BLOCKS,
        # Blocking on anything related to the name would bias the name's m values (u comes
        # from random pairs), so the name is trained on same-county pairs of a sample
        ("l.name_core = r.name_core", "l.county = r.county"), em_sample=1000, review_band=1.0,
        size_prior=True),
}


def _comparison(kind: str, model: SourceModel):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if kind == "name":
        return cl.CustomComparison(output_column_name="name", comparison_levels=[
            cll.NullLevel("name_core"),
            cll.ExactMatchLevel("name_core", term_frequency_adjustments=model.tf_name),
            cll.ExactMatchLevel("name_pinyin").configure(label_for_charts="same pinyin (homophone slip)"),
            cll.CustomLevel("(contains(name_core_l, name_core_r) OR contains(name_core_r, name_core_l)) "
                            "AND least(length(name_core_l), length(name_core_r)) >= 3",
                            label_for_charts="one name contains the other", base_dialect_str="duckdb"),
            cll.LevenshteinLevel("name_core", 1),  # one character mistyped or misread
            cll.JaroWinklerLevel("name_core", 0.9),
            cll.ArrayIntersectLevel("name_grams", 2),
            cll.ArrayIntersectLevel("name_grams", 1),
            cll.ElseLevel(),
        ])
    if kind == "address":
        return cl.CustomComparison(output_column_name="address", comparison_levels=[
            cll.NullLevel("address_core"),
            cll.ExactMatchLevel("address_core", term_frequency_adjustments=True),
            cll.LevenshteinLevel("address_core", 2),
            cll.JaroWinklerLevel("address_core", 0.88),
            cll.ElseLevel(),
        ])
    if kind in ("county", "township"):
        return cl.ExactMatch(kind)
    if kind == "phone":
        return cl.ExactMatch("phone")
    if kind == "division":
        # register side: [the enterprise's division]; source side: the divisions its MCC
        # or job titles were seen with in certain links. Either may be the left table.
        return cl.CustomComparison(output_column_name="division", comparison_levels=[
            cll.CustomLevel("division_l IS NULL OR division_r IS NULL",
                            base_dialect_str="duckdb").configure(is_null_level=True),
            cll.ArrayIntersectLevel("division", 1),
            cll.ElseLevel(),
        ])
    raise ValueError(f"unknown comparison {kind!r}")


def settings(model: SourceModel):
    """Splink settings for *model* (a ``SettingsCreator``; saved with the trained model)."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="link_only", unique_id_column_name="unique_id",
        comparisons=[_comparison(k, model) for k in model.comparisons],
        blocking_rules_to_generate_predictions=list(model.blocking),
        retain_matching_columns=True, retain_intermediate_calculation_columns=False,
        probability_two_random_records_match=1e-5,
    )


@dataclass(frozen=True)
class DuckDBBudget:
    """How much memory the embedded DuckDB may hold (bytes; None: DuckDB's own default, 80 %
    of the machine) and the folder it spills to beyond that (None: DuckDB's default, a
    ``.tmp`` folder in the working directory)."""

    memory_limit: int | None = None
    spill_dir: str | None = None


DUCKDB_DEFAULTS = DuckDBBudget()  # DuckDB's own limit and spill folder (tests, notebooks)


def db_api(backend: str = "duckdb", spark=None, budget: DuckDBBudget = DUCKDB_DEFAULTS):
    """The backend Splink runs on: embedded DuckDB, or a classic SparkSession on a cluster."""
    if backend == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        con = duckdb.connect()
        con.execute("SET threads TO 2")
        if budget.memory_limit is not None:
            con.execute(f"SET memory_limit = '{int(budget.memory_limit)}B'")
        if budget.spill_dir is not None:
            con.execute("SET temp_directory = ?", [str(budget.spill_dir)])
        return DuckDBAPI(connection=con)
    if backend == "spark":
        from splink import SparkAPI

        return SparkAPI(spark_session=spark)
    raise ValueError(f"unknown backend {backend!r}")


def in_id_order(df: pd.DataFrame) -> pd.DataFrame:
    """*df* sorted by ``unique_id``, then by its other values (a source may hold one id under
    two spellings): what Splink sees must not depend on the order the engine returned rows in."""
    if df.empty:
        return df.reset_index(drop=True)
    ids = df["unique_id"].astype(str)
    if ids.is_unique:  # the usual case: the id alone is the order (a row-wise join of every value cost seconds)
        return df.iloc[np.argsort(ids.to_numpy(), kind="stable")].reset_index(drop=True)
    rest = [c for c in df.columns if c != "unique_id"]
    tiebreak = df[rest].astype(str).agg("\x1f".join, axis=1) if rest else pd.Series("", index=df.index)
    order = np.lexsort([tiebreak.to_numpy(), df["unique_id"].astype(str).to_numpy()])
    return df.iloc[order].reset_index(drop=True)


def _frame(df: pd.DataFrame, model: SourceModel, register_side: bool) -> pd.DataFrame:
    """Only the columns the model uses, with every comparison column present."""
    need = {"unique_id", "name_core", "name_grams", "name_pinyin", "name_head", "name_tail"}
    if "address" in model.comparisons:
        need.add("address_core")
    for kind in ("county", "township"):
        if kind in model.comparisons:
            need.add(kind)
    if "phone" in model.comparisons:
        need.add("phone")
    if "division" in model.comparisons:
        need.add("division")
    # id order: Splink's random pairs for u and its EM read the tables in the order given
    out = in_id_order(df.reindex(columns=sorted(need)))
    if "division" in need:
        # a list on both sides (either may be Splink's left table); no activity -> NULL
        if register_side:
            out["division"] = out["division"].map(lambda v: [v] if isinstance(v, str) and v else None)
        else:
            out["division"] = out["division"].map(
                lambda v: list(v) if isinstance(v, (list, np.ndarray)) and len(v) else None)
    return out


@dataclass
class LinkageModel:
    """A trained Splink model for one source pair; ``fit`` trains by EM, ``predict`` scores.

    ``model_json_`` is Splink's saved model: reloaded next month, it scores new
    records against the register without retraining (stable links over time).
    """

    model: SourceModel
    backend: str = "duckdb"
    spark: object = None
    seed: int = 20261124
    budget: DuckDBBudget = DUCKDB_DEFAULTS

    def _linker(self, register: pd.DataFrame, records: pd.DataFrame, settings_):
        from splink import Linker

        api = db_api(self.backend, self.spark, self.budget)
        left, right = _frame(register, self.model, True), _frame(records, self.model, False)
        if self.backend == "spark":
            left, right = self.spark.createDataFrame(left), self.spark.createDataFrame(right)
        return Linker([left, right], settings_, api, input_table_aliases=[REGISTER, self.model.source])

    def _session_pairs(self, register: pd.DataFrame, records: pd.DataFrame, rule: str) -> int:
        from splink.blocking_analysis import count_comparisons_from_blocking_rule

        tables = [_frame(register, self.model, True).assign(source_dataset=REGISTER),
                  _frame(records, self.model, False).assign(source_dataset=self.model.source)]
        api = db_api(budget=self.budget)
        try:
            counts = count_comparisons_from_blocking_rule(
                table_or_tables=tables, blocking_rule=rule, link_type="link_only", db_api=api,
                source_dataset_column_name="source_dataset", compute_post_filter_count=False)
        finally:
            api._con.close()
        return int(counts["number_of_comparisons_generated_pre_filter_conditions"])

    def training_sample(self, register: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
        """The records EM trains on: at most ``em_sample``, and few enough that no EM
        session compares more than ``em_max_pairs`` pairs (seeded, so reruns agree).

        The draw is by position, so the records are put in id order first: the engine hands
        them over in whatever order its partitions finish, and the same seed then trained a
        different model on the cluster than on the embedded engine."""
        rng = np.random.default_rng(self.seed)
        records = in_id_order(records)
        if len(records) > self.model.em_sample:
            records = records.iloc[np.sort(rng.choice(len(records), self.model.em_sample, replace=False))]
        widest = max(self._session_pairs(register, records, rule) for rule in self.model.em_blocking)
        if widest > self.model.em_max_pairs:
            n = max(int(len(records) * self.model.em_max_pairs / widest), 1)
            records = records.iloc[np.sort(rng.choice(len(records), n, replace=False))]
        self.training_records_ = len(records)
        return records

    def fit(self, register: pd.DataFrame, records: pd.DataFrame) -> "LinkageModel":
        records = self.training_sample(register, records)
        linker = self._linker(register, records, settings(self.model))
        linker.training.estimate_probability_two_random_records_match(
            ["l.name_core = r.name_core"], recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=self.model.u_pairs, seed=self.seed)
        for rule in self.model.em_blocking:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        # linker_uid names one Linker session's cache tables, drawn at random: it is not part of
        # the model, and kept it made two trainings on the same records store different models
        self.model_json_ = {k: v for k, v in linker.misc.save_model_to_json().items() if k != "linker_uid"}
        _close(linker)
        return self

    def with_model(self, model_json: dict) -> "LinkageModel":
        """Use a previously trained model (no training)."""
        self.model_json_ = model_json
        return self

    def tf_columns(self) -> list[str]:
        """The columns whose exact-match weights are term-frequency adjusted."""
        return (["name_core"] if self.model.tf_name else []) + (["address_core"] if "address" in self.model.comparisons
                                                                 else [])

    def _scoring_linker(self, register: pd.DataFrame, records: pd.DataFrame, population: pd.DataFrame | None):
        # only the ids and weights are read back: the compared values are not carried into
        # every pair (the pair table is what grows with the register)
        scoring = {**self.model_json_, "retain_matching_columns": False,
                   "retain_intermediate_calculation_columns": False}
        linker = self._linker(register, records, scoring)
        if population is not None:
            for column in self.tf_columns():
                values = pd.concat([register[column], population[column]]).dropna()
                tf = values.value_counts(normalize=True)
                linker.table_management.register_term_frequency_lookup(
                    pd.DataFrame({column: tf.index.astype(str), f"tf_{column}": tf.to_numpy()}), column)
        return linker

    def predict(self, register: pd.DataFrame, records: pd.DataFrame, min_weight: float = -5.0,
                population: pd.DataFrame | None = None) -> pd.DataFrame:
        """Candidate pairs: ``record_id, credit_code, match_weight, match_probability``
        (pairs below *min_weight* dropped).

        *population*: all of the source's records when *records* are only those left to
        score. Term frequencies then come from the register and the whole source, as in
        a full run: Splink would otherwise count them in the subset, and a re-run's
        weights would drift with what happens to be left unlinked.
        """
        linker = self._scoring_linker(register, records, population)
        try:
            pairs = linker.inference.predict(threshold_match_weight=min_weight).as_pandas_dataframe()
        finally:
            _close(linker)
        self.comparisons_ = len(pairs)
        if pairs.empty:
            return pd.DataFrame(columns=["record_id", "credit_code", "match_weight", "match_probability"])
        reg_left = pairs["source_dataset_l"] == REGISTER
        return pd.DataFrame({
            "record_id": np.where(reg_left, pairs["unique_id_r"], pairs["unique_id_l"]),
            "credit_code": np.where(reg_left, pairs["unique_id_l"], pairs["unique_id_r"]),
            "match_weight": pairs["match_weight"].astype(float),
            "match_probability": pairs["match_probability"].astype(float),
        })

    def best_candidates(self, register: pd.DataFrame, records: pd.DataFrame, min_weight: float = -5.0,
                        population: pd.DataFrame | None = None, prior: pd.Series | None = None,
                        rejected: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each record's best candidate: ``record_id, credit_code, match_weight,
        match_probability``, as :func:`best_per_record` of :meth:`predict`'s pairs with the
        *prior* (a weight shift by credit code) added and the *rejected* pairs
        (``record_id, credit_code``) left out.

        On DuckDB the choice is made where the pairs are, and one row per record comes back:
        the pairs of a city's register are many times its records, and held in pandas they
        were the linkage's largest frame."""
        if self.backend != "duckdb":
            pairs = self.predict(register, records, min_weight, population)
            if prior is not None and len(pairs):
                pairs = apply_prior(pairs, prior)
            return best_per_record(pairs, rejected).drop(columns="runner_up_weight")
        if prior is not None and not prior.index.is_unique:  # pandas' map refuses it too
            raise ValueError("the prior's credit codes repeat: one weight shift per enterprise")
        linker = self._scoring_linker(register, records, population)
        try:
            return self._best_in_duckdb(linker, min_weight, prior, rejected)
        finally:
            _close(linker)

    def _best_in_duckdb(self, linker, min_weight: float, prior: pd.Series | None,
                        rejected: pd.DataFrame | None) -> pd.DataFrame:
        predictions = linker.inference.predict(threshold_match_weight=min_weight)
        con = linker._db_api._con
        table = predictions.physical_name
        self.comparisons_ = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        shift, shifted = "", "p.match_weight"
        if prior is not None:
            con.register("wb_prior", pd.DataFrame({"credit_code": prior.index.astype(str),
                                                   "shift": prior.fillna(0.0).to_numpy(dtype=float)}))
            shift = "LEFT JOIN wb_prior s ON s.credit_code = CAST(p.credit_code AS VARCHAR)"
            shifted = "p.match_weight + coalesce(s.shift, 0.0)"
        drop = ""
        if rejected is not None and len(rejected):
            con.register("wb_rejected", rejected[["record_id", "credit_code"]].astype(str))
            drop = ("WHERE NOT EXISTS (SELECT 1 FROM wb_rejected r "
                    "WHERE r.record_id = CAST(p.record_id AS VARCHAR) AND r.credit_code = CAST(p.credit_code AS VARCHAR))")
        best = con.execute(f"""
            WITH pairs AS (
                SELECT CASE WHEN source_dataset_l = '{REGISTER}' THEN unique_id_r ELSE unique_id_l END AS record_id,
                       CASE WHEN source_dataset_l = '{REGISTER}' THEN unique_id_l ELSE unique_id_r END AS credit_code,
                       CAST(match_weight AS DOUBLE) AS match_weight,
                       CAST(match_probability AS DOUBLE) AS match_probability
                FROM {table}),
            weighed AS (
                SELECT p.record_id, p.credit_code, {shifted} AS match_weight, p.match_probability
                FROM pairs p {shift} {drop})
            SELECT record_id, credit_code, match_weight, match_probability FROM (
                SELECT *, row_number() OVER (PARTITION BY record_id  -- NaN last, as pandas sorts it
                                             ORDER BY isnan(match_weight), match_weight DESC,
                                                      credit_code ASC) AS rank
                FROM weighed)
            WHERE rank = 1 ORDER BY record_id""").df()
        if prior is not None:  # the probability of the shifted weight, as apply_prior computes it
            best["match_probability"] = 1.0 / (1.0 + np.exp2(-best["match_weight"].to_numpy(dtype=float)))
        best["match_weight"] = best["match_weight"].astype(float)
        return best.reset_index(drop=True)


def _close(linker) -> None:
    """Close a linker's DuckDB now: Splink's linker and its database sit in reference cycles,
    and an unclosed in-memory database held its tables (and its memory budget) until the
    cycle collector ran, several at once."""
    con = getattr(linker._db_api, "_con", None)
    if con is not None and hasattr(con, "close"):
        con.close()


def expected_f1_threshold(weights) -> float:
    """The match weight threshold maximising the F1 the model itself expects.

    *weights* are each record's best match weight; the model's probability of a match
    is ``p = 1 / (1 + 2**-w)``. Linking the k records with the highest weights is
    expected to get ``sum(p[:k])`` right out of ``sum(p)`` true links, so the
    expected F1 is ``2 * sum(p[:k]) / (k + sum(p))``; the threshold is the k-th
    weight at its maximum. A well-separated distribution puts it in the valley
    between the two piles; an overlapping one trades precision against recall as
    the model's own probabilities say.
    """
    w = np.sort(np.asarray(weights, dtype=float))[::-1]
    w = w[np.isfinite(w)]
    if len(w) == 0:
        return 0.0
    p = 1.0 / (1.0 + np.exp2(-w))
    k = np.arange(1, len(w) + 1)
    f1 = 2 * np.cumsum(p) / (k + p.sum())
    return float(w[int(np.argmax(f1))])


def best_per_record(pairs: pd.DataFrame, rejected: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each record's best candidate (highest match weight) and the runner-up's weight,
    ignoring pairs a reviewer rejected."""
    if rejected is not None and len(rejected):
        key = pairs["record_id"].astype(str) + "\x1f" + pairs["credit_code"].astype(str)
        bad = set(rejected["record_id"].astype(str) + "\x1f" + rejected["credit_code"].astype(str))
        pairs = pairs[~key.isin(bad)]
    ordered = pairs.sort_values(["record_id", "match_weight", "credit_code"], ascending=[True, False, True])
    ordered = ordered.assign(rank=ordered.groupby("record_id").cumcount())
    best = ordered[ordered["rank"] == 0].drop(columns="rank")
    second = ordered[ordered["rank"] == 1].set_index("record_id")["match_weight"].rename("runner_up_weight")
    return best.join(second, on="record_id").reset_index(drop=True)
