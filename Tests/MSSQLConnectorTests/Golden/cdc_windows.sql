SELECT sys.fn_cdc_get_min_lsn(N'sales_orders');
SELECT sys.fn_cdc_get_max_lsn();
SELECT [__$start_lsn], [__$seqval], [__$operation], [id], [amount] FROM cdc.[fn_cdc_get_all_changes_sales_orders](sys.fn_cdc_get_min_lsn(N'sales_orders'), 0x0000002A000001A80003, N'all') ORDER BY [__$start_lsn], [__$seqval];
SELECT [__$start_lsn], [__$seqval], [__$operation], [id], [amount] FROM cdc.[fn_cdc_get_all_changes_sales_orders](sys.fn_cdc_increment_lsn(0x0000002A000001A80003), 0x0000002B000000100001, N'all') ORDER BY [__$start_lsn], [__$seqval];
