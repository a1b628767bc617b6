"""`greet NAME` and `shout WORDS...`, each a console script."""

from __future__ import annotations

import argparse


def greet() -> int:
    parser = argparse.ArgumentParser(prog="greet", description="Greet someone.")
    parser.add_argument("name")
    parser.add_argument("--polite", action="store_true")
    args = parser.parse_args()
    print(f"{'Good day' if args.polite else 'Hello'}, {args.name}!")
    return 0


def shout() -> int:
    parser = argparse.ArgumentParser(prog="shout", description="Repeat words, loudly.")
    parser.add_argument("words", nargs="+")
    args = parser.parse_args()
    print(" ".join(args.words).upper() + "!")
    return 0
