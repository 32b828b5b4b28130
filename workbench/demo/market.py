"""Web-scraped job ads (JSON lines) and card-acquirer data (Parquet): the
employer or merchant name is written loosely, and the hidden link to the
register is kept in the truth."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.demo import contracts
from workbench.demo import names as nm
from workbench.demo.admin import PLACE_PREFIXES
from workbench.demo.geography import CITY_NAME
from workbench.demo.manifest import Manifest
from workbench.demo.timeline import MONTHS, day_dates, festival_shopping_share
from workbench.demo.writers import parquet_write, write_bytes

TITLES = {"A": ["养殖工", "农技员"], "C": ["普工", "操作工", "质检员", "机修工"], "D": ["电工", "运维工程师"],
          "E": ["施工员", "资料员", "钢筋工"], "F": ["销售代表", "收银员", "理货员", "店长"],
          "G": ["货车司机", "仓管员", "快递员"], "H": ["服务员", "厨师", "前台接待"],
          "I": ["软件工程师", "测试工程师", "产品经理"], "K": ["置业顾问", "物业管理员"],
          "L": ["行政专员", "会计", "咨询顾问"], "O": ["家政服务员", "汽修技师", "保洁员"]}
AGENCIES = ["知名连锁餐饮企业", "某大型制造企业", "劳务派遣（长期招工）", "某上市公司", "急招普工（包吃住）"]


class JobAdsWriter:
    def __init__(self, ent: pd.DataFrame, macro, root: str, manifest: Manifest, seed: int):
        self.ent = ent
        self.weight = (ent["base_employment"].to_numpy() + 1) ** 0.7
        self.weight = self.weight / self.weight.mean()
        c = macro.cycle
        self.hiring = np.exp(2.5 * c + 3.0 * (c - np.concatenate([[0.0], c[:-1]])))
        self.root, self.manifest, self.seed = root, manifest, seed
        self.links: list[pd.DataFrame] = []

    def write(self, t: int, alive: np.ndarray, employment: np.ndarray) -> None:
        month = MONTHS[t]
        rng = np.random.default_rng([self.seed, 70, t])
        lam = 0.04 * self.weight * self.hiring[t] * alive * (employment > 0)
        counts = rng.poisson(lam)
        idx = np.repeat(np.arange(len(counts)), counts)
        n_orphan = int(rng.binomial(len(idx) + 1, 0.05))
        ent = self.ent
        days = day_dates(month)
        lines, codes = [], []
        full = ent["name"].to_numpy()
        county = ent["county_name"].to_numpy()
        section = ent["section"].to_numpy()
        contact = nm.person_names(rng, len(idx) + n_orphan)
        phone = nm.mobile_numbers(rng, len(idx) + n_orphan)
        wage_level = 4000 * np.exp(0.05 * t / 12 + 0.5 * self.hiring[t] - 0.5)
        for k in range(len(idx) + n_orphan):
            if k < len(idx):
                i = int(idx[k])
                r = rng.random()
                name = full[i]
                if r < 0.25:
                    name = nm.abbreviate(name, PLACE_PREFIXES)
                elif r < 0.4:
                    name = nm.abbreviate(name, ()) + ["分公司", "分店", "（人民路店）", "二厂"][int(rng.integers(4))]
                elif r < 0.6:
                    name = nm.typo(name, rng)
                titles = TITLES[section[i]]
                district = county[i] if rng.random() < 0.85 else ""
                codes.append(ent["credit_code"].iat[i])
            else:
                name = AGENCIES[int(rng.integers(len(AGENCIES)))]
                titles = ["普工", "服务员", "销售代表"]
                district = ""
                codes.append(None)
            lo = round(wage_level * rng.uniform(0.7, 1.6), -2)
            ad = {"ad_id": f"JA{month.replace('-', '')}{k:06d}", "posted_date": str(days[int(rng.integers(len(days)))]),
                  "employer_name": name, "title": titles[int(rng.integers(len(titles)))], "district": district,
                  "salary_min": lo, "salary_max": round(lo * rng.uniform(1.2, 1.8), -2),
                  "vacancies": int(rng.integers(1, 11)), "contact_name": contact[k], "contact_phone": phone[k]}
            lines.append(json.dumps(ad, ensure_ascii=False))
        path = os.path.join(self.root, contracts.folder("job_ads"), f"jobs_{month}.jsonl")
        sha = write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
        self.manifest.add(path, "job_ads", month, "jsonl", len(lines), sha, {})
        self.links.append(pd.DataFrame({"source": "job_ads", "record_id": [f"JA{month.replace('-', '')}{k:06d}" for k in range(len(codes))],
                                        "credit_code": codes}))


MCC_DEFAULT = "5999"


class CardWriter:
    """Merchants: every large and medium retail and catering firm (the acquirer's key accounts,
    paying by card before the data begin) and a biased sample of the small and micro ones (urban
    and larger over-represented), onboarded over time; payments per merchant and day."""

    def __init__(self, ent: pd.DataFrame, ind: pd.DataFrame, macro, scale_n: int, root: str,
                 manifest: Manifest, seed: int):
        rng = np.random.default_rng([seed, 80])
        mcc_of_class = ind["mcc"].to_numpy()
        cls = ent["class_idx"].to_numpy()
        cand = np.flatnonzero((mcc_of_class[cls] != "") & (ent["death_month"].to_numpy() >= 0))
        size = ent["size_class"].to_numpy()[cand]
        # every large and medium shop is in: a city's retail total can rest on a few of them
        # (on the small demo one car dealer is about half), and without them the card file says
        # nothing about the month in progress
        big = np.isin(size, ["大型", "中型"])
        sure, rest = cand[big], cand[~big]
        size_w = pd.Series(size[~big]).map({"小型": 2.5, "微型": 1}).to_numpy()
        w = size_w * np.where(ent["urban"].to_numpy()[rest], 3.0, 1.0)
        k = min(len(cand), max(50, scale_n // 20))
        drawn = rng.choice(rest, size=max(0, min(len(rest), k - len(sure))), replace=False, p=w / w.sum())
        chosen = np.sort(np.concatenate([sure, drawn]))
        k = len(chosen)
        two = rng.random(k) < 0.1
        ent_idx = np.concatenate([chosen, chosen[two]])
        split = np.concatenate([np.where(two, 0.55, 1.0), np.full(int(two.sum()), 0.45)])
        n_orphan = max(5, int(0.05 * len(ent_idx)))
        m = len(ent_idx) + n_orphan
        names = ent["name"].to_numpy()
        trade = ent["trade_name"].to_numpy()
        kw = ind["keywords"].to_numpy()
        mname, mcc, addr, district = [], [], [], []
        roads = ["人民路", "中山路", "解放大道", "新华街", "建设路"]
        for j, i in enumerate(ent_idx.tolist()):
            if j >= k or rng.random() < 0.5:  # shop-sign name with a store suffix
                mname.append(f"{trade[i]}{kw[cls[i]][0]}（{roads[int(rng.integers(5))]}店）")
            else:
                mname.append(names[i])
            mcc.append(mcc_of_class[cls[i]])
            addr.append(ent["address"].iat[i])
            district.append(ent["county_name"].iat[i])
        for _ in range(n_orphan):
            mname.append(f"{nm.trade_names(rng, 1)[0]}小吃（夜市摊位）")
            mcc.append("5814")
            addr.append(f"{CITY_NAME}夜市{int(rng.integers(1, 200))}号摊位")
            district.append("")
        self.ent_idx = np.concatenate([ent_idx, np.full(n_orphan, -1)])
        self.split = np.concatenate([split, np.ones(n_orphan)])
        self.merchant_id = np.array([f"898{x:012d}" for x in rng.choice(10 ** 12, size=m, replace=False)], dtype=object)
        urban = np.where(self.ent_idx >= 0, ent["urban"].to_numpy()[np.maximum(self.ent_idx, 0)], True)
        self.card_share = np.clip(rng.beta(5, 5, m) * np.where(urban, 1.2, 0.8), 0.05, 0.95)
        always = np.isin(self.ent_idx, sure)  # large and medium shops took cards before the data begin
        self.onboard = np.where((rng.random(m) < 0.7) | always, 0, rng.integers(0, len(MONTHS), m))
        self.ticket = rng.lognormal(np.log(80), 0.5, m)
        self.orphan_rev = rng.lognormal(np.log(60_000), 0.5, m)
        self.retail_factor = macro.class_log_factor[:, int(np.flatnonzero(ind["class_code"] == "6220")[0])]
        self.merchants = pa.table({"merchant_id": self.merchant_id, "merchant_name": mname, "mcc": mcc,
                                   "address": addr, "district": district})
        self.root, self.manifest, self.seed = root, manifest, seed

    def write_merchants(self) -> None:
        """The acquirer's merchant list as it sends it: every merchant already taking cards when
        the data begin in the first month's file, then each month the merchants it signed that
        month (no file in a month without any). Sent as one list at the end, a lake that holds
        every month but the last knew no merchant at all, and the last month relinked every
        payment of every month."""
        for t, month in enumerate(MONTHS):
            signed = np.flatnonzero(self.onboard == t)
            if not len(signed):
                continue
            table = self.merchants.take(pa.array(signed))
            path = os.path.join(self.root, contracts.folder("card_merchants"), f"merchants_{month}.parquet")
            sha = parquet_write(path, table)
            self.manifest.add(path, "card_merchants", month, "parquet", table.num_rows, sha, {})

    def links(self) -> pd.DataFrame:
        return pd.DataFrame({"merchant_id": self.merchant_id, "ent_idx": self.ent_idx, "split": self.split})

    def write(self, t: int, alive: np.ndarray, revenue: np.ndarray) -> None:
        month = MONTHS[t]
        rng = np.random.default_rng([self.seed, 81, t])
        e = self.ent_idx
        own = e >= 0
        rev = np.where(own, revenue[np.maximum(e, 0)] * self.split, self.orphan_rev * np.exp(self.retail_factor[t]))
        active = np.where(own, alive[np.maximum(e, 0)], True) & (self.onboard <= t) & (rev > 0)
        sel = np.flatnonzero(active)
        days = day_dates(month)
        dow = ((days.astype(np.int64) + 3) % 7)  # 0 = Monday
        dw = np.where(dow >= 5, 1.35, 1.0) * (1 + 0.3 * festival_shopping_share(month))
        dw = dw / dw.sum()
        share = self.card_share[sel] * (1 + 0.02 * t / 12)
        amount = (rev[sel] * share)[:, None] * dw[None, :] * np.exp(rng.normal(0, 0.12, (len(sel), len(days))))
        count = np.maximum(1, np.round(amount / self.ticket[sel][:, None] * np.exp(rng.normal(0, 0.05, amount.shape))))
        table = pa.table({
            "merchant_id": pa.array(np.repeat(self.merchant_id[sel], len(days)).tolist(), pa.string()),
            "txn_date": pa.array(np.tile(days, len(sel)), pa.date32()),
            "txn_count": pa.array(count.ravel().astype(np.int64)),
            "txn_amount": pa.array(np.round(amount.ravel(), 2)).cast(pa.decimal128(18, 2)),
        })
        path = os.path.join(self.root, contracts.folder("card_payments"), f"payments_{month}.parquet")
        sha = parquet_write(path, table)
        self.manifest.add(path, "card_payments", month, "parquet", table.num_rows, sha, {})
