"""``python -m hesk_py`` is the same as the ``hesk-py`` command."""
from hesk_py.cli import main

if __name__ == "__main__":
    main()
