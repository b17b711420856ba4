"""`python -m cwpublish` runs the command-line interface."""

from cwpublish.cli import main

main()
