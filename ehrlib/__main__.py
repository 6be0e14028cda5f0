"""Allow `python -m ehrlib ...` as well as the `ehrlib` console script."""

from ehrlib.cli import main

raise SystemExit(main())
