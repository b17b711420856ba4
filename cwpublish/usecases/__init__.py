"""What the CLI asks cwpublish to do, one entry point each and no click: manual publish (and
its dry run), the scheduled run (with the night-before check), and check-config."""
