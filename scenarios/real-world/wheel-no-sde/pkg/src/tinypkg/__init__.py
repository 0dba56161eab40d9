"""A one-function package."""


def greet(name):
    return f"hello, {name}"
