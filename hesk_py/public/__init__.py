"""The customer side: blueprint ``public`` at the root of the help desk."""
from hesk_py.public.views import bp

__all__ = ["bp"]
