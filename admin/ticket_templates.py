"""Staff pages of the ticket templates: blueprint ``ticket_templates`` at /admin/ticket_templates
(``can_man_ticket_tpl``).

The same pages as the canned responses' (admin/canned.py builds both): list in order, create, edit,
delete, move up/down. A template fills the subject and message of the staff "New ticket" form.
"""
from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from admin.canned import Kind, TemplateForm, register_pages
from hesk_py.models.canned import TicketTemplate
from hesk_py.services import canned as service

bp = Blueprint("ticket_templates", __name__, url_prefix="/ticket_templates")

TEMPLATES = Kind(
    name="ticket_templates", model=TicketTemplate, feature="can_man_ticket_tpl", form=TemplateForm,
    tags=tuple(t for t in service.TAGS if t[0] in service.TEMPLATE_TAGS),
    labels={
        "list": _l("Ticket templates"),
        "lead": _l("Ready-made subjects and messages for tickets you open on a customer's behalf. Choose one "
                   "at the top of the New ticket form."),
        "new": _l("New ticket template"), "edit": _l("Edit ticket template"),
        "empty": _l("No ticket templates yet."),
        "created": _l("Ticket template \"%(title)s\" saved."), "saved": _l("Ticket template saved."),
        "deleted": _l("Ticket template \"%(title)s\" deleted."),
        "delete": _l("Delete ticket template"),
    },
)

register_pages(bp, TEMPLATES)
