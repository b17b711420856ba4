"""What a person sees before `[y/N]` and after a run when the rows are many: one summary line,
and beyond a screenful only the rows that need attention (all of them with -v or --json)."""

from __future__ import annotations

import shutil

from cwpublish.render.output import gb


def screen_lines() -> int:
    """The terminal's height ($LINES, else the terminal, else 24): what one screenful is."""
    return shutil.get_terminal_size().lines


def beyond_screenful(rows: int, verbose: int) -> bool:
    """True when only the rows needing attention are shown: more rows than fit, and no -v."""
    return verbose == 0 and rows > max(screen_lines() - 6, 5)


def plan_summary(
    clients: int, total_gb: float, periods: list[str], duplicates: int, partners: list[str]
) -> str:
    """The one line before `[y/N]`: clients, total GB, periods, duplicates, partners."""
    plural = "s" if clients != 1 else ""
    return (
        f"To publish: {clients} client{plural}, {gb(total_gb)} GB in total, "
        f"period{'s' if len(periods) != 1 else ''} {', '.join(periods) or '-'}, "
        f"{duplicates} already published (sent again), "
        f"partner{'s' if len(partners) != 1 else ''} {', '.join(partners) or '-'}"
    )


def attention_rows(rows: list[list[str]], ok: str) -> tuple[list[list[str]], int]:
    """The rows whose last column is not `ok`, and how many were left out."""
    kept = [r for r in rows if r[-1] != ok]
    return kept, len(rows) - len(kept)
