"""A tiny calculator."""

import argparse


def add(a: int, b: int) -> int:
    return a + b


def main() -> int:
    parser = argparse.ArgumentParser(description="add two numbers")
    parser.add_argument("a", type=int)
    parser.add_argument("b", type=int)
    args = parser.parse_args()
    print(add(args.a, args.b))
    return 0
