"""python -m shieldx."""

from shieldx.cli import main

main()
