-- Order.priority: backordered orders are sourced again highest priority first, then oldest
-- first (OrderStoreMixin.backordered_orders). Existing orders keep the default, 0.

ALTER TABLE orders ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
