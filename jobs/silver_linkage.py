"""silver_linkage: every link of a source record to the register, in ``silver.links``.

The one job that writes ``silver.links``. First the deterministic rules
(``jobs.gold_panels.deterministic_links``): social insurance units by credit code,
and a unique exact name key for the sources without one. Then probabilistic links
(Splink, method 'splink'/'clerical'): electricity accounts, card merchants and
job-ad employers carry no credit code. Records the deterministic rules already link
are left to them, so every record has one link, the best one; the rest are scored
by one Splink model per source pair on DuckDB, reading the lake through Arrow. Models and thresholds are stored in
``silver.linkage_models`` and reused: a later run scores only records without a
link (stable enterprise ids over time), and of those only the ones that may score
differently than when the model left them unlinked (``silver.linkage_unlinked`` keeps a
digest of each; new and changed records, records an enterprise's register change can
reach through a blocking key, records a reviewer decided). Pairs near the threshold go to
``silver.link_review_queue`` for the clerical review page, whose decisions
(``silver.link_reviews``) are applied here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import pandas as pd
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold_panels import DETERMINISTIC, InputVersions, deterministic_links, keep_link_run_ids
from workbench.engine import linkage_memory_limit
from workbench.lake import LakeError
from workbench.linkage import prepare, priors
from workbench.linkage.clusters import (
    LINK_COLUMNS,
    OWN_METHODS,
    concat_rows,
    latest_decisions,
    link_source,
    record_digests,
)
from workbench.linkage.splink_models import MODELS, DuckDBBudget
from workbench.pipeline import Job, JobContext, JobMessage, JobResult, JobSpec
from workbench.spill import process_folder

SOURCES = {  # source -> (silver table, record id column)
    "electricity": ("silver.electricity_monthly", "account_id"),
    "card_merchants": ("silver.card_merchants", "merchant_id"),
    "job_ads": ("silver.job_ads", "employer_key"),
}
QUEUE_RECORD = {  # what the reviewer sees of a source record: name, address, area
    "electricity": ("account_name", "address", None),
    "card_merchants": ("merchant_name", "address", "district"),
    "job_ads": ("employer_name", None, "district"),
}

QUEUE_COLUMNS = ["source", "record_id", "credit_code", "match_weight", "match_probability", "threshold_weight",
                 "record_name", "record_address", "record_area", "register_name", "register_address",
                 "register_industry"]


def model_fingerprint(source: str) -> str:
    """Changes when the model's comparisons or blocking change: then it is retrained."""
    return hashlib.sha256(repr(MODELS[source]).encode()).hexdigest()[:16]


def _pandas(df: DataFrame) -> pd.DataFrame:
    return df.toArrow().to_pandas()


def source_records(source: str, df: DataFrame, det: pd.DataFrame, register: pd.DataFrame) -> pd.DataFrame:
    """Distinct records of *source* in the model's columns. MCCs and job titles are related
    to register divisions through the deterministic links (learned, not hand-coded)."""
    if source == "electricity":
        return prepare.electricity(_pandas(df.select("account_id", "account_name", "address").distinct()))
    divisions = register.set_index("unique_id")["division"]
    if source == "card_merchants":
        merchants = _pandas(df.select("merchant_id", "merchant_name", "mcc", "address", "district"))
        sure = merchants.merge(det, left_on="merchant_id", right_on="record_id")
        activity = prepare.learn_activity(pd.DataFrame({"activity": sure["mcc"],
                                                        "division": sure["credit_code"].map(divisions)}).dropna())
        return prepare.card_merchants(merchants, activity)
    ads = _pandas(df.select("employer_key", "employer_name", "district", "title"))
    sure = ads.merge(det, left_on="employer_key", right_on="record_id")
    activity = prepare.learn_activity(pd.DataFrame({"activity": sure["title"],
                                                    "division": sure["credit_code"].map(divisions)}).dropna())
    return prepare.job_ad_employers(ads, activity)


def source_prior(source: str, df: DataFrame, det: pd.DataFrame, register: pd.DataFrame, sizes: pd.Series,
                 stored: dict | None) -> tuple[pd.Series | None, dict | None, float | None]:
    """The size-class prior of a source whose model asks for one: the weight shift by
    credit code, the rates behind it and the mean rate it is relative to. A reused model
    reuses its rates and mean, so a record's weight, and which side of the stored threshold
    it falls, does not move between runs (a model stored before the mean was kept takes
    today's, and keeps it from then on)."""
    if not MODELS[source].size_prior:
        return None, None, None
    rates = stored.get("prior_rates") if stored else None
    if not rates:
        per_record = _pandas(df.select(F.col(SOURCES[source][1]).alias("record_id")))  # one row per ad
        certain = per_record.merge(det, on="record_id")["credit_code"]
        rates = priors.size_class_rates(sizes, certain, priors.reachable_by_exact_name(register))
    mean = stored.get("prior_mean") if stored and stored.get("prior_rates") else None
    if mean is None:
        mean = priors.mean_rate(sizes, rates)
    return priors.weight_shift(sizes, rates, mean), rates, mean


