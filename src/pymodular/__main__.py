"""``python -m pymodular``: the ``pymodular`` command."""

from pymodular.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
