"""Benchmarks for healer: how often a build gets to green, at what cost and speed.

    python -m benchmarks run [--suite exercism|examples|all] ...   # spec -> green benchmark
    python -m benchmarks orchestration                             # scripted-server figures
    python -m benchmarks compare --before C --only ... --out DIR   # two commits or settings
    python -m benchmarks splice BUILD... --out FILE                # merges by splicing, checked

(`python -m benchmarks --help` lists the rest.) `compare --keep-builds` leaves the arms'
builds in the temp folder, for `splice` to study.
"""