def one_row_per_record(rows: pd.DataFrame, raw_id: str) -> pd.DataFrame:
    """What the reviewer sees of each record when a source spells it several ways (an account
    renamed, an employer with ads from two districts): the spelling with the most fields
    filled, then the first in sort order. Not ``dropDuplicates``: it keeps whichever row the
    engine meets first, and the queue then read differently on the cluster."""
    values = [c for c in rows.columns if c != raw_id]
    ranked = rows.assign(_missing=rows[values].isna().sum(axis=1)).sort_values(
        [raw_id, "_missing", *values], na_position="last", kind="mergesort")
    return ranked.drop_duplicates(raw_id).drop(columns="_missing").rename(columns={raw_id: "record_id"}) \
        .reset_index(drop=True)


PAIR_COLUMNS = ["source", "record_id", "credit_code", "match_weight", "match_probability", "threshold_weight"]


def review_queue(source: str, q: pd.DataFrame, records: pd.DataFrame, enterprises: pd.DataFrame) -> pd.DataFrame:
    """Uncertain pairs (*q*: ``PAIR_COLUMNS``) with both sides' attributes as they are now,
    side by side."""
    if q.empty:  # nothing uncertain (small or clean deliveries): an empty queue, same columns
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    q = q[PAIR_COLUMNS]
    name, address, area = QUEUE_RECORD[source]
    rec = records.rename(columns={name: "record_name"})
    rec["record_address"] = rec[address] if address else None
    rec["record_area"] = rec[area] if area else None
    rec = rec[["record_id", "record_name", "record_address", "record_area"]].drop_duplicates("record_id")
    reg = enterprises.rename(columns={"name": "register_name", "address": "register_address",
                                      "industry_code": "register_industry"})
    out = q.merge(rec, on="record_id", how="left").merge(
        reg[["credit_code", "register_name", "register_address", "register_industry"]], on="credit_code", how="left")
    return out[QUEUE_COLUMNS]


# what an enterprise's linkage candidates are compared on: name, address and industry in the
# model frame, the size class in the job-ad prior; an invalid code leaves the register frame
REGISTER_ATTRIBUTES = ("credit_code", "credit_code_valid", "name", "address", "industry_code",
                       "industry_division", "size_class")
# Up to this many enterprise rows changed (before standardisation) are diffed, and only the
# records those whose compared attributes changed reach are scored again; more, and every
# record without a link is scored. A whole new extract of the medium register fits.
MAX_CHANGED_ENTERPRISES = 250_000
UNLINKED = "silver.linkage_unlinked"


def standardisation_digest() -> str:
    """A digest of the code that turns names and addresses into what the models compare: when
    it changes, an enterprise may block with records its register row never moved towards."""
    import inspect

    from workbench.linkage import standardise

    code = inspect.getsource(prepare) + inspect.getsource(standardise)
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]


def compared_register(rows: pd.DataFrame) -> pd.DataFrame:
    """The model frame of register *rows*, with what else a candidate's score depends on: its
    size class (the job-ad prior) and whether its code is valid (an invalid one is no candidate)."""
    frame = prepare.register(rows.reset_index(drop=True))
    return frame.assign(size_class=rows["size_class"].to_numpy(), credit_code_valid=rows["credit_code_valid"].to_numpy())


def changed_register(ctx: JobContext, enterprises_df: DataFrame, version: int, since: int | None) -> pd.DataFrame | None:
    """The model frame of every enterprise whose compared attributes changed between register
    version *since* (what the kept state was scored against) and *version*, as it was and as it
    is (a renamed firm leaves one block and joins another). Compared after standardisation: a
    new extract that writes every address another way changes no address it compares. Empty
    when nothing changed; None when it cannot be said (no earlier version, that version
    vacuumed, or too many changes): then every record is scored."""
    if since is None:
        return None
    empty = prepare.register(pd.DataFrame(columns=list(REGISTER_ATTRIBUTES)))
    if since == version:
        return empty
    try:
        old = ctx.lake.read("silver.enterprises", since).select(*REGISTER_ATTRIBUTES)
        new = enterprises_df.select(*REGISTER_ATTRIBUTES)
        limit = MAX_CHANGED_ENTERPRISES + 1
        gone = old.subtract(new).limit(limit).toArrow().to_pandas()
        came = new.subtract(old).limit(limit).toArrow().to_pandas()
    except (LakeError, PySparkException):
        return None
    if max(len(gone), len(came)) >= limit:
        return None
    before, after = compared_register(gone), compared_register(came)
    digest_before, digest_after = record_digests(before), record_digests(after)
    codes = set(digest_before.index) ^ set(digest_after.index)
    codes |= {c for c in set(digest_before.index) & set(digest_after.index) if digest_before[c] != digest_after[c]}
    changed = pd.concat([before, after], ignore_index=True)
    return changed[changed["unique_id"].isin(codes)].drop(columns=["size_class", "credit_code_valid"]) \
        .reset_index(drop=True) if codes else empty


