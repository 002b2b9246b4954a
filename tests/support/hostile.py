"""Hostile inputs several test modules share: adversarial query texts a megabyte long."""

from __future__ import annotations

MEGABYTE = 1_000_000


def adversarial_queries(size: int = MEGABYTE) -> dict[str, str]:
    """Texts of about ``size`` characters built to make a backtracking parser work quadratically: runs of
    whitespace, of operators, of nested weights, colons and stars, and mixes of them."""

    def fill(unit: str, head: str = "a", tail: str = "b") -> str:
        return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail

    return {
        "spaces": fill(" "),
        "tabs and newlines": fill(" \t\n\u00a0"),
        "plus signs": fill("+"),
        "spaced operators": fill(" + "),
        "operator runs": fill(" +- "),
        "spaces then an operator": fill(" ", tail=" + b"),
        "nested prefix weights": fill("2*", head=""),
        "spaced prefix weights": fill("2 * ", head=""),
        "colons": fill(":", tail="1"),
        "spaced colons": fill(" : ", tail="1"),
        "suffix weights": fill(":0.5", tail=""),
        "stars": fill("*", head="", tail=""),
        "digits and dots": fill("1.", tail=":1.5"),
        "everything": fill("a \t: 1.5 * - + 2*x:0.5 "),
    }
