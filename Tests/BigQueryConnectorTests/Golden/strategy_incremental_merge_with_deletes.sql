-- check: rows with a NULL unique key = 0
SELECT COUNT(*) FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` WHERE `id` IS NULL;
-- check: duplicate unique keys = 0
SELECT COUNT(*) FROM (SELECT 1 FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` GROUP BY `id` HAVING COUNT(*) > 1);
-- script
DECLARE dpone_inserted INT64 DEFAULT 0;
DECLARE dpone_updated INT64 DEFAULT 0;
DECLARE dpone_deleted INT64 DEFAULT 0;
DECLARE dpone_staged INT64 DEFAULT 0;
DECLARE dpone_window INT64 DEFAULT NULL;
DECLARE dpone_now TIMESTAMP DEFAULT CURRENT_TIMESTAMP();
BEGIN TRANSACTION;
SELECT ERROR('dpone: checkpoint 7 of pipeline \'orders_daily\' was published concurrently into sales.orders') FROM `acme-prod`.`sales`.`__dpone__loads` WHERE `pipeline` = 'orders_daily' AND `target` = 'sales.orders' AND `checkpoint` >= 7;
DELETE FROM `acme-prod`.`sales`.`__dpone__loads` WHERE `pipeline` = 'orders_daily' AND `target` = 'sales.orders' AND `checkpoint` = 7;
SET dpone_deleted = dpone_deleted + (SELECT COUNT(*) FROM `acme-prod`.`sales`.`orders` AS t WHERE EXISTS (SELECT 1 FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` AS s WHERE t.`id` = s.`id` AND s.`__dpone__op` = 2));
DELETE FROM `acme-prod`.`sales`.`orders` AS t WHERE EXISTS (SELECT 1 FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` AS s WHERE t.`id` = s.`id` AND s.`__dpone__op` = 2);
SET dpone_updated = dpone_updated + (SELECT COUNT(*) FROM `acme-prod`.`sales`.`orders` AS t WHERE EXISTS (SELECT 1 FROM (SELECT * FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` WHERE `__dpone__op` <> 2) AS s WHERE t.`id` = s.`id`));
DELETE FROM `acme-prod`.`sales`.`orders` AS t WHERE EXISTS (SELECT 1 FROM (SELECT * FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` WHERE `__dpone__op` <> 2) AS s WHERE t.`id` = s.`id`);
SET dpone_inserted = dpone_inserted + (SELECT COUNT(*) FROM (SELECT * FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` WHERE `__dpone__op` <> 2) AS s WHERE NOT EXISTS (SELECT 1 FROM `acme-prod`.`sales`.`orders` AS t WHERE t.`id` = s.`id`));
INSERT INTO `acme-prod`.`sales`.`orders` (`id`, `amount`, `note`) SELECT s.`id`, s.`amount`, s.`note` FROM (SELECT * FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` WHERE `__dpone__op` <> 2) AS s;
SET dpone_staged = (SELECT COUNT(*) FROM (SELECT * FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` WHERE `__dpone__op` <> 2) AS s);
SET dpone_window = (SELECT COUNT(*) FROM `acme-prod`.`sales`.`orders` AS t WHERE EXISTS (SELECT 1 FROM (SELECT * FROM `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders` WHERE `__dpone__op` <> 2) AS s WHERE t.`id` = s.`id`));
INSERT INTO `acme-prod`.`sales`.`__dpone__loads` (`pipeline`, `target`, `checkpoint`, `load_id`, `run_id`, `positions`, `inserted`, `updated`, `deleted`, `committed_at`) VALUES ('orders_daily', 'sales.orders', 7, '01J0LOAD', '01J0RUN', '{"rows":3}', dpone_inserted, dpone_updated, dpone_deleted, dpone_now);
COMMIT TRANSACTION;
DROP TABLE IF EXISTS `acme-prod`.`sales`.`__dpone__stg_01J0LOAD_orders`;
SELECT dpone_inserted, dpone_updated, dpone_deleted, dpone_staged, dpone_window;
