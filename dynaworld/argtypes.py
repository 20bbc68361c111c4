"""argparse types of the command line: a bad value is a usage error naming the option (exit 2)."""

from __future__ import annotations

import argparse
from typing import Any


def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        """argparse type: a usage error naming the option (exit 2) for a bad value."""
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if n < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {n}")
        return n

    return parse


positive_int, non_negative_int = _int_at_least(1), _int_at_least(0)


def probability(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {x}")
    return x


def positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not x > 0.0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {x}")
    return x
