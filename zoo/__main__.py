"""``python -m zoo`` runs the ``zoo`` command."""

from zoo.cli.main import main

raise SystemExit(main())
