"""``workbench demo generate``: the G City demo deliveries, the hidden truth and
the manifest. Reproducible by (scale, seed): the same pair gives byte-identical
deliveries."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from workbench.demo.admin import ElectricityWriter, SocialInsuranceWriter, VatWriter, write_register
from workbench.demo.economy import EnterpriseEconomy, build_macro, cpi_total
from workbench.demo.enterprises import build_enterprises
from workbench.demo.geography import build_geography
from workbench.demo.industries import industry_table
from workbench.demo.manifest import Manifest
from workbench.demo.market import CardWriter, JobAdsWriter
from workbench.demo.official import releases, target_truth, write_official
from workbench.demo.prices import PRICE_MONTHS, PricesWriter
from workbench.demo.survey import SurveyWriter, draw_sample, sampling_frame, write_sample
from workbench.demo.timeline import MONTHS
from workbench.sources.parallel import orphan_guard, without_main_module

SCALES = {"small": {"enterprises": 5_000, "products": 400},
          "medium": {"enterprises": 100_000, "products": 2_000},
          "large": {"enterprises": 1_000_000, "products": 2_000}}
_ENT_TRUTH_DROP = ["class_idx", "township_idx", "birth_month", "death_month", "fraud_start_idx"]


def _world(scale: str, seed: int):
    """The industries, the enterprises and the macro series of (scale, seed): built by the main
    process and again by the worker, which must see the very same ones."""
    ind = industry_table()
    ent = build_enterprises(SCALES[scale]["enterprises"], np.random.default_rng([seed, 1]), build_geography(), ind)
    return ind, ent, build_macro(np.random.default_rng([seed, 2]), ind)


def _write_apart(scale: str, seed: int, root: str, out: str) -> list[dict]:
    """The social insurance workbooks and the price scrapes, the slowest files to write, for a
    second process: it builds the enterprises, the macro series and the economy again from
    (scale, seed), the same values the main process steps through (every writer draws from a
    random stream of its own per month). Returns their manifest entries."""
    params = SCALES[scale]
    manifest = Manifest(out, scale, seed)
    ind, ent, macro = _world(scale, seed)
    economy = EnterpriseEconomy(ent, ind, macro, seed)
    si = SocialInsuranceWriter(ent, root, manifest, seed)
    for t in range(len(MONTHS)):
        alive, _, employment, _ = economy.step(t)
        si.write(t, alive, employment)
    PricesWriter(params["products"], macro.cpi_group, root, manifest, seed).write_all()
    return manifest.files


def _start_apart(scale: str, seed: int, root: str, out: str) -> tuple[ProcessPoolExecutor, Future] | None:
    """:func:`_write_apart` in a worker process when this process may use two cores or more.
    The worker exits when this process is gone, even killed: it must not go on writing into a
    folder a rerun is writing again."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    if cores < 2:
        return None
    initializer, initargs = orphan_guard()
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"), initializer=initializer,
                               initargs=initargs)
    with without_main_module():  # the worker starts at submit
        return pool, pool.submit(_write_apart, scale, seed, root, out)


