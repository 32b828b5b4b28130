"""Web-scraped daily online prices (JSON lines): products follow the true CPI of
their COICOP group plus product noise, enter and leave, days go missing, and
the scraper glitches (price 0, price x100, null price, a broken JSON line)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from workbench.demo import contracts
from workbench.demo.economy import CPI_GROUPS
from workbench.demo.manifest import Manifest
from workbench.demo.timeline import MONTHS, PRICES_FROM, day_dates, month_list
from workbench.demo.writers import write_bytes

RETAILERS = ["优选商城", "惠民网购", "速达买菜", "家家乐商城", "百联云购", "城市生鲜"]
BRANDS = ["丰年", "金穗", "好味道", "乐家", "美居", "康宁", "新意", "悦享", "东方", "安心"]
CATEGORIES = {
    "01": [("食品/粮食/大米", "东北大米 5kg", 45), ("食品/粮食/面粉", "高筋面粉 2.5kg", 25),
           ("食品/肉类/猪肉", "冷鲜五花肉 500g", 28), ("食品/食用油/花生油", "压榨花生油 5L", 120),
           ("食品/乳制品/牛奶", "纯牛奶 250ml*12", 55), ("烟酒/酒类/白酒", "浓香型白酒 500ml", 160)],
    "02": [("衣着/服装/男士衬衫", "纯棉衬衫", 160), ("衣着/鞋类/运动鞋", "跑步鞋", 320)],
    "03": [("居住/家装/涂料", "内墙乳胶漆 5L", 260), ("居住/水电燃料/桶装水", "桶装饮用水 18.9L", 22)],
    "04": [("生活用品/家用电器/电饭煲", "智能电饭煲 4L", 300), ("生活用品/洗护/洗衣液", "洗衣液 3kg", 45)],
    "05": [("交通通信/通信工具/手机", "智能手机 128G", 2200), ("交通通信/车用品/机油", "全合成机油 4L", 260)],
    "06": [("教育文化/图书/教辅", "小学数学同步练习", 35), ("文化娱乐/旅游/景区门票", "景区门票 成人", 120)],
    "07": [("医疗保健/药品/感冒药", "感冒灵颗粒 9袋", 25), ("医疗保健/器械/血压计", "电子血压计", 220)],
    "08": [("其他用品/首饰/金饰", "足金吊坠 2g", 1100), ("其他用品/个护/剃须刀", "电动剃须刀", 180)],
}
PRICE_MONTHS = month_list(PRICES_FROM)


def build_products(n_slots: int, rng: np.random.Generator) -> pd.DataFrame:
    """Products over the scraping period; about n_slots are on sale at any time."""
    weights = np.array([g[2] for g in CPI_GROUPS])
    groups = [g[0] for g in CPI_GROUPS]
    slot_group = np.repeat(groups, np.maximum(8, np.round(weights * n_slots).astype(int)))
    rows = []
    T = len(PRICE_MONTHS)
    for g in slot_group:
        start = 0
        while start < T:
            life = max(3, int(rng.exponential(24)))
            cat, item, price = CATEGORIES[g][int(rng.integers(len(CATEGORIES[g])))]
            rows.append((g, cat, f"{BRANDS[int(rng.integers(len(BRANDS)))]} {item}", price * rng.lognormal(0, 0.3),
                         int(rng.integers(len(RETAILERS))), start, min(T - 1, start + life - 1)))
            start += life
    df = pd.DataFrame(rows, columns=["group", "category_path", "product_name", "base_price", "retailer_idx",
                                     "first_month", "last_month"])
    df["product_id"] = [f"P{k:07d}" for k in rng.permutation(len(df))]
    return df


class PricesWriter:
    def __init__(self, n_slots: int, cpi_group: pd.DataFrame, root: str, manifest: Manifest, seed: int):
        rng = np.random.default_rng([seed, 90])
        self.products = build_products(n_slots, rng)
        p = self.products
        T = len(PRICE_MONTHS)
        # product noise: AR(1) around the group index, small monthly innovations
        z = np.zeros((T, len(p)))
        eps = rng.normal(0, 0.004, (T, len(p)))
        for t in range(1, T):
            z[t] = 0.9 * z[t - 1] + eps[t]
        idx = cpi_group.loc[PRICE_MONTHS]
        rel = idx.to_numpy() / idx.iloc[0].to_numpy()
        gcol = {g: k for k, g in enumerate(cpi_group.columns)}
        level = rel[:, [gcol[g] for g in p["group"]]] * np.exp(z) * p["base_price"].to_numpy()[None, :]
        self.level = level  # true list price, month x product
        self.root, self.manifest, self.seed = root, manifest, seed
        self.json_name = [json.dumps(x, ensure_ascii=False) for x in p["product_name"]]
        self.json_cat = [json.dumps(x, ensure_ascii=False) for x in p["category_path"]]
        self.json_ret = [json.dumps(RETAILERS[r], ensure_ascii=False) for r in p["retailer_idx"]]

    def write_all(self, progress=None) -> None:
        for t, month in enumerate(PRICE_MONTHS):
            self.write(t, month)
            if progress is not None:
                progress.update(1)

    def write(self, t: int, month: str) -> None:
        rng = np.random.default_rng([self.seed, 91, t])
        p = self.products
        live = np.flatnonzero((p["first_month"].to_numpy() <= t) & (p["last_month"].to_numpy() >= t))
        days = day_dates(month)
        retailer_missing = rng.random((len(RETAILERS), len(days))) < 0.03
        ret = p["retailer_idx"].to_numpy()
        pid = p["product_id"].to_numpy()
        lines: list[str] = []
        kinds = {"price_zero": 0, "price_x100": 0, "price_null": 0, "malformed_json": 0,
                 "missing_retailer_days": int(retailer_missing.sum())}
        for d, day in enumerate(days):
            here = live[~retailer_missing[ret[live], d] & (rng.random(len(live)) >= 0.02)]
            lp = self.level[t, here]
            promo = np.where(rng.random(len(here)) < 0.06, rng.uniform(0.7, 0.9, len(here)), 1.0)
            price = np.round(lp * promo, 2)
            lp = np.round(lp, 2)
            glitch = rng.random(len(here))
            secs = rng.integers(0, 6 * 3600, len(here))
            for j, k in enumerate(here.tolist()):
                g = glitch[j]
                if g < 0.001:
                    ptxt = "0.0"; kinds["price_zero"] += 1
                elif g < 0.002:
                    ptxt = f"{price[j] * 100:.2f}"; kinds["price_x100"] += 1
                elif g < 0.005:
                    ptxt = "null"; kinds["price_null"] += 1
                else:
                    ptxt = f"{price[j]:.2f}"
                s = int(secs[j])
                line = (f'{{"scraped_at": "{day}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+08:00", '
                        f'"retailer": {self.json_ret[k]}, "product_id": "{pid[k]}", "product_name": {self.json_name[k]}, '
                        f'"category_path": {self.json_cat[k]}, "price": {ptxt}, "list_price": {lp[j]:.2f}, '
                        f'"url": "https://shop{ret[k] + 1}.example.cn/item/{pid[k]}"}}')
                if 0.005 <= g < 0.0055:
                    line = line[: len(line) // 2]; kinds["malformed_json"] += 1
                lines.append(line)
        path = os.path.join(self.root, contracts.folder("prices"), f"prices_{month}.jsonl")
        sha = write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
        self.manifest.add(path, "prices", month, "jsonl", len(lines), sha, kinds)

    def truth(self) -> pd.DataFrame:
        p = self.products.copy()
        p["retailer"] = [RETAILERS[r] for r in p["retailer_idx"]]
        p["first_month"] = [PRICE_MONTHS[i] for i in p["first_month"]]
        p["last_month"] = [PRICE_MONTHS[i] for i in p["last_month"]]
        return p.drop(columns=["retailer_idx"])


__all__ = ["PricesWriter", "PRICE_MONTHS", "MONTHS"]
