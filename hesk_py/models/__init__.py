"""Every table of the help desk. Import models from here: ``from hesk_py.models import Ticket``."""
from hesk_py.models.canned import CannedResponse, TicketTemplate
from hesk_py.models.customers import (
    Customer, CustomerAuthToken, CustomerMfaBackupCode, CustomerMfaEmailCode, CustomerToken, PipeRejection,
)
from hesk_py.models.outbox import OUTBOX_FAILED, OUTBOX_QUEUED, OUTBOX_SENT, OutboxMessage
from hesk_py.models.custom_fields import CustomField
from hesk_py.models.email_templates import EmailTemplate
from hesk_py.models.inbound import InboundMail, QuarantinedMail
from hesk_py.models.jobs import JobRun
from hesk_py.models.knowledgebase import (
    KbArticle, KbArticleRevision, KbAttachment, KbCategory, KbTerm, KbVote,
)
from hesk_py.models.security import (
    BannedEmail, BannedIP, FailedAttempt, MutedEmail, RateLimitCounter, UsedFormToken,
)
from hesk_py.models.service_messages import ServiceMessage
from hesk_py.models.settings import Setting
from hesk_py.models.tickets import Attachment, Note, Reply, Ticket, TicketCount, TicketEvent, TicketFollower
from hesk_py.models.ticket_work import (
    ReplyDraft,
    TicketAlias,
    TicketBookmark,
    TicketLink,
    TicketTimer,
    TicketViewer,
)
from hesk_py.models.users import (
    AuthToken, MfaBackupCode, MfaEmailCode, PasswordReset, User, UserCategory, UserFeature,
    Group, GroupCategory, GroupFeature, UserGroup,
)
from hesk_py.models.workflow import Category, Priority, Status

__all__ = [
    "Attachment",
    "AuthToken",
    "BannedEmail",
    "BannedIP",
    "CannedResponse",
    "Category",
    "Customer",
    "CustomerAuthToken",
    "CustomerMfaBackupCode",
    "CustomerMfaEmailCode",
    "CustomerToken",
    "CustomField",
    "EmailTemplate",
    "FailedAttempt",
    "InboundMail",
    "JobRun",
    "KbArticle",
    "KbArticleRevision",
    "KbAttachment",
    "KbCategory",
    "KbTerm",
    "KbVote",
    "MfaBackupCode",
    "MfaEmailCode",
    "MutedEmail",
    "Note",
    "OUTBOX_FAILED",
    "OUTBOX_QUEUED",
    "OUTBOX_SENT",
    "OutboxMessage",
    "PasswordReset",
    "PipeRejection",
    "QuarantinedMail",
    "RateLimitCounter",
    "Priority",
    "Reply",
    "ReplyDraft",
    "ServiceMessage",
    "Setting",
    "Status",
    "Ticket",
    "TicketAlias",
    "TicketBookmark",
    "TicketCount",
    "TicketEvent",
    "TicketFollower",
    "TicketLink",
    "TicketTimer",
    "TicketTemplate",
    "TicketViewer",
    "UsedFormToken",
    "User",
    "Group",
    "GroupCategory",
    "GroupFeature",
    "UserGroup",
    "UserCategory",
    "UserFeature",
]