def generate(scale: str, seed: int, out: str, progress: bool = False) -> dict:
    """Write OUT/deliveries (what jobs read), OUT/truth (Parquet) and OUT/manifest.json.

    Returns the manifest dict (keys include "files", "out", "seconds").
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    started = time.perf_counter()
    out = os.path.abspath(out)
    for sub in ("deliveries", "truth"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    root = os.path.join(out, "deliveries")
    truth_dir = os.path.join(out, "truth")
    os.makedirs(truth_dir, exist_ok=True)
    manifest = Manifest(out, scale, seed)
    params = SCALES[scale]
    bar = tqdm(total=len(MONTHS) + len(PRICE_MONTHS) + 4, desc=f"demo {scale}", unit="step", disable=not progress)

    ind, ent, macro = _world(scale, seed)
    bar.update(1)

    write_register(ent, root, manifest, seed)
    apart = _start_apart(scale, seed, root, out)
    try:
        samples = {}
        survey = SurveyWriter(ent, root, manifest, seed)
        for year in sorted({int(m[:4]) for m in MONTHS}):
            samples[year] = draw_sample(sampling_frame(ent, year), year, seed)
            write_sample(samples[year], year, root, manifest)
            survey.set_sample(year, samples[year])
        bar.update(1)

        economy = EnterpriseEconomy(ent, ind, macro, seed)
        vat = VatWriter(ent, ind, root, manifest, seed)
        si = SocialInsuranceWriter(ent, root, manifest, seed)
        elec = ElectricityWriter(ent, ind, root, manifest, seed)
        jobs = JobAdsWriter(ent, macro, root, manifest, seed)
        cards = CardWriter(ent, ind, macro, params["enterprises"], root, manifest, seed)
        cards.write_merchants()

        cls = ent["class_idx"].to_numpy()
        retail_share = ind["retail_share"].to_numpy()[cls]
        va_ratio = ind["va_ratio"].to_numpy()[cls]
        codes = ent["credit_code"].to_numpy()
        town = ent["township_code"].to_numpy()
        retail_rev = np.zeros(len(MONTHS))
        value_added = np.zeros(len(MONTHS))
        town_emp = []
        em_schema = pa.schema([("credit_code", pa.string()), ("month", pa.string()), ("revenue", pa.float64()),
                               ("employment", pa.int64()), ("kwh", pa.float64()), ("vat_sales", pa.float64()),
                               ("si_headcount", pa.int64())])
        em_writer = pq.ParquetWriter(os.path.join(truth_dir, "enterprise_month.parquet"), em_schema, compression="zstd")
        for t, month in enumerate(MONTHS):
            alive, revenue, employment, kwh = economy.step(t)
            retail_rev[t] = float((revenue * retail_share).sum())
            value_added[t] = float((revenue * va_ratio).sum())
            if month.endswith("-12"):
                s = pd.Series(employment).groupby(town).sum()
                town_emp.append(pd.DataFrame({"township_code": s.index, "year": int(month[:4]), "employment": s.to_numpy()}))
            vat_sales = vat.write(t, alive, revenue)
            headcount = si.headcount(t, alive, employment) if apart else si.write(t, alive, employment)
            elec.write(t, alive, kwh, float(macro.kwh_season[t]))
            survey.write(t, alive, revenue, employment)
            jobs.write(t, alive, employment)
            cards.write(t, alive, revenue)
            a = np.flatnonzero(alive)
            em_writer.write_table(pa.table({
                "credit_code": codes[a], "month": np.full(len(a), month), "revenue": revenue[a],
                "employment": employment[a], "kwh": kwh[a], "vat_sales": vat_sales[a], "si_headcount": headcount[a]},
                schema=em_schema))
            bar.update(1)
        em_writer.close()

        prices = PricesWriter(params["products"], macro.cpi_group, root, manifest, seed)
        if apart is None:
            prices.write_all(bar)
        else:
            manifest.files.extend(apart[1].result())
            bar.update(len(PRICE_MONTHS))
    finally:  # a failure here waits for the worker rather than leave it writing
        if apart is not None:
            apart[0].shutdown()

    truth = target_truth(retail_rev, value_added, macro.cpi_group, macro.cpi_weights, pd.concat(town_emp))
    write_official(releases(truth, seed), root, manifest)
    bar.update(1)

    _write_truth(truth_dir, manifest, ent, macro, truth, pd.concat(town_emp), survey, elec, cards, jobs, prices, samples)
    bar.update(1)
    bar.close()
    manifest.notes = {
        "retail_sales": "1.08 x sum of true revenue x retail share (classes 52xx, 61xx, 62xx; part of 51xx)",
        "gdp": "1.25 x sum over the quarter of true revenue x value-added ratio of the section",
        "vat_gbk_month": vat.gbk_month, "vat_duplicated_month": vat.dup_month,
        "electricity_unmappable_month": elec.unmappable_month,
        "renamed_from": {"vat": vat.RENAME_FROM, "social_insurance": si.RENAME_FROM,
                         "electricity": elec.RENAME_FROM, "register": "2026-09"},
    }
    result = manifest.to_dict((MONTHS[0], MONTHS[-1]), time.perf_counter() - started)
    manifest.write(result)
    return result


def _write_truth(truth_dir, manifest, ent, macro, targets, town_emp, survey, elec, cards, jobs, prices, samples):
    def put(name: str, df: pd.DataFrame) -> None:
        path = os.path.join(truth_dir, f"{name}.parquet")
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, compression="zstd")
        manifest.truth[name] = os.path.relpath(path, manifest.out)

    unit_err = pd.DataFrame(survey.unit_errors, columns=["credit_code", "period"])
    e = ent.drop(columns=_ENT_TRUTH_DROP).copy()
    e["unit_error_cases"] = e["credit_code"].map(unit_err["credit_code"].value_counts()).fillna(0).astype(int)
    put("enterprises", e)
    put("survey_unit_errors", unit_err)
    put("survey_returns_truth", pd.concat(survey.returns_truth, ignore_index=True))
    codes = ent["credit_code"].to_numpy()
    el = elec.links()
    cl = cards.links()
    links = pd.concat([
        pd.DataFrame({"source": "electricity", "record_id": el["account_id"],
                      "credit_code": np.where(el["ent_idx"] >= 0, codes[np.maximum(el["ent_idx"], 0)], None),
                      "share": el["share"]}),
        pd.DataFrame({"source": "card_merchants", "record_id": cl["merchant_id"],
                      "credit_code": np.where(cl["ent_idx"] >= 0, codes[np.maximum(cl["ent_idx"], 0)], None),
                      "share": cl["split"]}),
        pd.concat(jobs.links, ignore_index=True).assign(share=1.0),
    ], ignore_index=True)
    put("links", links)
    cpi = macro.cpi_group.copy()
    cpi["total"] = cpi_total(macro.cpi_group, macro.cpi_weights)
    put("cpi", cpi.reset_index().melt(id_vars="month", var_name="group", value_name="index_2018_01_100"))
    put("targets", targets)
    put("township_employment", town_emp)
    put("macro_cycle", pd.DataFrame({"month": MONTHS, "cycle": macro.cycle}))
    put("products", prices.truth())
    put("survey_samples", pd.concat(samples.values(), ignore_index=True))
