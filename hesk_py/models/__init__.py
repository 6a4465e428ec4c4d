"""Every table of the help desk. Import models from here: ``from hesk_py.models import Ticket``."""
from hesk_py.models.customers import Customer
from hesk_py.models.outbox import OUTBOX_FAILED, OUTBOX_QUEUED, OUTBOX_SENT, OutboxMessage
from hesk_py.models.security import FailedAttempt
from hesk_py.models.settings import Setting
from hesk_py.models.tickets import Attachment, Note, Reply, Ticket, TicketEvent
from hesk_py.models.users import User, UserCategory, UserFeature
from hesk_py.models.workflow import Category, Priority, Status

__all__ = [
    "Attachment",
    "Category",
    "Customer",
    "FailedAttempt",
    "Note",
    "OUTBOX_FAILED",
    "OUTBOX_QUEUED",
    "OUTBOX_SENT",
    "OutboxMessage",
    "Priority",
    "Reply",
    "Setting",
    "Status",
    "Ticket",
    "TicketEvent",
    "User",
    "UserCategory",
    "UserFeature",
]
