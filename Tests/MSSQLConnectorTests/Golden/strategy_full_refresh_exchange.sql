-- begin
SET XACT_ABORT ON;
-- begin
BEGIN TRANSACTION;
-- step (counts previousRows)
SELECT COUNT_BIG(*) FROM [sales].[orders];
-- step
DROP TABLE IF EXISTS [sales].[orders__dpone_new];
-- step
SELECT * INTO [sales].[orders__dpone_new] FROM [sales].[orders] WHERE 1 = 0;
-- step (counts inserted)
INSERT INTO [sales].[orders__dpone_new] WITH (TABLOCK) ([id], [amount], [note]) SELECT s.[id], s.[amount], s.[note] FROM [sales].[__dpone__stg_01J0LOAD_orders] AS s;
-- step
EXEC sp_rename N'[sales].[orders]', N'orders__dpone_old';
-- step
EXEC sp_rename N'[sales].[orders__dpone_new]', N'orders';
-- step
DROP TABLE [sales].[orders__dpone_old];
