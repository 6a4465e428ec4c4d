"""The secret cron URL for hosts without cron (HESK's URL access key, ``url_key``): GET or POST
``/cron?key=KEY`` runs the same background jobs as ``hesk-py cron`` (``&job=NAME`` runs one) and answers
with one plain-text line per job.

The address does not exist (404) while ``url_key`` is empty or when the key is wrong, so it cannot be told
apart from any other unknown page; the key is compared in constant time. Visitors (and their browsers'
cookies) have no say here, so the form needs no CSRF token.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, request
from flask_babel import gettext as _

from hesk_py.extensions import csrf, limiter

bp = Blueprint("cron_url", __name__)


def _key_ok(given: str) -> bool:
    from hesk_py import settings

    expected = str(settings.get("url_key") or "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@bp.route("/cron", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit("30 per minute")
def run_jobs():
    if not current_app.config.get("HESK_INSTALLED"):
        abort(404)
    given = request.values.get("key", "")
    if not _key_ok(given):
        abort(404)
    from hesk_py.services import jobs

    name = request.values.get("job", "")
    if name and name not in jobs.JOBS:
        return _("Unknown job: %(name)s. Jobs: %(jobs)s", name=name, jobs=", ".join(jobs.JOBS)) + "\n", 400, \
            {"Content-Type": "text/plain; charset=utf-8"}
    if name:
        try:
            results = [(name, jobs.run(name), None)]
        except Exception as exc:
            current_app.logger.exception("cron job %s failed", name)
            results = [(name, None, type(exc).__name__)]
    else:
        results = jobs.run_all()
    lines = [f"{job}: {line}" if error is None else f"{job}: " + _("failed: %(error)s", error=error)
             for job, line, error in results]
    status = 500 if any(error for _job, _line, error in results) else 200
    return "\n".join(lines) + "\n", status, {"Content-Type": "text/plain; charset=utf-8",
                                             "Cache-Control": "no-store"}
