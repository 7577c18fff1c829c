"""``python -m ppverify``: the same command line as the ``ppverify`` script (``ppverify.cli``)."""

import sys

from ppverify.cli import main

if __name__ == "__main__":
    sys.exit(main())
