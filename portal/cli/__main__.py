"""`python -m portal.cli`: the same command line as `casevault`."""

from portal.cli.main import main

main()
