-- begin
SET XACT_ABORT ON;
-- begin
BEGIN TRANSACTION;
-- check: rows outside the replace window (order_date >= '2026-01-01') = 0
SELECT COUNT_BIG(*) FROM [sales].[__dpone__stg_01J0LOAD_orders] WHERE CASE WHEN (order_date >= '2026-01-01') THEN 1 ELSE 0 END = 0;
-- step (counts deleted)
DELETE FROM [sales].[orders] WHERE (order_date >= '2026-01-01');
-- step (counts inserted)
INSERT INTO [sales].[orders] ([id], [amount], [note]) SELECT s.[id], s.[amount], s.[note] FROM [sales].[__dpone__stg_01J0LOAD_orders] AS s;
