"""The store contract for SKU aliases and item units (``store`` runs each test on memory, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.catalog.aliases import AliasKind, build_alias
from engine.catalog.units import ItemUnit
from engine.errors import InvalidInputError
from engine.model import Item
from server.store import Store, open_store
from server.store.memory_store import MemoryStore


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalogued(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Two items, in an empty store over each adapter (as test_contract.py's ``store``)."""
    if request.param == "memory":
        store: Store = MemoryStore()
    else:
        if request.param == "sqlite":
            url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'store.db'}"
        else:
            databases = request.getfixturevalue("postgres_databases")
            url = databases.create()
            request.addfinalizer(lambda: databases.drop(url))
        store = open_store(url)
        store.migrate()
        request.addfinalizer(store.close)
    store.upsert_items([Item(sku="A", unit_weight_lb=1.0), Item(sku="B", unit_weight_lb=2.0)])
    yield store


def _fields(error: pytest.ExceptionInfo[InvalidInputError]) -> set[str]:
    return {v.field for v in error.value.violations}


def test_aliases_round_trip_and_resolve(catalogued: Store) -> None:
    before = catalogued.items_version()
    catalogued.upsert_sku_aliases(
        [
            build_alias(AliasKind.CHANNEL, "AMZ-A", "A", "amazon"),
            build_alias(AliasKind.BARCODE, "036000291452", "B"),
            build_alias(AliasKind.VENDOR, "V-77", "A", "acme"),
        ]
    )
    assert catalogued.items_version() != before  # every worker's catalogue cache must notice
    listed = catalogued.sku_aliases()
    assert [(a.kind, a.alias, a.sku, a.source) for a in listed] == [
        (AliasKind.BARCODE, "00036000291452", "B", ""),
        (AliasKind.CHANNEL, "AMZ-A", "A", "amazon"),
        (AliasKind.VENDOR, "V-77", "A", "acme"),
    ]
    assert [a.alias for a in catalogued.sku_aliases(skus=["A"])] == ["AMZ-A", "V-77"]
    assert [a.alias for a in catalogued.sku_aliases(after="AMZ-A", limit=1)] == ["V-77"]
    assert catalogued.resolve_alias_keys(["AMZ-A", "00036000291452", "nope"]) == {
        "AMZ-A": "A",
        "00036000291452": "B",
    }


def test_an_alias_naming_another_sku_is_refused_whole(catalogued: Store) -> None:
    catalogued.upsert_sku_aliases([build_alias(AliasKind.CHANNEL, "X", "A")])
    version = catalogued.items_version()
    with pytest.raises(InvalidInputError) as caught:
        catalogued.upsert_sku_aliases(
            [build_alias(AliasKind.CHANNEL, "NEW", "B"), build_alias(AliasKind.CHANNEL, "X", "B")]
        )
    assert _fields(caught) == {"aliases[1].alias"}
    assert catalogued.resolve_alias_keys(["NEW", "X"]) == {"X": "A"}  # nothing of the write stayed
    assert catalogued.items_version() == version
    catalogued.upsert_sku_aliases([build_alias(AliasKind.CHANNEL, "X", "B")], remap=True)
    assert catalogued.resolve_alias_keys(["X"]) == {"X": "B"}


def test_unknown_skus_and_shadowing_aliases_are_refused(catalogued: Store) -> None:
    with pytest.raises(InvalidInputError) as caught:
        catalogued.upsert_sku_aliases(
            [build_alias(AliasKind.VENDOR, "V-1", "GHOST"), build_alias(AliasKind.VENDOR, "B", "A")], path="x"
        )
    assert _fields(caught) == {"x[0].sku", "x[1].alias"}
    assert catalogued.sku_aliases() == []


def test_units_round_trip_replace_and_refuse(catalogued: Store) -> None:
    before = catalogued.items_version()
    catalogued.upsert_item_units([ItemUnit("A", "CASE", 24), ItemUnit("A", "INNER", 6), ItemUnit("B", "CASE", 12)])
    assert catalogued.items_version() != before
    catalogued.upsert_item_units([ItemUnit("A", "CASE", 48)])
    found = catalogued.item_units(["A", "B", "C"])
    assert found == {
        "A": [ItemUnit("A", "CASE", 48), ItemUnit("A", "INNER", 6)],
        "B": [ItemUnit("B", "CASE", 12)],
    }
    with pytest.raises(InvalidInputError) as caught:
        catalogued.upsert_item_units(
            [ItemUnit("B", "PALLET", 480), ItemUnit("GHOST", "CASE", 2), ItemUnit("B", "PALLET", 4)]
        )
    assert _fields(caught) == {"units[1].sku", "units[2].unit"}
    assert "PALLET" not in {u.unit for u in catalogued.item_units(["B"])["B"]}
