-- begin
SET XACT_ABORT ON;
-- begin
BEGIN TRANSACTION;
-- check: rows with a NULL unique key = 0
SELECT COUNT_BIG(*) FROM [sales].[__dpone__stg_01J0LOAD_orders] WHERE [id] IS NULL;
-- check: duplicate unique keys = 0
SELECT COUNT_BIG(*) FROM (SELECT 1 AS one FROM [sales].[__dpone__stg_01J0LOAD_orders] GROUP BY [id] HAVING COUNT_BIG(*) > 1) AS duplicates;
-- step (counts updated)
UPDATE t SET t.[__dpone__valid_to_at] = CAST(N'2026-05-28T20:26:40.123456' AS datetime2(7)), t.[__dpone__is_current] = 0 FROM [sales].[orders] AS t WITH (UPDLOCK, HOLDLOCK) INNER JOIN [sales].[__dpone__stg_01J0LOAD_orders] AS s ON t.[id] = s.[id] WHERE t.[__dpone__is_current] = 1 AND (t.[__dpone__row_hash] <> s.[__dpone__row_hash] OR (t.[__dpone__row_hash] IS NULL AND s.[__dpone__row_hash] IS NOT NULL) OR (t.[__dpone__row_hash] IS NOT NULL AND s.[__dpone__row_hash] IS NULL));
-- step (counts inserted)
INSERT INTO [sales].[orders] ([id], [amount], [note], [__dpone__row_hash], [__dpone__valid_from_at], [__dpone__valid_to_at], [__dpone__is_current]) SELECT s.[id], s.[amount], s.[note], s.[__dpone__row_hash], CAST(N'2026-05-28T20:26:40.123456' AS datetime2(7)), NULL, 1 FROM [sales].[__dpone__stg_01J0LOAD_orders] AS s WHERE NOT EXISTS (SELECT 1 FROM [sales].[orders] AS t WITH (UPDLOCK, HOLDLOCK) WHERE t.[id] = s.[id] AND t.[__dpone__is_current] = 1);
