"""Benchmarks for healer: how often a build gets to green, at what cost and speed.

    python -m benchmarks run [--suite exercism|examples|all] ...   # spec -> green benchmark
    python -m benchmarks orchestration                             # scripted-server figures
"""
