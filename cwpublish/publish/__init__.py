"""Publishing one partner's period: plan it, guard against duplicates and overwrites, open
the target (connection), send (run), and record the outcome (recording)."""
