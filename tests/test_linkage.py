"""Probabilistic record linkage: standardisation, thresholds, stable links, review,
and accuracy against known truth (FEBRL 4 and the small demo's generator truth).

Tolerances: FEBRL 4 F1 >= 0.95 (published Splink/recordlinkage results on this
benchmark are around 0.99); on the small demo F1 >= 0.95 for electricity accounts
and card merchants and >= 0.90 for job ads (the issue's targets; measured 0.99,
0.998 and 0.92 when written).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.linkage import prepare, priors, review
from workbench.linkage.clusters import assign, link_source
from workbench.linkage.evaluate import link_quality
from workbench.linkage.splink_models import (
    DuckDBBudget,
    SourceModel,
    best_per_record,
    db_api,
    expected_f1_threshold,
)
from workbench.linkage.standardise import address_core, char_ngrams, latin_name_key, name_core, pinyin_key

FEBRL = Path(__file__).parent / "fixtures" / "febrl"


# ---- standardisation: the generator's variant rules (workbench/demo/names.py) ----------

def test_name_core_removes_what_other_departments_change():
    variants = ["G市鑫达食品有限公司", "鑫达食品", "Ｇ市鑫达食品有限公司一分厂", "中山区鑫达食品有限公司配电房",
                "鑫达食品（人民路店）", "鑫达食品分公司", "G市鑫达食品股份有限公司（新厂区）", "鑫达食品二厂"]
    assert set(name_core(pd.Series(variants))) == {"鑫达食品"}
    # a name that only looks like a place prefix keeps its words
    assert name_core(pd.Series(["G市丰太超市", "广丰市政工程有限公司"])).tolist() == ["丰太超市", "广丰市政工程"]
    assert name_core(pd.Series([None, ""])).isna().all()


def test_address_core_and_other_keys():
    variants = ["中山区和平街道中山路229号", "和平街道中山路二二九号", "中山区和平街道中山路229號",
                "中山区和平街道中山路２２９号", "中山区和平街道中山路229号院内"]
    assert set(address_core(pd.Series(variants))) == {"中山路229号"}
    assert latin_name_key(pd.Series(["The ACME Co., Ltd.", "acme limited"])).tolist() == ["acme", "acme"]
    assert char_ngrams(pd.Series(["鑫达食品", "鑫"])).tolist() == [["达食", "鑫达", "食品"], ["鑫"]]
    assert pinyin_key(pd.Series(["宏大置业", "宏达置业", "宏航置业"])).tolist() == [
        "hongdazhiye", "hongdazhiye", "honghangzhiye"]


# ---- thresholds and assignment (pure) -------------------------------------------------

def test_expected_f1_threshold_falls_in_the_valley():
    rng = np.random.default_rng(3)
    weights = np.concatenate([rng.normal(-8, 2, 300), rng.normal(12, 3, 1000)])
    t = expected_f1_threshold(weights)
    assert -4 < t < 6  # between the piles; the model's own p is about 1/2 there
    assert (weights >= t).sum() == pytest.approx(1000, abs=15)


def test_assign_keeps_earlier_links_and_applies_decisions():
    best = best_per_record(pd.DataFrame({
        "record_id": ["a", "a", "b", "c", "d", "e"], "credit_code": ["X", "Y", "Z", "W", "V", "U"],
        "match_weight": [9.0, 7.0, 8.0, 0.5, 8.0, -9.0], "match_probability": [.99, .98, .99, .6, .99, .01]}),
        rejected=pd.DataFrame({"record_id": ["a"], "credit_code": ["X"]}))
    assert best.set_index("record_id")["credit_code"].to_dict() == {"a": "Y", "b": "Z", "c": "W", "d": "V",
                                                                   "e": "U"}
    previous = pd.DataFrame({"record_id": ["b", "f"], "credit_code": ["OLD", "F1"], "match_probability": [.9, .9],
                             "match_weight": [5.0, 5.0]})
    decisions = pd.DataFrame({"record_id": ["d", "a"], "credit_code": ["V2", "X"], "decision": ["accept", "reject"]})
    links, queue = assign("s", best, threshold=1.0, band=1.0, previous=previous, decisions=decisions, skip={"e"})
    got = links.set_index("record_id")[["credit_code", "method"]].apply(tuple, axis=1).to_dict()
    assert got == {"d": ("V2", "clerical"), "b": ("OLD", "splink"), "f": ("F1", "splink"), "a": ("Y", "splink")}
    assert queue["record_id"].tolist() == ["c"]  # 0.5 is within 1.0 of the threshold


def test_review_decisions_are_validated_and_ordered():
    queue = pd.DataFrame({"source": ["s", "s"], "record_id": ["r1", "r2"], "credit_code": ["A", "B"],
                          "match_weight": [3.0, 0.2], "threshold_weight": [0.0, 0.0]})
    assert review.open_pairs(queue, None)["record_id"].tolist() == ["r2", "r1"]  # nearest the threshold first
    rows = review.decision_rows(queue.iloc[[1]], "accept", "stat")
    assert rows.iloc[0][["record_id", "credit_code", "decision"]].tolist() == ["r2", "B", "accept"]
    assert review.open_pairs(queue, rows)["record_id"].tolist() == ["r1"]
    with pytest.raises(ValueError):
        review.decision_rows(queue, "maybe", "stat")


# ---- FEBRL 4: a public benchmark with known true links ------------------------------

def _febrl(name: str) -> pd.DataFrame:
    with gzip.open(FEBRL / name, "rt") as f:
        df = pd.read_csv(f, dtype=str, skipinitialspace=True).fillna("")
    df.columns = [c.strip() for c in df.columns]
    out = pd.DataFrame({"unique_id": df["rec_id"].str.strip()})
    core = latin_name_key(df["given_name"] + " " + df["surname"])
    out["name_core"], out["name_grams"] = core, char_ngrams(core)
    out["name_pinyin"] = None
    out["name_head"], out["name_tail"] = core.str[:2], core.str[-2:]
    out["address_core"] = latin_name_key(df["street_number"] + " " + df["address_1"] + " " + df["suburb"])
    out["county"] = df["postcode"].replace("", None)  # the comparison slots take the person's attributes
    out["phone"] = df["soc_sec_id"].str.replace(" ", "").replace("", None)
    return out


def test_febrl4_f1(tmp_path):
    """Published benchmark (FEBRL 4, 5,000 true pairs): F1 >= 0.95, with DuckDB held to a
    small budget so that its blocking and scoring spill to their folder (spilling must not
    change what is computed)."""
    a, b = _febrl("febrl4_a.csv.gz"), _febrl("febrl4_b.csv.gz")
    model = SourceModel("febrl", ("name", "address", "county", "phone"),
                        ("l.name_head = r.name_head", "l.county = r.county", "l.phone = r.phone"),
                        ("l.county = r.county", "l.name_head = r.name_head"), u_pairs=2e5, em_sample=1000)
    out = link_source(model, a, b, budget=DuckDBBudget(96 * 2**20, str(tmp_path)))
    truth = pd.DataFrame({"record_id": [f"rec-{i}-dup-0" for i in range(5000)],
                          "credit_code": [f"rec-{i}-org" for i in range(5000)]})
    q = link_quality(out.links, truth)
    print("FEBRL 4:", q)
    assert q.f1 >= 0.95, q


def test_the_linkage_duckdb_keeps_its_budget_spills_and_names_the_setting_when_it_cannot(tmp_path):
    """DuckDB runs inside the workbench's process and by default takes 80 % of the machine:
    the linkage gives it ``[linkage].memory_limit`` and a spill folder. A sort larger than the
    budget completes through that folder; a result that cannot spill (one list of every
    value) is refused, and the runner's message names the setting in both languages."""
    from workbench.config import load_settings
    from workbench.engine import linkage_memory_limit, machine_memory, out_of_linkage_memory
    from workbench.pipeline import JobMessage, failure_message

    budget = DuckDBBudget(64 * 2**20, str(tmp_path))
    con = db_api(budget=budget)._con
    assert con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] == str(tmp_path)
    limit_text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert limit_text.endswith("MiB") and float(limit_text.split()[0]) <= 64, limit_text
    # about 800 MB of rows sorted under 64 MiB: it completes by spilling
    con.execute("CREATE TABLE wide AS SELECT i, repeat('x', 30) || i AS pad FROM range(12000000) t(i)")
    first, last = con.execute("SELECT min(pad), max(pad) FROM (SELECT pad FROM wide ORDER BY pad DESC, i)").fetchall()[0]
    assert (first, last) == ("x" * 30 + "0", "x" * 30 + "9999999")
    with pytest.raises(Exception) as refused:
        con.execute("SELECT list(pad) FROM wide").fetchall()
    assert out_of_linkage_memory(refused.value), str(refused.value)[:300]
    assert not out_of_linkage_memory(ValueError("column name_core not found"))
    # DuckDB's "failed to allocate" reads as the engine's words too: the runner names the linkage's setting
    assert failure_message(refused.value, load_settings()).key == "jobmsg.linkage_memory"
    said = JobMessage.of("jobmsg.linkage_memory", limit="0.1 GiB")
    for lang in ("zh", "en"):
        assert "[linkage].memory_limit" in said.text(lang) and "WORKBENCH_LINKAGE_MEMORY_LIMIT" in said.text(lang)
    # "auto" is a quarter of the machine, as the engine's pool: half is left to pandas and the cache
    assert linkage_memory_limit(load_settings()) == max(machine_memory() // 4, 256 * 2**20)
    assert linkage_memory_limit(load_settings(environ={"WORKBENCH_LINKAGE_MEMORY_LIMIT": "3GiB"})) == 3 * 2**30


def test_a_spill_folder_left_by_a_killed_linkage_is_removed_by_the_next(tmp_path, monkeypatch):
    """DuckDB spills to a folder named after the linkage's process. A run killed (SIGKILL, the
    kernel's out-of-memory killer) cannot remove it; the next run removes every such folder
    whose process is gone, and leaves a running one's alone."""
    import os
    import subprocess
    import sys
    import tempfile

    from jobs.silver_linkage import SPILL_PREFIX, spill_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{SPILL_PREFIX}{gone.stdout.strip()}-abc"
    (dead / "duckdb_temp_storage").mkdir(parents=True)
    (dead / "duckdb_temp_storage" / "block.tmp").write_bytes(b"x" * 1024)
    alive = tmp_path / f"{SPILL_PREFIX}{os.getppid()}-def"
    alive.mkdir()
    with spill_folder() as folder:
        assert os.path.isdir(folder) and os.path.basename(folder).startswith(f"{SPILL_PREFIX}{os.getpid()}-")
        assert not dead.exists() and alive.exists()
    assert not os.path.exists(folder)


# ---- the small demo: the job's links against the generator's truth ------------------

def _links(demo_lake) -> pd.DataFrame:
    return demo_lake.lake.read("silver.links").toPandas()


def _truth(demo_lake, source: str) -> pd.DataFrame:
    t = pd.read_parquet(Path(demo_lake.manifest["out"]) / "truth" / "links.parquet")
    return t[t["source"] == source]


def _predicted(demo_lake, links: pd.DataFrame, source: str) -> pd.DataFrame:
    pred = links[links["source"] == source][["record_id", "credit_code"]]
    if source == "job_ads":  # truth is per ad; silver.links per employer key
        ads = demo_lake.lake.read("silver.job_ads").select("ad_id", "employer_key").toPandas()
        pred = ads.merge(pred, left_on="employer_key", right_on="record_id")[["ad_id", "credit_code"]] \
            .rename(columns={"ad_id": "record_id"})
    return pred


def test_size_class_rates_by_hand():
    sizes = pd.Series({"a": "大型", "b": "大型", "c": "微型", "d": "微型", "e": "微型", "f": "微型"})
    # f shares its name with another firm: no certain link could reach it
    rates = priors.size_class_rates(sizes, pd.Series(["a", "a", "a", "b", "c"]), pd.Index(["a", "b", "c", "d", "e"]))
    assert rates == pytest.approx({"大型": (4 + 0.5) / (2 + 0.5), "微型": (1 + 0.5) / (3 + 0.5)}, rel=1e-12)
    shift = priors.weight_shift(sizes, rates)
    # the prior is proportional to the rate and averages 1 over the register
    assert np.mean(np.exp2(shift)) == pytest.approx(1.0, rel=1e-12)
    assert shift["a"] - shift["c"] == pytest.approx(np.log2(rates["大型"] / rates["微型"]), rel=1e-12)
    assert priors.weight_shift(pd.Series({"x": "中型"}), rates)["x"] == 0.0  # unknown class: smallest rate, alone
    # kept with the model, the mean does not move when a unit joins the register elsewhere
    mean = priors.mean_rate(sizes, rates)
    grown = pd.concat([sizes, pd.Series({"g": "大型"})])
    kept = priors.weight_shift(grown, rates, mean)
    assert kept[sizes.index].to_numpy() == pytest.approx(shift.to_numpy(), rel=1e-12)
    assert not np.allclose(priors.weight_shift(grown, rates)[sizes.index], shift)


def test_size_prior_breaks_ties_towards_the_firm_that_posts_more():
    """Two firms with the same trade name and industry word, one large, one tiny: the
    comparisons tie, the prior picks the large one and the probability says how sure."""
    pairs = pd.DataFrame({"record_id": ["ad", "ad"], "credit_code": ["tiny", "large"],
                          "match_weight": [3.0, 3.0], "match_probability": [0.89, 0.89]})
    shift = pd.Series({"tiny": -1.0, "large": 4.0})
    best = best_per_record(priors.apply_prior(pairs, shift))
    assert best["credit_code"].tolist() == ["large"]
    assert best["match_weight"].iat[0] == 7.0 and best["runner_up_weight"].iat[0] == 2.0
    assert best["match_probability"].iat[0] == pytest.approx(1 / (1 + 2 ** -7), rel=1e-12)


def test_job_ad_prior_rates_are_stored_and_larger_firms_post_more(demo_lake):
    models = demo_lake.lake.read("silver.linkage_models").toPandas().set_index("source")
    rates = json.loads(models.loc["job_ads", "prior_json"])
    # the generator's ad rate grows with employment (truth: employment ** 0.7)
    assert rates["大型"] > rates["中型"] > rates["小型"] > rates["微型"] > 0
    assert models.loc["electricity", "prior_json"] is None  # one account per firm: no prior
    # the mean rate the prior is relative to, kept with the model
    sizes = demo_lake.lake.read("silver.enterprises").filter("credit_code_valid").select(
        "credit_code", "size_class").toPandas().set_index("credit_code")["size_class"]
    assert models.loc["job_ads", "prior_mean"] == pytest.approx(priors.mean_rate(sizes, rates), rel=1e-12)
    assert pd.isna(models.loc["electricity", "prior_mean"])


@pytest.mark.parametrize("source, minimum", [("electricity", 0.95), ("card_merchants", 0.95), ("job_ads", 0.90)])
def test_demo_links_against_truth(demo_lake, source, minimum):
    assert demo_lake.results["silver_linkage"].status == "ok"
    links = _links(demo_lake)
    mine = links[links["source"] == source]
    assert not mine["record_id"].duplicated().any(), "one link per record, deterministic or probabilistic"
    assert (mine["method"] == "splink").sum() > 0
    q = link_quality(_predicted(demo_lake, links, source), _truth(demo_lake, source))
    print(source, q)
    assert q.f1 >= minimum, q


def test_gold_panel_uses_probabilistic_links(demo_lake):
    links = _links(demo_lake)
    gold = demo_lake.lake.read("gold.enterprise_month")
    for source, flag in (("electricity", "has_electricity"), ("card_merchants", "has_card"),
                         ("job_ads", "has_job_ads")):
        splink_codes = set(links.loc[(links["source"] == source) & (links["method"] == "splink"), "credit_code"])
        only = splink_codes - set(links.loc[(links["source"] == source) & (links["method"] != "splink"),
                                            "credit_code"])
        seen = {r[0] for r in gold.filter(gold[flag]).select("credit_code").distinct().collect()}
        assert only and len(only & seen) >= 0.9 * len(only), source


def _electricity_inputs(demo_lake) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The demo lake's stored electricity model, its valid register rows and distinct accounts."""
    lake = demo_lake.lake
    stored_df = lake.read("silver.linkage_models").toPandas().set_index("source")
    stored = {"model_json": json.loads(stored_df.loc["electricity", "model_json"]),
              "threshold": stored_df.loc["electricity", "threshold"]}
    ent = lake.read("silver.enterprises").filter("credit_code_valid").select(
        "credit_code", "name", "address", "industry_division").toPandas()
    accounts = lake.read("silver.electricity_monthly").select("account_id", "account_name", "address") \
        .distinct().toPandas()
    return stored, ent, accounts


def test_new_records_join_existing_links_and_reviews_feed_back(demo_lake):
    """Stable ids: a later run with the stored model keeps every earlier link and scores
    only records without one; reviewer decisions become links or blocked pairs."""
    stored, ent, accounts = _electricity_inputs(demo_lake)
    register = prepare.register(ent)
    records = prepare.electricity(accounts)
    links = _links(demo_lake)
    previous = links[(links["source"] == "electricity") & (links["method"] == "splink")].assign(
        match_weight=np.nan)
    skip = set(links.loc[(links["source"] == "electricity") & (links["method"] != "splink"), "record_id"])
    # an account linked earlier loses its link (as if new this month) and one pair is decided
    new_id = previous["record_id"].iloc[0]
    queue = demo_lake.lake.read("silver.link_review_queue").filter("source = 'electricity'").toPandas()
    truth = _truth(demo_lake, "electricity").set_index("record_id")["credit_code"]
    pair = queue.iloc[[0]]
    verdict = "accept" if truth.get(pair["record_id"].iat[0]) == pair["credit_code"].iat[0] else "reject"
    decisions = review.decision_rows(pair, verdict, "stat")
    out = link_source(prepare_model("electricity"), register, records,
                      previous=previous[previous["record_id"] != new_id], decisions=decisions, skip=skip,
                      stored=stored)
    assert not out.trained
    got = out.links.set_index("record_id")["credit_code"]
    kept = previous[previous["record_id"] != new_id].set_index("record_id")["credit_code"]
    assert got.reindex(kept.index).equals(kept)  # nothing relinked
    assert got[new_id] == previous.set_index("record_id").loc[new_id, "credit_code"]  # rejoins its enterprise
    assert out.scored_records < 0.2 * len(records)
    rid, cc = pair["record_id"].iat[0], pair["credit_code"].iat[0]
    if verdict == "accept":
        assert got[rid] == cc and out.links.set_index("record_id").loc[rid, "method"] == "clerical"
    else:
        assert got.get(rid) != cc


def prepare_model(source: str):
    from workbench.linkage.splink_models import MODELS

    return MODELS[source]


def test_rescoring_only_unlinked_records_gives_the_weights_of_a_full_run():
    """A later run scores only records left without a link; their term frequencies must
    still come from the whole source, or weights drift with what happens to be left."""
    from workbench.linkage.splink_models import LinkageModel

    a, b = _febrl("febrl4_a.csv.gz").iloc[:1500], _febrl("febrl4_b.csv.gz").iloc[:1500]
    model = SourceModel("febrl", ("name", "address", "county", "phone"),
                        ("l.name_head = r.name_head", "l.county = r.county", "l.phone = r.phone"),
                        ("l.county = r.county", "l.name_head = r.name_head"), u_pairs=5e4, em_sample=500)
    lm = LinkageModel(model).fit(a, b)
    full = lm.predict(a, b)
    left = b.iloc[::3]
    keys = ["record_id", "credit_code"]
    left_full = lm.predict(a, left, population=b).merge(full, on=keys, suffixes=("", "_full"))
    assert len(left_full) > 100
    np.testing.assert_allclose(left_full["match_weight"], left_full["match_weight_full"], atol=1e-9)
    subset_only = lm.predict(a, left).merge(full, on=keys, suffixes=("", "_full"))
    assert (subset_only["match_weight"] - subset_only["match_weight_full"]).abs().max() > 1e-3

    # Each record's best candidate chosen in DuckDB (one row per record comes back, not every
    # pair) is the one pandas chooses from every pair, prior added and rejected pairs left out.
    # Bit for bit: the stored thresholds compare with these weights.
    shift = pd.Series(np.linspace(-2.0, 2.0, len(a)), index=a["unique_id"].to_numpy())
    best_pairs = best_per_record(priors.apply_prior(full, shift))
    rejected = best_pairs.iloc[::4][keys]  # a reviewer rejected every fourth record's best pair
    for prior, drop in ((None, None), (shift, rejected)):
        pairs = full if prior is None else priors.apply_prior(full, prior)
        expected = best_per_record(pairs, drop).drop(columns="runner_up_weight")
        got = lm.best_candidates(a, b, population=b, prior=prior, rejected=drop)
        assert lm.comparisons_ == len(full)
        pd.testing.assert_frame_equal(got.sort_values("record_id").reset_index(drop=True),
                                      expected.sort_values("record_id").reset_index(drop=True),
                                      check_exact=True, check_dtype=False)
    assert len(expected) > 300 and len(got) < len(full)


def test_a_model_trained_on_the_same_records_in_another_order_is_the_same_model():
    """The engine hands records over in whatever order its partitions finish (the cluster and
    the embedded engine differ): the training sample and Splink's sessions must not follow it.
    Before, the EM sample was drawn by position and the stored model carried Splink's random
    session id, so the cluster trained another model and linked 293 enterprise-months more."""
    from compare import first_difference
    from workbench.linkage.splink_models import LinkageModel

    a, b = _febrl("febrl4_a.csv.gz").iloc[:1200], _febrl("febrl4_b.csv.gz").iloc[:1200]
    model = SourceModel("febrl", ("name", "address", "county", "phone"),
                        ("l.name_head = r.name_head", "l.county = r.county", "l.phone = r.phone"),
                        ("l.county = r.county", "l.name_head = r.name_head"), u_pairs=3e4, em_sample=400)
    first = LinkageModel(model).fit(a, b)
    rng = np.random.default_rng(7)
    shuffled = LinkageModel(model).fit(a.iloc[rng.permutation(len(a))], b.iloc[rng.permutation(len(b))])
    assert first.training_records_ == shuffled.training_records_ == 400
    assert "linker_uid" not in first.model_json_
    # the same model: DuckDB sums in two threads, so its m and u probabilities agree to the
    # last few bits only (1e-15 seen, also between two fits in the same order)
    assert first_difference(first.model_json_, shuffled.model_json_, rtol=1e-12) is None
    keys = ["record_id", "credit_code"]
    pairs = first.predict(a, b).merge(shuffled.predict(a, b), on=keys, how="outer", suffixes=("", "_shuffled"))
    assert len(pairs) > 200 and pairs["match_weight_shuffled"].notna().all() and pairs["match_weight"].notna().all()
    np.testing.assert_allclose(pairs["match_weight"], pairs["match_weight_shuffled"], rtol=1e-12, atol=1e-12)


def test_the_review_queue_shows_one_spelling_of_a_record_whatever_the_row_order():
    """An employer whose ads carry two spellings of its name, one without a district: the
    reviewer sees the fullest spelling, and the same one on every engine (the cluster met
    the rows in another order and queued 博达企业管理厂 with no district)."""
    from jobs.silver_linkage import one_row_per_record

    rows = pd.DataFrame({"employer_key": ["k2", "k1", "k1", "k1"],
                         "employer_name": ["恒达商贸", "博达企业管理厂", "博达企业管理", "博达企业管理"],
                         "district": ["滨江区", None, None, "北湖区"]})
    for order in (rows, rows.iloc[::-1], rows.iloc[[2, 0, 3, 1]]):
        shown = one_row_per_record(order, "employer_key")
        assert shown.to_dict("records") == [
            {"record_id": "k1", "employer_name": "博达企业管理", "district": "北湖区"},
            {"record_id": "k2", "employer_name": "恒达商贸", "district": "滨江区"}]


# ---- scoring only what may score differently ------------------------------------------

def _frame(ids, cores, addresses=None):
    cores = pd.Series(cores, dtype=object)
    return pd.DataFrame({"unique_id": ids, "name_core": cores, "name_head": cores.str[:2],
                         "name_tail": cores.str[-2:],
                         "address_core": addresses if addresses is not None else [None] * len(ids)})


def test_records_needing_score_are_the_new_the_changed_the_reached_and_the_decided():
    from workbench.linkage.clusters import record_digests, records_needing_score
    from workbench.linkage.splink_models import ADDRESS_BLOCK, NAME_BLOCKS

    blocking = NAME_BLOCKS + (ADDRESS_BLOCK,)
    before = _frame(["a", "b", "c", "d", "e"], ["鑫达食品", "宏大置业", "丰太超市", "广丰市政", "长江机电"],
                    ["中山路1号", None, None, None, "人民路9号"])
    digests = record_digests(before)
    scored = pd.DataFrame({"record_id": digests.index, "digest": digests.to_numpy()})
    now = pd.concat([before, _frame(["f"], ["新开餐饮"])], ignore_index=True)
    now.loc[now["unique_id"] == "b", "name_core"] = "宏达置业"  # the record's own name changed
    nothing = prepare.register(pd.DataFrame(columns=["credit_code", "name", "address", "industry_division"]))

    def needing(register_changed, decided=()):
        return sorted(records_needing_score(now, scored, register_changed, blocking, set(decided))["unique_id"])

    assert needing(nothing) == ["b", "f"]
    # an enterprise renamed into c's name head, one moved to e's address: those two are reached
    changed = _frame(["x", "y"], ["丰太百货", "远方贸易"], [None, "人民路9号"])
    assert needing(changed) == ["b", "c", "e", "f"]
    assert needing(nothing, decided={"d"}) == ["b", "d", "f"]
    # no earlier state, or a register that could not be diffed: every record
    assert needing(None) == sorted(now["unique_id"])
    assert sorted(records_needing_score(now, None, nothing, blocking, set())["unique_id"]) == sorted(now["unique_id"])
    # a blocking rule with no key function: nothing can be said about what it reaches
    unknown_rule = records_needing_score(now, scored, changed, ("l.phone = r.phone",), set())
    assert sorted(unknown_rule["unique_id"]) == sorted(now["unique_id"])
    # an id held under two spellings is one record: both rows go, or neither
    twice = pd.concat([now, _frame(["c"], ["丰太超市二店"])], ignore_index=True)
    two = record_digests(twice)
    state = pd.DataFrame({"record_id": two.index, "digest": two.to_numpy()})
    assert records_needing_score(twice, state, nothing, blocking, set()).empty
    assert (records_needing_score(twice, state, changed, blocking, set())["unique_id"] == "c").sum() == 2


def test_scoring_only_what_may_differ_links_as_scoring_every_unlinked_record(demo_lake):
    """After a register change, the records the change reaches and the records that are new are
    scored; every other record left unlinked is not. The links and the review queue are the
    ones a run scoring every unlinked record gives (the same population, so the same term
    frequencies), with far fewer records scored."""
    stored, ent, accounts = _electricity_inputs(demo_lake)
    records = prepare.electricity(accounts)
    links = _links(demo_lake)
    skip = set(links.loc[(links["source"] == "electricity") & (links["method"] != "splink"), "record_id"])
    model = prepare_model("electricity")
    first = link_source(model, prepare.register(ent), records, skip=skip, stored=stored)
    assert len(first.unlinked) > 10
    # an enterprise takes the name and address of an account left unlinked (a firm registered
    # under the name its electricity account carried), and one account is new
    target = first.unlinked["record_id"].iloc[0]
    account = accounts[accounts["account_id"] == target].iloc[0]
    renamed = ent.index[~ent["credit_code"].isin(links["credit_code"])][0]
    old_row = ent.loc[[renamed]].copy()
    ent.loc[renamed, ["name", "address"]] = [account["account_name"], account["address"]]
    previous = first.links.assign(match_weight=np.nan)
    # a reviewer rejected a queued pair of another unlinked account, then undid it: the pair is open again
    queued = first.queue[first.queue["record_id"].isin(set(first.unlinked["record_id"]) - {target})]
    assert len(queued)
    pair = queued.iloc[[0]].assign(source="electricity")
    when = pd.Timestamp("2026-01-01")
    decisions = pd.concat([review.decision_rows(pair, "reject", "stat", when),
                           review.decision_rows(pair, "undo", "stat", when + pd.Timedelta(hours=1))])
    kwargs = dict(previous=previous, skip=skip, stored=stored, decisions=decisions)
    changed = prepare.register(pd.concat([old_row, ent.loc[[renamed]]], ignore_index=True))
    some = link_source(model, prepare.register(ent), records, scored=first.unlinked, register_changed=changed,
                       **kwargs)
    every = link_source(model, prepare.register(ent), records, **kwargs)
    assert some.scored_records < every.scored_records / 4  # 9 of 42 on the small demo
    assert target in some.scored_ids and pair["record_id"].iat[0] in some.scored_ids
    key = ["record_id", "credit_code"]
    assert some.links.sort_values(key).reset_index(drop=True)[key].equals(
        every.links.sort_values(key).reset_index(drop=True)[key])
    assert ent.loc[renamed, "credit_code"] in set(some.links["credit_code"])

    def queued(outcome):  # as the job keeps it: new pairs, and the earlier pairs of records not scored again
        kept = first.queue[~first.queue["record_id"].isin(outcome.scored_ids)]
        return sorted(map(tuple, pd.concat([outcome.queue, kept])[key].to_numpy()))

    assert queued(some) == queued(every)
    assert sorted(some.unlinked["record_id"]) == sorted(every.unlinked["record_id"])


def test_the_kept_state_counts_only_with_its_register_version_and_todays_standardisation():
    """What the last run left unlinked is trusted only when it says which register version it
    was scored against and was scored with today's name and address standardisation code."""
    from jobs.silver_linkage import kept_state, standardisation_digest

    state = pd.DataFrame({"source": "electricity", "record_id": ["a", "b"], "digest": ["x", "y"],
                          "fingerprint": "f", "register_version": 7, "standardisation": standardisation_digest()})
    kept, version = kept_state(state)
    assert version == 7 and kept is state
    assert kept_state(state.assign(standardisation="code of another release")) == (None, None)
    assert kept_state(state.drop(columns="register_version")) == (None, None)  # a table from before it was kept
    assert kept_state(state.assign(register_version=[7, 8])) == (None, None)
    assert kept_state(state.iloc[0:0]) == (None, None) and kept_state(None) == (None, None)
