"""healer's own Python, started on the host for one of its modules (the bundled model's
server, pip, the browser session), safe from the folder it is started in.

`python -m module` puts the working directory first on `sys.path`, and healer works in
folders it does not trust (`healer debug` runs in the one it is pointed at): a `healer/` or
`pip/` package there would be imported instead of healer's or pip's own, on the host. `-P`
leaves the working directory off `sys.path`.
"""

from __future__ import annotations

import sys


def host_python(module: str, *args: str) -> list[str]:
    """The command line that runs `module` with healer's interpreter and its packages only."""
    return [sys.executable, "-P", "-m", module, *args]
