"""``python -m examples.showcase``: run the showcase on embedded defaults."""

from examples.showcase import main

raise SystemExit(main())
