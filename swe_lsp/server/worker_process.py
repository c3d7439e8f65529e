"""`python -m swe_lsp.server.worker_process ...`: the engine worker's entry point.

A module of its own so that the message classes are pickled as `swe_lsp.server.worker.X`, never as
`__main__.X` (which the server could not unpickle).
"""

import sys

from swe_lsp.server.worker import main

if __name__ == "__main__":
    sys.exit(main())
