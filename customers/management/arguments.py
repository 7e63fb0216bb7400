"""Arguments the data-writing commands share: the random seed and the history's last day."""

from __future__ import annotations

from datetime import date

from django.core.management.base import CommandError, CommandParser


def end_date(value: str | None) -> date | None:
    """``--end`` as a date (None: today, decided by the writer)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--end must be a date as YYYY-MM-DD, not {value!r}.") from exc


def add_seed_and_end(parser: CommandParser, *, default_seed: int) -> None:
    parser.add_argument(
        "--seed",
        type=int,
        default=default_seed,
        help=f"Random seed; the same seed and end date give the same data "
        f"(default {default_seed}).",
    )
    parser.add_argument(
        "--end",
        type=str,
        default=None,
        help="Last day of the history, YYYY-MM-DD (default today).",
    )
