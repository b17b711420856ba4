"""Text for people: tables, entries, history and plans (render/output.py). Pure: no I/O."""
