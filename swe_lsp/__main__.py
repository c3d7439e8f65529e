"""`python -m swe_lsp` is `swe-lsp`."""

import sys

from swe_lsp.cli import main

sys.exit(main())
