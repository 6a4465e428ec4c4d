"""The web installer: blueprint ``install`` at /install (404 once the help desk is installed)."""
from install.views import bp

__all__ = ["bp"]
