-- The cold tier table; catalog-server also creates it at start-up if missing.
CREATE TABLE IF NOT EXISTS products (
  id VARBINARY(255) NOT NULL PRIMARY KEY,
  payload MEDIUMBLOB NOT NULL,     -- catalog.v1.Product encoding, or a delete tombstone
  version BIGINT NOT NULL,
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;

-- Demotion fencing: one row per record table, the newest demotion lock token
-- that wrote to it (storage/SAFETY.md, "Demotion lock"). Also created at
-- start-up if missing.
CREATE TABLE IF NOT EXISTS demotion_fences (
  name VARBINARY(255) NOT NULL PRIMARY KEY,
  token BIGINT NOT NULL
) ENGINE=InnoDB;
