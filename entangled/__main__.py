"""``python -m entangled``: the ``entangled`` command."""

import sys

from entangled.cli import main

if __name__ == "__main__":
    sys.exit(main())
