"""What the CLI asks cwpublish to do, one entry point each and no click: manual publish,
retry and dry run, the scheduled run (with the night-before check), check-config, the report
and the invoice guard."""
