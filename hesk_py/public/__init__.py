"""The customer side: blueprint ``public`` at the root of the help desk."""
from hesk_py.public.views import bp
from hesk_py.public import kb  # noqa: F401,E402  (adds the knowledgebase pages to bp)
from hesk_py.public import accounts  # noqa: F401,E402  (customer accounts: a child blueprint and page rules)

__all__ = ["bp"]
