-- begin
SET XACT_ABORT ON;
-- begin
BEGIN TRANSACTION;
-- step (counts inserted)
INSERT INTO [sales].[orders] ([id], [amount], [note]) SELECT s.[id], s.[amount], s.[note] FROM [sales].[__dpone__stg_01J0LOAD_orders] AS s;
