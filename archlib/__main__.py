import sys

from archlib.cli import main

sys.exit(main())
