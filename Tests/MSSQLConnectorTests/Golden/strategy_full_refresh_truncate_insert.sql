-- begin
SET XACT_ABORT ON;
-- begin
BEGIN TRANSACTION;
-- step (counts previousRows)
SELECT COUNT_BIG(*) FROM [sales].[orders];
-- step
TRUNCATE TABLE [sales].[orders];
-- step (counts inserted)
INSERT INTO [sales].[orders] WITH (TABLOCK) ([id], [amount], [note]) SELECT s.[id], s.[amount], s.[note] FROM [sales].[__dpone__stg_01J0LOAD_orders] AS s;
