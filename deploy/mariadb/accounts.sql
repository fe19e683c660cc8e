-- The MySQL/MariaDB accounts of catalog-service, least privilege. Applied
-- by tools/run, tools/bench and tools/test (tools/lib.sh start_mariadb);
-- in production run it as an administrator after replacing the three
-- placeholders by hand (sed would misread &, / or \ in a password; a ' must
-- be doubled):
--   @DATABASE@          the database, as a LIKE pattern: `_` and `%` are
--                       wildcards, so write catalog\_prod for catalog_prod
--                       (tools/test grants on catalog% for its per-test
--                       databases)
--   @SERVICE_PASSWORD@  for `catalog`, the account catalog-server serves with
--   @MIGRATE_PASSWORD@  for `catalog_migrate`, the account of
--                       `catalog-server migrate` (the schema step)
-- Both accounts exist for host 'localhost' and '%': restrict '%' to the
-- service's network where you can.
--
-- catalog: rows only, in its own database. No FILE (LOAD_FILE,
-- SELECT ... INTO OUTFILE), no access to the mysql schema or any other
-- database, no DDL: a compromised server cannot read the host's files or
-- other tenants' data, nor drop the tables.
-- catalog_migrate: what creating and changing the tables needs, in the same
-- database only; nothing on other databases.
--
-- Re-running it is safe: it sets the passwords again and takes back whatever
-- else the accounts held (an older tools/lib.sh granted ALL ON *.*). A
-- server already connected keeps privileges it held globally until its
-- connections are re-opened: restart it after tightening.
CREATE USER IF NOT EXISTS 'catalog'@'localhost' IDENTIFIED BY '@SERVICE_PASSWORD@';
CREATE USER IF NOT EXISTS 'catalog'@'%' IDENTIFIED BY '@SERVICE_PASSWORD@';
CREATE USER IF NOT EXISTS 'catalog_migrate'@'localhost' IDENTIFIED BY '@MIGRATE_PASSWORD@';
CREATE USER IF NOT EXISTS 'catalog_migrate'@'%' IDENTIFIED BY '@MIGRATE_PASSWORD@';
ALTER USER 'catalog'@'localhost' IDENTIFIED BY '@SERVICE_PASSWORD@';
ALTER USER 'catalog'@'%' IDENTIFIED BY '@SERVICE_PASSWORD@';
ALTER USER 'catalog_migrate'@'localhost' IDENTIFIED BY '@MIGRATE_PASSWORD@';
ALTER USER 'catalog_migrate'@'%' IDENTIFIED BY '@MIGRATE_PASSWORD@';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'catalog'@'localhost', 'catalog'@'%';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'catalog_migrate'@'localhost', 'catalog_migrate'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `@DATABASE@`.* TO 'catalog'@'localhost', 'catalog'@'%';
GRANT CREATE, ALTER, INDEX, SELECT, INSERT, UPDATE, DELETE ON `@DATABASE@`.* TO 'catalog_migrate'@'localhost', 'catalog_migrate'@'%';
