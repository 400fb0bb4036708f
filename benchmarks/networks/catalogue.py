"""The sample networks' catalogue: SKUs by category with plausible weights, dimensions and brands,
drawn from the network's seeded random generator."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    prefix: str
    share: float  # of the catalogue
    median_lb: float
    spread: float  # sigma of the log-normal weight: the long tail
    low_lb: float
    high_lb: float
    density: float  # lb per cubic inch, packed
    hazmat_share: float
    hazmat_class: str
    subcategories: tuple[str, ...]


_CATEGORIES = (
    _Category("apparel", "APP", 0.22, 0.6, 0.6, 0.1, 4.0, 0.005, 0.0, "",
              ("tops", "bottoms", "outerwear", "footwear", "socks")),
    _Category("accessories", "ACC", 0.08, 0.3, 0.7, 0.1, 3.0, 0.008, 0.0, "",
              ("bags", "jewelry", "watches", "belts")),
    _Category("beauty", "BTY", 0.10, 0.5, 0.6, 0.1, 5.0, 0.02, 0.3, "UN1950",
              ("fragrance", "haircare", "skincare", "cosmetics")),
    _Category("electronics", "ELC", 0.12, 1.5, 0.9, 0.1, 30.0, 0.015, 0.25, "UN3481",
              ("audio", "phones", "computing", "smart-home", "cables")),
    _Category("home", "HOM", 0.16, 3.0, 0.8, 0.3, 40.0, 0.01, 0.0, "",
              ("kitchen", "bedding", "bath", "decor", "storage")),
    _Category("toys", "TOY", 0.10, 1.5, 0.8, 0.2, 25.0, 0.006, 0.05, "UN3481",
              ("games", "building", "dolls", "outdoor-play")),
    _Category("sports", "SPT", 0.08, 3.0, 1.0, 0.3, 40.0, 0.012, 0.05, "UN1013",
              ("fitness", "camping", "cycling", "team-sports")),
    _Category("garden", "GDN", 0.06, 8.0, 0.8, 0.5, 40.0, 0.02, 0.2, "UN3077",
              ("tools", "planters", "lawn-care", "grills")),
    _Category("household", "HSH", 0.05, 3.0, 0.6, 0.5, 30.0, 0.03, 0.4, "UN1760",
              ("cleaning", "laundry", "paper")),
    _Category("furniture", "FUR", 0.03, 28.0, 0.25, 12.0, 40.0, 0.004, 0.0, "",
              ("chairs", "tables", "shelving")),
)  # fmt: skip


_BRANDS = ("Northwind", "Lakeshore", "Summit", "Harbor & Pine", "Fieldstone", "Bluebird", "Ironwood", "Copperline")


def _category_counts(n_skus: int) -> list[int]:
    """Exact SKUs per category (largest remainder), so the mix does not drift with the seed."""
    raw = [c.share * n_skus for c in _CATEGORIES]
    counts = [int(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in by_remainder[: n_skus - sum(counts)]:
        counts[i] += 1
    return counts


def _dimensions(rng: random.Random, weight: float, density: float) -> tuple[float, float, float]:
    volume = weight / density * rng.uniform(0.7, 1.4)
    side = volume ** (1 / 3)
    length, width = side * rng.uniform(1.0, 2.0), side * rng.uniform(0.6, 1.2)
    height = volume / (length * width)
    dims = sorted((max(0.5, round(d, 1)) for d in (length, width, height)), reverse=True)
    return dims[0], dims[1], dims[2]


def _item(rng: random.Random, category: _Category, n: int) -> dict[str, Any]:
    weight = math.exp(rng.gauss(math.log(category.median_lb), category.spread))
    weight = round(min(category.high_lb, max(category.low_lb, weight)), 2)
    length, width, height = _dimensions(rng, weight, category.density)
    hazmat = rng.random() < category.hazmat_share
    velocity = rng.choices("ABC", weights=(0.15, 0.6, 0.25))[0]
    attributes = {
        "category": category.name,
        "subcategory": rng.choice(category.subcategories),
        "brand": rng.choice(_BRANDS),
        "velocity": velocity,
    }
    if hazmat:
        attributes["hazmat_class"] = category.hazmat_class
    tags: set[str] = set()
    if weight >= 25.0 or category.name == "furniture":
        tags.add("bulky")
    if category.name in ("home", "electronics") and rng.random() < 0.15:
        tags.add("fragile")
    if category.name == "electronics" and rng.random() < 0.2:
        tags.add("high-value")
    if category.name in ("garden", "toys", "apparel") and rng.random() < 0.1:
        tags.add("seasonal")
    return {
        "sku": f"{category.prefix}-{n:05d}",
        "unit_weight_lb": weight,
        "length_in": length,
        "width_in": width,
        "height_in": height,
        "hazmat": hazmat,
        "tags": sorted(tags),
        "attributes": attributes,
    }


def make_catalogue(rng: random.Random, n_skus: int) -> list[dict[str, Any]]:
    """``n_skus`` items across categories, weights long-tailed within 0.1-40 lb, ordered by SKU."""
    items: list[dict[str, Any]] = []
    for category, count in zip(_CATEGORIES, _category_counts(n_skus), strict=True):
        items.extend(_item(rng, category, n) for n in range(1, count + 1))
    return sorted(items, key=lambda item: item["sku"])
