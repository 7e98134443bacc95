"""``python -m rainmaker`` is the ``rainmaker`` command."""

from rainmaker.cli.main import main

main()
