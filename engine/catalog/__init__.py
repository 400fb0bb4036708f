"""The catalogue's cross-references and units: pure rules, no I/O (docs/onboarding.md).

``gtin`` checks barcodes, ``aliases`` maps channel SKUs, vendor SKUs and barcodes to one SKU,
``units`` converts quantities in an item's units (EACH, INNER, CASE, ...) to its base unit.
"""
