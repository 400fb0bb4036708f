-- The catalogue's cross-references and units (docs/onboarding.md).
-- sku_aliases: channel SKUs, vendor SKUs and barcodes (GTIN-14 form) that each name one SKU.
--   One namespace: the alias is the key, so no alias can name two SKUs.
-- item_units: an item's units besides its base unit (EACH, factor 1), each a whole number of
--   base units (INNER 6, CASE 24). An item without rows has only EACH.
-- Writes to either bump catalogue_version (006), so every worker's catalogue cache notices them.
-- No foreign key to items: the writes check the SKU exists (as the store checks it for aliases)
-- and items are never deleted. Self-contained, so it can be renumbered at a merge.

CREATE TABLE sku_aliases (
    alias      TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('CHANNEL', 'VENDOR', 'BARCODE')),
    sku        TEXT COLLATE "C" NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sku_aliases_by_sku ON sku_aliases (sku, alias);

CREATE TABLE item_units (
    sku        TEXT    COLLATE "C" NOT NULL,
    unit       TEXT    COLLATE "C" NOT NULL,
    factor     BIGINT  NOT NULL CHECK (factor >= 1),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sku, unit)
);
