"""`python -m executor serve ...` is `cadenza executor serve ...`."""

import sys

from executor.cli import main

if __name__ == "__main__":
    sys.exit(main(["executor", *sys.argv[1:]]))
