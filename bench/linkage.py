"""Record linkage at `medium` scale: Splink (DuckDB) linking every electricity account,
card merchant and job-ad employer of the medium demo to its business register.

    python bench/linkage.py [--out /tmp/demo_medium]

Reads the demo's deliveries directly with pandas (the timing is linkage, not the
lake), generates the demo first if it is missing (about 4 minutes). Every record
is scored by the model here (no deterministic pre-links), which is the harder
and slower case. Prints, per source: records, pairs compared (from Splink's
blocking analysis), seconds, pairs compared per second, precision/recall/F1
against the generator's truth (job ads with the size-class prior of
``workbench.linkage.priors``, rates from the exact-name matches); and the ratio to a baseline measured in the
same run: the exact name-key join (the deterministic method) on the same records.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
import time

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workbench.linkage import prepare, priors
from workbench.linkage.clusters import link_source
from workbench.linkage.evaluate import link_quality
from workbench.linkage.splink_models import MODELS, _frame, db_api
from workbench.linkage.standardise import name_core

SEED = 20261124


def _csv(path: str, usecols) -> pd.DataFrame:
    for enc in ("utf-8", "gbk"):
        try:
            return pd.read_csv(path, usecols=usecols, dtype=str, encoding=enc, header=0,
                               names=None, on_bad_lines="skip")
        except UnicodeDecodeError:
            continue
    raise ValueError(f"cannot decode {path}")


def load(out: str):
    d = os.path.join(out, "deliveries")
    reg_file = sorted(glob.glob(os.path.join(d, "register", "*.csv")))[-1]
    reg = _csv(reg_file, [0, 1, 2, 4, 6])
    reg.columns = ["credit_code", "name", "address", "industry_code", "size_class"]
    reg["credit_code"] = reg["credit_code"].str.upper()
    reg = reg.drop_duplicates("credit_code", keep="last")
    reg["industry_division"] = reg["industry_code"].str.replace(r"^[A-Z]", "", regex=True).str[:2]
    parts = []
    for f in sorted(glob.glob(os.path.join(d, "electricity", "*.csv"))):
        df = _csv(f, [0, 1, 2])
        df.columns = ["account_id", "account_name", "address"]
        parts.append(df)
    elec = pd.concat(parts).dropna(subset=["account_id"]).drop_duplicates("account_id", keep="last")
    merchants = pd.concat([pd.read_parquet(f) for f in glob.glob(os.path.join(d, "cards", "merchants_*.parquet"))])
    ads = pd.concat([pd.read_json(f, lines=True, dtype=False) for f in
                     sorted(glob.glob(os.path.join(d, "job_ads", "*.jsonl")))], ignore_index=True)
    return reg, elec, merchants, ads


def pairs_compared(model, register: pd.DataFrame, records: pd.DataFrame) -> int:
    from splink.blocking_analysis import cumulative_comparisons_to_be_scored_from_blocking_rules_data

    counts = cumulative_comparisons_to_be_scored_from_blocking_rules_data(
        table_or_tables=[_frame(register, model, True).assign(source_dataset="register"),
                         _frame(records, model, False).assign(source_dataset=model.source)],
        blocking_rules=list(model.blocking), link_type="link_only", db_api=db_api(),
        source_dataset_column_name="source_dataset")
    return int(counts["row_count"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/demo_medium")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.WARNING)
    if not os.path.exists(os.path.join(args.out, "manifest.json")):
        from workbench.demo.generate import generate
        print(f"generating the medium demo into {args.out} ...", flush=True)
        generate("medium", SEED, args.out)
    reg_raw, elec, merchants, ads = load(args.out)
    truth = pd.read_parquet(os.path.join(args.out, "truth", "links.parquet"))
    print(f"register {len(reg_raw):,} enterprises; electricity {len(elec):,} accounts; "
          f"card merchants {len(merchants):,}; job ads {len(ads):,}", flush=True)

    started = time.perf_counter()
    register = prepare.register(reg_raw)
    divisions = register.set_index("unique_id")["division"]
    # MCC/title -> division learned from the (cheap) exact-name matches, as the job does
    exact = register.drop_duplicates("name_core", keep=False).set_index("name_core")["unique_id"]

    sure_m = merchants.assign(cc=name_core(merchants["merchant_name"]).map(exact)).dropna(subset=["cc"])
    sure_a = ads.assign(cc=name_core(ads["employer_name"]).map(exact)).dropna(subset=["cc"])
    act_m = prepare.learn_activity(pd.DataFrame({"activity": sure_m["mcc"], "division": sure_m["cc"].map(divisions)}))
    act_a = prepare.learn_activity(pd.DataFrame({"activity": sure_a["title"], "division": sure_a["cc"].map(divisions)}))
    ads["employer_key"] = name_core(ads["employer_name"])  # the bench's employer key (silver uses name_key)
    records = {
        "electricity": prepare.electricity(elec),
        "card_merchants": prepare.card_merchants(merchants, act_m),
        "job_ads": prepare.job_ad_employers(ads, act_a),
    }
    sizes = reg_raw.set_index("credit_code")["size_class"]
    rates = priors.size_class_rates(sizes, sure_a["cc"], priors.reachable_by_exact_name(register))
    prior = {"job_ads": priors.weight_shift(sizes, rates)}
    prep_seconds = time.perf_counter() - started
    print(f"standardisation: {prep_seconds:.1f} s", flush=True)

    total_pairs, total_seconds, rows = 0, prep_seconds, []
    for source, recs in records.items():
        t0 = time.perf_counter()
        outcome = link_source(MODELS[source], register, recs, prior=prior.get(source))
        seconds = time.perf_counter() - t0
        total_seconds += seconds
        n_pairs = pairs_compared(MODELS[source], register, recs)
        total_pairs += n_pairs
        t = truth[truth["source"] == source]
        pred = outcome.links[["record_id", "credit_code"]]
        if source == "job_ads":
            pred = ads[["ad_id", "employer_key"]].merge(pred, left_on="employer_key", right_on="record_id")[
                ["ad_id", "credit_code"]].rename(columns={"ad_id": "record_id"})
        q = link_quality(pred, t)
        rows.append((source, len(recs), n_pairs, seconds, q))
        print(f"{source:15s} records {len(recs):>8,}  pairs compared {n_pairs:>12,}  {seconds:6.1f} s  "
              f"{n_pairs / seconds:>12,.0f} pairs/s  threshold {outcome.threshold:+.1f}  "
              f"review {len(outcome.queue):,}  P {q.precision:.3f} R {q.recall:.3f} F1 {q.f1:.3f}", flush=True)

    t0 = time.perf_counter()  # baseline: exact name-key join on the same records
    for recs in records.values():
        recs[["unique_id", "name_core"]].merge(register[["unique_id", "name_core"]].drop_duplicates(
            "name_core", keep=False), on="name_core")
    baseline = time.perf_counter() - t0
    print(f"\nall sources to {len(register):,} enterprises: {total_seconds:.1f} s "
          f"(limit 300 s), {total_pairs:,} pairs compared, {total_pairs / total_seconds:,.0f} pairs/s")
    print(f"baseline exact name-key join: {baseline:.2f} s; Splink linkage takes {total_seconds / baseline:,.0f}x "
          f"as long and compares {total_pairs:,} scored pairs instead of equality only")


if __name__ == "__main__":
    main()
