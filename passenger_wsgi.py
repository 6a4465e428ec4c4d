"""The startup file for Phusion Passenger (cPanel "Setup Python App": Application startup file
``passenger_wsgi.py``, Application Entry point ``application``), or any WSGI server.

Passenger passes the address the app is mounted at (``/helpdesk``) as SCRIPT_NAME, so every link, redirect
and cookie the help desk makes stays under it. Before install the app serves the installer; once the
installer has written instance/config.ini the app rebuilds itself (hesk_py.wsgi) and touches
tmp/restart.txt, so Passenger restarts the other processes too.
"""
import os
import sys

# Passenger may start us from any working directory: import hesk_py, admin and install from this folder
# (first, so an older copy installed elsewhere in the virtualenv never wins).
HERE = os.path.dirname(os.path.abspath(__file__))
if not sys.path or sys.path[0] != HERE:
    sys.path.insert(0, HERE)

from hesk_py.wsgi import app as application  # noqa: E402  (needs the path above)

__all__ = ["application"]
