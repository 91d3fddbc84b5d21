"""A tiny web back end whose front end lives in web/."""


def greeting(name: str) -> str:
    return f"Hello, {name}!"