@contextmanager
def spill_folder() -> Iterator[str]:
    """A folder for DuckDB's spills during this run, named after this process, removed when the
    run ends; one left by a run whose process is gone (killed) is removed by the next run."""
    folder = process_folder(SPILL_PREFIX)
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


SPILL_PREFIX = "workbench-linkage-"


def kept_state(state: pd.DataFrame | None) -> tuple[pd.DataFrame | None, int | None]:
    """The records the last run left unlinked and the register version they were scored
    against; (None, None) when there are none, or they were scored with other standardisation
    code or without a recorded version: then every record is scored."""
    if state is None or state.empty or not {"register_version", "standardisation"} <= set(state.columns):
        return None, None
    versions = state["register_version"].dropna().unique()
    if len(versions) != 1 or (state["standardisation"] != standardisation_digest()).any():
        return None, None
    return state, int(versions[0])


INPUTS = ("silver.enterprises", "silver.social_insurance_monthly", "silver.electricity_monthly",
          "silver.card_merchants", "silver.job_ads", "silver.link_reviews")


def write_deterministic_links(ctx: JobContext, links: DataFrame) -> list[JobMessage]:
    """Replace the deterministic rows of ``silver.links``; a link that already existed keeps
    the run id that made it. Says how many links each source has."""
    lake = ctx.lake
    links = links.withColumn("linked_run_id", F.lit(ctx.run_id))
    if lake.exists("silver.links"):
        previous = lake.read("silver.links", lake.version("silver.links"))
        methods = ", ".join(f"'{m}'" for m in DETERMINISTIC)
        lake.write("silver.links", keep_link_run_ids(links, previous), mode="overwrite",
                   replace_where=f"method IN ({methods})")
    else:
        lake.write("silver.links", links)
    counts = {r["source"]: r["n"] for r in links.groupBy("source").agg(F.count(F.lit(1)).alias("n")).collect()}
    return [JobMessage.of("jobmsg.links_by_source", source=k, n=v) for k, v in sorted(counts.items())]


