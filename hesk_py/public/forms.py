"""Forms of the customer side. Field names are fixed by INTERFACE.md (scripts and autofill rely on them).

The forms carry no validators of their own: the rules live in ``hesk_py/services/public.py`` and the
errors it returns are put back on the fields. The forms give labels, ids, rendering and the CSRF check
(the views are exempt from the global CSRF guard so that an expired session brings the form back with
what was typed instead of an error page).
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField, EmailField, HiddenField, MultipleFileField, PasswordField, SelectField, StringField, TextAreaField,
)


class SubmitTicketForm(FlaskForm):
    name = StringField(_l("Name"))
    email = EmailField(_l("Email"))
    email2 = EmailField(_l("Confirm email"))
    cc = StringField(_l("Cc / followers"))
    category = HiddenField()
    priority = SelectField(_l("Priority"), choices=[], validate_choice=False)
    subject = StringField(_l("Subject"))
    message = TextAreaField(_l("Message"))
    attachments = MultipleFileField(_l("Attachments"))
    captcha = StringField(_l("Type the number shown"))
    question = StringField(_l("Anti-SPAM question"))


class ReplyForm(FlaskForm):
    track = HiddenField()
    message = TextAreaField(_l("Message"))
    attachments = MultipleFileField(_l("Attachments"))


class TicketActionForm(FlaskForm):
    """Resolve, reopen or rate: the tracking ID and the CSRF token."""

    track = HiddenField()


class ForgotTrackingIdForm(FlaskForm):
    email = EmailField(_l("Email"))
    open_only = SelectField(_l("Which tickets"), choices=[("1", _l("Only my open tickets")),
                                                          ("0", _l("All my tickets"))])
    captcha = StringField(_l("Type the number shown"))


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[], validate_choice=False)
    next = HiddenField()


class ViewTicketForm(FlaskForm):
    """The look-up form (GET, no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    track = StringField(_l("Ticket tracking ID"))
    e = EmailField(_l("Email"))
    r = BooleanField(_l("Remember my email address"))


# --- customer accounts (hesk_py/public/accounts.py) ----------------------------------------------------
# As above, the rules live in the service (hesk_py/services/customer_accounts.py); these forms give the
# fields, labels and the CSRF check.

class CustomerLoginForm(FlaskForm):
    email = EmailField(_l("Email"))
    password = PasswordField(_l("Password"))
    remember = BooleanField(_l("Remember me"))


class RegisterForm(FlaskForm):
    name = StringField(_l("Name"))
    email = EmailField(_l("Email"))
    password = PasswordField(_l("Password"))
    confirm = PasswordField(_l("Confirm the password"))
    captcha = StringField(_l("Type the number shown"))
    question = StringField(_l("Anti-SPAM question"))


class EmailOnlyForm(FlaskForm):
    """Forgot password, send the confirmation link again: an address (and the anti-spam checks)."""

    email = EmailField(_l("Email"))
    captcha = StringField(_l("Type the number shown"))


class ConfirmRegistrationForm(FlaskForm):
    password = PasswordField(_l("Password"))


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"))
    confirm = PasswordField(_l("Confirm the new password"))


class CustomerProfileForm(FlaskForm):
    name = StringField(_l("Name"))
    language = SelectField(_l("Preferred language"), choices=[], validate_choice=False)


class CustomerPasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"))
    password = PasswordField(_l("New password"))
    confirm = PasswordField(_l("Confirm the new password"))


class EmailChangeForm(FlaskForm):
    new_email = EmailField(_l("New email address"))
    current_password = PasswordField(_l("Current password"))


class CustomerActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something (log out, send a code, new backup codes)."""


class CustomerCodeForm(FlaskForm):
    code = StringField(_l("Verification code"))


class CustomerPasswordCheckForm(FlaskForm):
    """The secure area's password prompt (HESK's elevator)."""

    password = PasswordField(_l("Password"))
