"""Domain errors raised by the services and turned into messages or HTTP answers by the views."""


class HeskError(Exception):
    """Base class: ``str(exc)`` is a message safe to show to the user."""


class TicketNotFound(HeskError):
    pass


class InvalidTicketData(HeskError):
    """The data for a ticket or reply was refused. ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class PermissionDenied(HeskError):
    pass


class AttachmentRefused(HeskError):
    pass
