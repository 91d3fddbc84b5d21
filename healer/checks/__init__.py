"""Checks that decide whether a generated project works, producing structured failures."""
