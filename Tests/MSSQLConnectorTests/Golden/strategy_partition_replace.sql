-- begin
SET XACT_ABORT ON;
-- begin
BEGIN TRANSACTION;
-- check: partitions more than max_partitions_per_run (31) = 0
SELECT CASE WHEN COUNT_BIG(*) > 31 THEN COUNT_BIG(*) - 31 ELSE 0 END FROM (SELECT DISTINCT [order_date] AS p FROM [sales].[__dpone__stg_01J0LOAD_orders]) AS partitions;
-- step (counts deleted)
DELETE t FROM [sales].[orders] AS t WITH (UPDLOCK, HOLDLOCK) WHERE t.[order_date] IN (SELECT DISTINCT [order_date] FROM [sales].[__dpone__stg_01J0LOAD_orders]) OR (t.[order_date] IS NULL AND EXISTS (SELECT 1 FROM [sales].[__dpone__stg_01J0LOAD_orders] WHERE [order_date] IS NULL));
-- step (counts inserted)
INSERT INTO [sales].[orders] ([id], [amount], [note], [order_date]) SELECT s.[id], s.[amount], s.[note], s.[order_date] FROM [sales].[__dpone__stg_01J0LOAD_orders] AS s;
