"""A second module, so that the wheel has more than one member to compare."""

from tinypkg import greet


def main():
    print(greet("world"))
