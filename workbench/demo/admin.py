"""Administrative deliveries: business register extracts (GBK), monthly VAT
(CSV), social-insurance headcounts (xlsx) and electricity by account (CSV)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from workbench.demo import contracts
from workbench.demo import names as nm
from workbench.demo.dirt import inject_csv_rows
from workbench.demo.enterprises import format_date
from workbench.demo.geography import CITY_NAME
from workbench.demo.manifest import Manifest
from workbench.demo.timeline import MONTHS
from workbench.demo.writers import csv_bytes, write_bytes, xlsx_write

PLACE_PREFIXES = (CITY_NAME, "中山区", "滨江区", "新城区", "北湖区", "友谊县", "丰收县", "青山县", "长乐县")


def write_register(ent: pd.DataFrame, root: str, manifest: Manifest, seed: int) -> None:
    """Two extracts: 2025-12 (contract headers) and 2026-09 (renamed headers,
    newer births and deaths)."""
    renames = {"credit_code": contracts.alias("register", "credit_code"),
               "name": contracts.alias("register", "name", 1),
               "address": contracts.alias("register", "address"),
               "industry_code": contracts.alias("register", "industry_code")}
    for k, (period, cutoff, renamed) in enumerate((("2025-12", "2025-12-31", None),
                                                   ("2026-09", "2026-09-30", renames))):
        rng = np.random.default_rng([seed, 21, k])
        cut = np.datetime64(cutoff)
        sel = ent[ent["birth_date"].to_numpy() <= cut]
        death = sel["death_date"].to_numpy()
        death = np.where(death <= cut, death, np.datetime64("NaT"))
        cols = [sel["credit_code"], sel["name"], sel["address"], sel["township_code"], sel["class_code"],
                sel["legal_form"], sel["size_class"], format_date(sel["birth_date"].to_numpy()),
                format_date(death), sel["legal_rep_name"], sel["legal_rep_id"], sel["phone"]]
        rows = [list(r) for r in zip(*(list(map(str, c)) for c in cols))]
        errors = inject_csv_rows(rows, rng, {"invalid_credit_code": 0.002, "wrong_field_count": 0.0005}, code_col=0)
        header = contracts.headers("register", renamed)
        if renamed:
            errors["renamed_columns"] = len(renamed)
        path = os.path.join(root, contracts.folder("register"), f"register_{period}.csv")
        sha = write_bytes(path, csv_bytes(header, rows, "gbk"))
        manifest.add(path, "register", period, "csv", len(rows), sha, errors, encoding="gbk")


class VatWriter:
    """Monthly VAT invoice totals; one month in GBK, one delivered twice,
    the amount column renamed from 2023-07."""

    RENAME_FROM = "2023-07"

    def __init__(self, ent: pd.DataFrame, ind: pd.DataFrame, root: str, manifest: Manifest, seed: int):
        rng = np.random.default_rng([seed, 30])
        self.codes = ent["credit_code"].to_numpy()
        self.names = ent["name"].to_numpy()
        self.individual = ent["is_individual"].to_numpy()
        self.rate = ind["vat_rate"].to_numpy()[ent["class_idx"].to_numpy()]
        self.rate = np.where(self.individual | (ent["size_class"].to_numpy() == "微型"), 0.03, self.rate)
        self.root, self.manifest, self.seed = root, manifest, seed
        picks = rng.choice(np.arange(12, len(MONTHS) - 3), size=2, replace=False)
        self.gbk_month, self.dup_month = MONTHS[picks[0]], MONTHS[picks[1]]

    def write(self, t: int, alive: np.ndarray, revenue: np.ndarray) -> np.ndarray:
        """Write vat_<month>.csv; returns the reported sales (truth for the indicator)."""
        month = MONTHS[t]
        rng = np.random.default_rng([self.seed, 31, t])
        files = alive & (revenue > 0) & ~(self.individual & (revenue < 100_000))
        idx = np.flatnonzero(files)
        sales = np.round(revenue[idx] * np.exp(rng.normal(0, 0.03, len(idx))), 2)
        tax = np.round(sales * self.rate[idx], 2)
        rows = [[c, nme, month, f"{s:.2f}", f"{x:.2f}"] for c, nme, s, x in zip(
            self.codes[idx], self.names[idx], sales.tolist(), tax.tolist())]
        errors = inject_csv_rows(rows, rng, {"invalid_credit_code": 0.0005, "negative_value": 0.0003,
                                             "non_numeric": 0.0003, "wrong_field_count": 0.0003},
                                 code_col=0, amount_col=3)
        renamed = {"sales_amount": contracts.alias("vat", "sales_amount")} if month >= self.RENAME_FROM else None
        if renamed:
            errors["renamed_columns"] = 1
        encoding = "gbk" if month == self.gbk_month else "utf-8"
        if encoding == "gbk":
            errors["wrong_encoding"] = 1
        data = csv_bytes(contracts.headers("vat", renamed), rows, encoding)
        folder = os.path.join(self.root, contracts.folder("vat"))
        path = os.path.join(folder, f"vat_{month}.csv")
        sha = write_bytes(path, data)
        self.manifest.add(path, "vat", month, "csv", len(rows), sha, errors, encoding=encoding)
        if month == self.dup_month:
            copy = os.path.join(folder, f"vat_{month} (1).csv")
            write_bytes(copy, data)
            errors = dict(errors)
            errors["duplicate_file"] = 1
            self.manifest.add(copy, "vat", month, "csv", len(rows), sha, errors, encoding=encoding,
                              duplicate_of=os.path.relpath(path, self.manifest.out))
        out = np.zeros(len(revenue))
        out[idx] = sales
        return out


class SocialInsuranceWriter:
    """Monthly headcounts of insured employees by employer (xlsx); covers most
    firms with employees, not individual businesses without any."""

    RENAME_FROM = "2024-01"

    def __init__(self, ent: pd.DataFrame, root: str, manifest: Manifest, seed: int):
        rng = np.random.default_rng([seed, 40])
        n = len(ent)
        indiv = ent["is_individual"].to_numpy()
        emp = ent["base_employment"].to_numpy()
        covered = np.where(indiv, (emp >= 3) & (rng.random(n) < 0.3), (emp >= 1) & (rng.random(n) < 0.92))
        self.idx = np.flatnonzero(covered)
        m = len(self.idx)
        order = rng.permutation(m)
        self.unit_id = np.array([f"66{k:08d}" for k in (rng.choice(10 ** 8, size=m, replace=False))], dtype=object)
        code = ent["credit_code"].to_numpy()[self.idx]
        self.code = np.where(rng.random(m) < 0.9, code, "")  # old units registered before credit codes
        self.unit_name = ent["name"].to_numpy()[self.idx]
        self.ratio = rng.uniform(0.6, 1.0, m)
        self.clerk = nm.person_names(rng, m)
        self.clerk_phone = nm.mobile_numbers(rng, m)
        self.order = order
        self.root, self.manifest, self.seed = root, manifest, seed

    def _insured(self, alive: np.ndarray, employment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        head = np.round(employment[self.idx] * self.ratio).astype(np.int64)
        return head, alive[self.idx] & (head > 0)

    def headcount(self, t: int, alive: np.ndarray, employment: np.ndarray) -> np.ndarray:
        """The true insured headcount of every enterprise in month *t* (what :meth:`write`
        returns), without writing the workbook."""
        head, keep = self._insured(alive, employment)
        out = np.zeros(len(employment), dtype=np.int64)
        out[self.idx] = np.where(keep, head, 0)
        return out

    def write(self, t: int, alive: np.ndarray, employment: np.ndarray) -> np.ndarray:
        month = MONTHS[t]
        rng = np.random.default_rng([self.seed, 41, t])
        head, keep = self._insured(alive, employment)
        sel = self.order[keep[self.order]]
        rows = [[u, c, nme, month, h, cl, ph] for u, c, nme, h, cl, ph in zip(
            self.unit_id[sel], self.code[sel], self.unit_name[sel], head[sel].tolist(),
            self.clerk[sel], self.clerk_phone[sel])]
        errors = inject_csv_rows(rows, rng, {"invalid_credit_code": 0.0005, "impossible_value": 0.0003},
                                 code_col=1, count_col=4)
        for r in rows:  # head counts are numbers in the sheet, also the impossible ones
            r[4] = int(r[4])
        renamed = {"insured_headcount": contracts.alias("social_insurance", "insured_headcount")} \
            if month >= self.RENAME_FROM else None
        if renamed:
            errors["renamed_columns"] = 1
        path = os.path.join(self.root, contracts.folder("social_insurance"), f"si_{month}.xlsx")
        sha = xlsx_write(path, "参保单位", contracts.headers("social_insurance", renamed), rows)
        self.manifest.add(path, "social_insurance", month, "xlsx", len(rows), sha, errors)
        return self.headcount(t, alive, employment)


class ElectricityWriter:
    """Electricity by account: accounts are not credit codes; names and
    addresses written the utility's way; some firms have two accounts; a few
    accounts belong to no registered enterprise."""

    RENAME_FROM = "2022-01"

    def __init__(self, ent: pd.DataFrame, ind: pd.DataFrame, root: str, manifest: Manifest, seed: int):
        rng = np.random.default_rng([seed, 50])
        n = len(ent)
        indiv = ent["is_individual"].to_numpy()
        has = rng.random(n) < np.where(indiv, 0.5, 0.9)
        owners = np.flatnonzero(has)
        two = rng.random(len(owners)) < 0.08
        ent_idx = np.concatenate([owners, owners[two]])
        share = np.concatenate([np.where(two, 0.6, 1.0), np.full(int(two.sum()), 0.4)])
        second = np.concatenate([np.zeros(len(owners), bool), np.ones(int(two.sum()), bool)])
        n_orphan = max(3, int(0.02 * len(ent_idx)))
        m = len(ent_idx) + n_orphan
        names = ent["name"].to_numpy()
        addrs = ent["address"].to_numpy()
        counties = ent["county_name"].to_numpy()
        acct_name, acct_addr = [], []
        for i, sec in zip(ent_idx.tolist(), second.tolist()):
            full = names[i]
            r = rng.random()
            if sec or r < 0.15:
                name = full + nm.BRANCH_WORDS[int(rng.integers(len(nm.BRANCH_WORDS)))]
            elif r < 0.35:
                name = nm.abbreviate(full, PLACE_PREFIXES)
            elif r < 0.5 and "G" in full:
                name = nm.to_full_width(full)
            else:
                name = full
            acct_name.append(name)
            acct_addr.append(nm.address_variant(addrs[i], counties[i], rng) if rng.random() < 0.6 else addrs[i])
        orphan_kinds = ["人民政府", "第三中学", "小区物业", "社区卫生服务中心", "自来水泵站", "路灯管理所"]
        towns = ent["address"].to_numpy()
        for k in range(n_orphan):
            acct_name.append(f"{CITY_NAME}{nm.trade_names(rng, 1)[0]}{orphan_kinds[k % len(orphan_kinds)]}")
            acct_addr.append(towns[int(rng.integers(n))])
        perm = rng.permutation(m)
        self.ent_idx = np.concatenate([ent_idx, np.full(n_orphan, -1)])[perm]
        self.share = np.concatenate([share, np.ones(n_orphan)])[perm]
        self.name = np.array(acct_name, dtype=object)[perm]
        self.addr = np.array(acct_addr, dtype=object)[perm]
        self.account_id = np.array([f"{k:010d}" for k in rng.choice(10 ** 10, size=m, replace=False)], dtype=object)
        section = ent["section"].to_numpy()
        size = ent["size_class"].to_numpy()
        tariff = np.where(np.isin(section, ["C", "D"]) & np.isin(size, ["大型", "中型"]), "大工业用电",
                          np.where(section == "A", "农业生产用电", "一般工商业用电"))
        self.tariff = np.where(self.ent_idx >= 0, tariff[np.maximum(self.ent_idx, 0)], "一般工商业用电")
        self.orphan_base = rng.lognormal(np.log(3000), 0.8, m)
        self.root, self.manifest, self.seed = root, manifest, seed
        self.unmappable_month = MONTHS[int(rng.integers(24, 47))]  # before the alias rename

    def links(self) -> pd.DataFrame:
        return pd.DataFrame({"account_id": self.account_id, "ent_idx": self.ent_idx, "share": self.share})

    def write(self, t: int, alive: np.ndarray, kwh: np.ndarray, kwh_season: float) -> None:
        month = MONTHS[t]
        rng = np.random.default_rng([self.seed, 51, t])
        e = self.ent_idx
        own = e >= 0
        value = np.where(own, kwh[np.maximum(e, 0)] * self.share,
                         self.orphan_base * np.exp(kwh_season + rng.normal(0, 0.05, len(e))))
        active = np.where(own, alive[np.maximum(e, 0)], True)
        sel = np.flatnonzero(active)
        rows = [[a, nme, ad, tc, month, f"{v:.1f}"] for a, nme, ad, tc, v in zip(
            self.account_id[sel], self.name[sel], self.addr[sel], self.tariff[sel], value[sel].tolist())]
        errors = inject_csv_rows(rows, rng, {"negative_value": 0.0003, "non_numeric": 0.0005,
                                             "wrong_field_count": 0.0003}, amount_col=5)
        renamed = None
        if month == self.unmappable_month:
            renamed = {"kwh": "本月电量"}
            errors["unmappable_header"] = 1
        elif month >= self.RENAME_FROM:
            renamed = {"kwh": contracts.alias("electricity", "kwh")}
            errors["renamed_columns"] = 1
        path = os.path.join(self.root, contracts.folder("electricity"), f"elec_{month}.csv")
        sha = write_bytes(path, csv_bytes(contracts.headers("electricity", renamed), rows, "utf-8"))
        self.manifest.add(path, "electricity", month, "csv", len(rows), sha, errors, encoding="utf-8")
