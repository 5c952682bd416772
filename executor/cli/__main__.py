"""`python -m executor.cli ...` is the `cadenza` command, for environments without the script."""

import sys

from executor.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
