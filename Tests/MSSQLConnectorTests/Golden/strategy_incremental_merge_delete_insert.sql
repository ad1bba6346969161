-- begin
SET XACT_ABORT ON;
-- begin
BEGIN TRANSACTION;
-- check: rows with a NULL unique key = 0
SELECT COUNT_BIG(*) FROM [sales].[__dpone__stg_01J0LOAD_orders] WHERE [id] IS NULL;
-- check: duplicate unique keys = 0
SELECT COUNT_BIG(*) FROM (SELECT 1 AS one FROM [sales].[__dpone__stg_01J0LOAD_orders] GROUP BY [id] HAVING COUNT_BIG(*) > 1) AS duplicates;
-- step (counts updated)
DELETE t FROM [sales].[orders] AS t WITH (UPDLOCK, HOLDLOCK) INNER JOIN [sales].[__dpone__stg_01J0LOAD_orders] AS s ON t.[id] = s.[id];
-- step (counts inserted)
INSERT INTO [sales].[orders] ([id], [amount], [note]) SELECT s.[id], s.[amount], s.[note] FROM [sales].[__dpone__stg_01J0LOAD_orders] AS s;
