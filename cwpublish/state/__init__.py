"""What cwpublish keeps on disk under state_dir: atomic files, the lock, state keys, the
history, the ledger, the journal and the schedule state. Built from plain values, not config."""
