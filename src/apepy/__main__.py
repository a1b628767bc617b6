"""Entry point for ``python -m apepy``."""

from apepy.cli import main

raise SystemExit(main())
