"""``python -m examples.app``: run the notes API."""

from examples.app import main

raise SystemExit(main())