def build_linkage(ctx: JobContext) -> JobResult:
    lake = ctx.lake
    logging.getLogger("splink").setLevel(logging.WARNING)
    pinned = InputVersions.of(ctx, "silver_linkage", INPUTS)
    read_rows = pinned.rows_read(ctx)
    if pinned.versions["silver.enterprises"] is None:
        return JobResult("silver_linkage", "skipped", messages=(JobMessage.of("jobmsg.missing_table", table="silver.enterprises"),))
    enterprises_df = pinned.read(ctx, "silver.enterprises")
    inputs = {s: pinned.read(ctx, t) for s, (t, _) in SOURCES.items()}
    certain = deterministic_links(enterprises_df, pinned.read(ctx, "silver.social_insurance_monthly"),
                                  inputs["electricity"], inputs["card_merchants"], inputs["job_ads"])
    if certain is None:
        return JobResult("silver_linkage", "skipped", messages=(JobMessage.of("jobmsg.no_link_source"),))
    # the probabilistic rows as the last run left them, before this run rewrites anything
    links_df = lake.read("silver.links", lake.version("silver.links")) if lake.exists("silver.links") else None
    previous = _pandas(links_df.filter(F.col("method").isin(*OWN_METHODS))) if links_df is not None else None
    ctx.progress(0.05, "deterministic links")
    notes = write_deterministic_links(ctx, certain)
    if all(v is None for v in inputs.values()):  # credit codes only: nothing to score
        return JobResult("silver_linkage", "ok", rows_read=read_rows, rows_written=lake.row_count("silver.links"),
                         messages=tuple(notes))
    enterprises = _pandas(enterprises_df.filter("credit_code_valid").select(
        "credit_code", "name", "address", "industry_code", "industry_division", "size_class"))
    register = prepare.register(enterprises)
    sizes = enterprises.set_index("credit_code")["size_class"]
    det_all = _pandas(certain.filter(F.col("source") != "social_insurance").select("source", "record_id",
                                                                                  "credit_code"))
    if previous is not None:
        previous["match_weight"] = float("nan")  # silver.links keeps probabilities only
    reviews = pinned.read(ctx, "silver.link_reviews")
    decisions = _pandas(reviews) if reviews is not None else None
    stored_df = _pandas(lake.read("silver.linkage_models")) if lake.exists("silver.linkage_models") else None
    # what the stored models left unlinked at the last run, and what changed in the register since:
    # a record neither touches scores as it did, and is not scored again
    unlinked_before, scored_against = kept_state(_pandas(lake.read(UNLINKED)) if lake.exists(UNLINKED) else None)
    register_changed = changed_register(ctx, enterprises_df, pinned.versions["silver.enterprises"], scored_against) \
        if unlinked_before is not None else None

    # Queue rows of records this run does not score again stay queued: a re-run must
    # not drop pairs a reviewer has not decided yet.
    previous_queue = _pandas(lake.read("silver.link_review_queue")) \
        if lake.exists("silver.link_review_queue") else None
    all_links, queues, models, unlinked = [], [], [], []
    done = 0
    # DuckDB, in this process, holds at most its budget and spills the rest to a folder of its own
    with spill_folder() as spill:
        budget = DuckDBBudget(linkage_memory_limit(ctx.settings), spill)
        for source, df in inputs.items():
            if df is None:
                continue
            ctx.progress(0.1 + 0.8 * done / len(SOURCES), f"linking {source}")
            done += 1
            det = det_all[det_all["source"] == source]
            records = source_records(source, df, det, register)
            if records.empty or register.empty:
                # a table whose every row was quarantined: nothing to train on or score, and what
                # the last run left (links, open pairs, unlinked records) stays as it was
                notes.append(JobMessage.of("jobmsg.no_records", source=source if records.empty else "register"))
                if previous is not None:
                    all_links.append(previous[previous["source"] == source])
                if previous_queue is not None:
                    queues.append(previous_queue[previous_queue["source"] == source])
                if unlinked_before is not None:
                    unlinked.append(unlinked_before[unlinked_before["source"] == source])
                continue
            stored = None
            if stored_df is not None:
                row = stored_df[(stored_df["source"] == source) & (stored_df["fingerprint"] == model_fingerprint(source))]
                if len(row):
                    rates_json = row["prior_json"].iat[0] if "prior_json" in row else None
                    mean = row["prior_mean"].iat[0] if "prior_mean" in row else None
                    stored = {"model_json": json.loads(row["model_json"].iat[0]), "threshold": row["threshold"].iat[0],
                              "prior_rates": json.loads(rates_json) if isinstance(rates_json, str) else None,
                              "prior_mean": float(mean) if mean is not None and pd.notna(mean) else None}
            prior, rates, mean = source_prior(source, df, det, register, sizes, stored)
            # a prior whose mean was not kept moved with the register: every unlinked record is scored
            reach = None if prior is not None and stored is not None and stored["prior_mean"] is None \
                else register_changed
            prev = previous[previous["source"] == source] if previous is not None else None
            scored = None
            if unlinked_before is not None and stored is not None:
                scored = unlinked_before[(unlinked_before["source"] == source)
                                         & (unlinked_before["fingerprint"] == model_fingerprint(source))]
            outcome = link_source(MODELS[source], register, records, previous=prev, decisions=decisions,
                                  skip=set(det["record_id"]), stored=stored, prior=prior, scored=scored,
                                  register_changed=reach, budget=budget)
            all_links.append(outcome.links)
            unlinked.append(outcome.unlinked.assign(source=source, fingerprint=model_fingerprint(source)))
            raw_id = SOURCES[source][1]
            name_col, address_col, area_col = QUEUE_RECORD[source]
            cols = [c for c in (raw_id, name_col, address_col, area_col) if c]
            pairs = outcome.queue.assign(source=source)
            if previous_queue is not None:
                standing = latest_decisions(decisions, source)  # an undone decision leaves its pair open
                decided_ids = set(standing["record_id"])
                old = previous_queue[(previous_queue["source"] == source)
                                     & ~previous_queue["record_id"].isin(outcome.scored_ids | decided_ids)]
                # pairs of records not scored again stay, shown with both sides as they are today
                pairs = concat_rows([pairs, old], PAIR_COLUMNS)
            raw = one_row_per_record(_pandas(df.select(*cols).distinct()), raw_id) \
                if len(pairs) else pd.DataFrame(columns=["record_id", *cols[1:]])
            queues.append(review_queue(source, pairs, raw, enterprises))
            models.append({"source": source, "fingerprint": model_fingerprint(source),
                           "model_json": json.dumps(outcome.model_json, ensure_ascii=False),
                           "threshold": float(outcome.threshold),
                           "trained_run_id": ctx.run_id if outcome.trained else None,
                           "prior_json": json.dumps(rates, ensure_ascii=False) if rates else None,
                           "prior_mean": mean})
            notes.append(JobMessage.of("jobmsg.linked_trained" if outcome.trained else "jobmsg.linked", source=source,
                                       links=len(outcome.links), scored=outcome.scored_records,
                                       review=len(outcome.queue), threshold=float(outcome.threshold)))

    ctx.progress(0.9, "writing links")
    spark = enterprises_df.sparkSession
    links = concat_rows(all_links, LINK_COLUMNS)
    links["match_probability"] = links["match_probability"].astype(float)
    # the deterministic job's schema exactly: both jobs replace only their own methods' rows
    schema = "source string, record_id string, credit_code string, method string, match_probability double"
    out = spark.createDataFrame(links[["source", "record_id", "credit_code", "method", "match_probability"]],
                                schema=schema).withColumn("linked_run_id", F.lit(ctx.run_id))
    methods = ", ".join(f"'{m}'" for m in OWN_METHODS)
    lake.write("silver.links", out, mode="overwrite", replace_where=f"method IN ({methods})")
    queue = concat_rows(queues, QUEUE_COLUMNS)
    for c in queue.columns:
        if c not in ("match_weight", "match_probability", "threshold_weight"):
            queue[c] = queue[c].astype(object).where(queue[c].notna(), None)
    qschema = ("source string, record_id string, credit_code string, match_weight double, "
               "match_probability double, threshold_weight double, record_name string, record_address string, "
               "record_area string, register_name string, register_address string, register_industry string")
    lake.write("silver.link_review_queue", spark.createDataFrame(queue, schema=qschema)
               .withColumn("queued_run_id", F.lit(ctx.run_id)), mode="overwrite")
    columns = ["source", "fingerprint", "model_json", "threshold", "trained_run_id", "prior_json", "prior_mean",
               "saved_at"]
    model_rows = pd.DataFrame(models, columns=columns[:-1]).assign(
        saved_at=datetime.now(timezone.utc).replace(tzinfo=None))
    if stored_df is not None:
        # keep the training run of a reused model
        prior = stored_df.set_index(["source", "fingerprint"])["trained_run_id"]
        model_rows["trained_run_id"] = [r if r is not None else prior.get((s, f)) for s, f, r in zip(
            model_rows["source"], model_rows["fingerprint"], model_rows["trained_run_id"])]
        # a source not linked this time (no table, or no records) keeps its trained model as it was
        idle = stored_df[~stored_df["source"].isin(set(model_rows["source"]))]
        if len(idle):  # (concatenating an empty frame is deprecated in pandas: its columns' types would count)
            idle = idle.reindex(columns=columns)
            model_rows = pd.concat([model_rows, idle], ignore_index=True) if len(model_rows) else idle
    lake.write("silver.linkage_models", spark.createDataFrame(
        model_rows[["source", "fingerprint", "model_json", "threshold", "trained_run_id", "saved_at", "prior_json",
                    "prior_mean"]],
        schema="source string, fingerprint string, model_json string, threshold double, "
               "trained_run_id string, saved_at timestamp, prior_json string, prior_mean double"),
        mode="overwrite", evolve=True)
    # written last: a run killed before this leaves the earlier state, which only scores more
    state = concat_rows(unlinked, ["source", "record_id", "digest", "fingerprint"])
    state = state.astype(object).where(state.notna(), None).assign(
        register_version=int(pinned.versions["silver.enterprises"]), standardisation=standardisation_digest())
    lake.write(UNLINKED, spark.createDataFrame(
        state, schema="source string, record_id string, digest string, fingerprint string, register_version long, "
                      "standardisation string"), mode="overwrite", evolve=True)
    return JobResult("silver_linkage", "ok", rows_read=read_rows, rows_written=lake.row_count("silver.links"),
                     messages=tuple(notes))


JOBS = [
    Job(JobSpec("silver_linkage", "silver",
                "Record linkage to the register: credit codes and unique name keys, then Splink on DuckDB "
                "for accounts, merchants and employers",
                INPUTS,
                ("silver.links", "silver.link_review_queue", "silver.linkage_models", UNLINKED)), build_linkage),
]
