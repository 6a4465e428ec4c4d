"""The customer side: blueprint ``public`` at the root of the help desk."""
from hesk_py.public.views import bp
from hesk_py.public import kb  # noqa: F401,E402  (adds the knowledgebase pages to bp)

__all__ = ["bp"]
