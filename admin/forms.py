"""Forms of the staff panel."""
import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    SelectMultipleField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional
from markupsafe import Markup, escape
from wtforms.widgets import Select, TextInput, html_params


class LoginForm(FlaskForm):
    username = StringField(_l("Username or email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    remember = BooleanField(_l("Remember me"))


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a POST."""


# --- sign-in, second factor, password reset, re-authentication, profile (admin/auth.py, mfa.py, profile.py)

class ActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something."""


class MfaCodeForm(FlaskForm):
    code = StringField(_l("Verification code"), validators=[DataRequired(), Length(max=32)])


class ForgotPasswordForm(FlaskForm):
    username = StringField(_l("Username or email"), validators=[DataRequired(), Length(max=255)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(_l("Confirm the new password"), validators=[DataRequired(), Length(max=256)])


class ElevatorForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


def _language_choices():
    from hesk_py.i18n import LANGUAGES

    return [SelectChoice("", _l("The help desk's language"))] + [SelectChoice(code, name)
                                                                 for code, name in LANGUAGES.items()]


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=255)])
    email = StringField(_l("Email"), validators=[DataRequired(), Email(check_deliverability=False),
                                                 Length(max=255)])
    nickname = StringField(_l("Nickname"), validators=[Optional(), Length(max=255)])
    signature = TextAreaField(_l("Signature"), validators=[Optional(), Length(max=1000)])
    language = SelectField(_l("Language"), choices=[], validate_choice=True)
    current_password = PasswordField(_l("Current password (only to change the email address)"),
                                     validators=[Optional(), Length(max=256)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = _language_choices()


class PasswordForm(FlaskForm):
    old_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm_password = PasswordField(_l("Confirm the new password"), validators=[DataRequired(),
                                                                                  Length(max=256)])


class PreferencesForm(FlaskForm):
    afterreply = SelectField(_l("After replying to a ticket"), coerce=int, choices=[
        SelectChoice(0, _l("Show the ticket")), SelectChoice(1, _l("Go back to the ticket list")),
        SelectChoice(2, _l("Open the next ticket that needs my reply"))])
    autostart = BooleanField(_l("Start the time worked timer when I open a ticket"))
    notify_customer_new = BooleanField(_l("Tick \"notify the customer\" on new tickets I submit"))
    notify_customer_reply = BooleanField(_l("Tick \"notify the customer\" on my replies"))
    show_suggested = BooleanField(_l("Show suggested knowledgebase articles"))
    autoreload = IntegerField(_l("Reload the ticket list every (seconds, 0 = never)"),
                              validators=[NumberRange(min=0, max=86400)], default=0)


def _add_notify_fields():
    # one checkbox per HESK notify_* flag, in HESK's order
    from hesk_py.services.accounts import NOTIFY_FLAGS

    for key, label in NOTIFY_FLAGS.items():
        setattr(PreferencesForm, key, BooleanField(label))


_add_notify_fields()


# --- tickets (admin/tickets.py) ----------------------------------------------------------------------

_DURATION_RE = re.compile(r"^\s*(?:(\d{1,5}):)?(\d{1,2})(?::(\d{1,2}))?\s*$")


def parse_duration(text: str) -> int | None:
    """Seconds from HESK's time worked format: ``H:MM:SS``, ``H:MM`` or a number of minutes.
    None when it cannot be read."""
    text = (text or "").strip()
    if not text:
        return 0
    if text.isdigit():
        return int(text) * 60 if len(text) <= 6 else None
    match = _DURATION_RE.match(text)
    if not match:
        return None
    hours, minutes, seconds = match.group(1), match.group(2), match.group(3)
    if hours is None and seconds is None:
        return None
    if hours is None:  # "MM:SS" is ambiguous with H:MM; HESK's form always has H:MM:SS, so read H:MM
        hours, minutes, seconds = minutes, seconds, "0"
    h, m, s = int(hours), int(minutes), int(seconds or 0)
    if m > 59 or s > 59:
        return None
    return h * 3600 + m * 60 + s


def format_duration(seconds: int | None) -> str:
    seconds = int(seconds or 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class DurationField(Field):
    """A time worked as ``H:MM:SS``; ``data`` is seconds."""

    widget = TextInput()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return format_duration(self.data) if self.data is not None else "0:00:00"

    def process_formdata(self, valuelist):
        if valuelist:
            seconds = parse_duration(valuelist[0])
            if seconds is None:
                self.data = None
                raise ValueError(_l("Enter the time as hours:minutes:seconds, for example 1:30:00."))
            self.data = seconds


class FastSelect(Select):
    """WTForms' ``<select>``, the same HTML written out directly (its own writes every option through
    ``html_params``): the ticket page shows six selects with dozens of options."""

    def __call__(self, field, **kwargs):
        if self.multiple or field.has_groups():
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        for key in self.validation_attrs:
            if key not in kwargs and getattr(field.flags, key, False):
                kwargs[key] = getattr(field.flags, key)
        parts = [f"<select {html_params(name=field.name, **kwargs)}>"]
        for choice in field.iter_choices():
            if choice.render_kw:
                parts.append(self.render_option(choice))
                continue
            value = escape(str(choice.value) if isinstance(choice.value, bool) else choice.value)
            label = escape(choice.label or choice.value)
            selected = "selected " if choice.selected else ""
            parts.append(f'<option {selected}value="{value}">{label}</option>')
        parts.append("</select>")
        return Markup("".join(parts))


class ReplyForm(FlaskForm):
    message = TextAreaField(_l("Message"), validators=[Length(max=1_000_000)])
    attachments = MultipleFileField(_l("Attachments"))
    # ids of their own: the ticket page also has the status and priority forms of the sidebar
    status = SelectField(_l("Ticket status after this reply"), coerce=int, choices=[], id="reply-status",
                         widget=FastSelect())
    priority = SelectField(_l("Change priority to"), coerce=int, choices=[], id="reply-priority",
                           widget=FastSelect())
    notify = BooleanField(_l("Send an email notification of this reply to the customer"))
    sign = BooleanField(_l("Attach my signature"), default=True)
    assign_self = BooleanField(_l("Assign this ticket to myself"))
    time_spent = DurationField(_l("Time worked on this reply"), default=0)
    last_reply_id = HiddenField()
    submit = SubmitField(_l("Submit reply"))
    save_draft = SubmitField(_l("Save and continue later"))
    as_customer = SubmitField(_l("Submit as customer reply"))


class NoteForm(FlaskForm):
    message = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=1_000_000)], id="note-message")
    attachments = MultipleFileField(_l("Attachments"), id="note-attachments")


class EditNoteForm(FlaskForm):
    message = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=1_000_000)])


class EditMessageForm(FlaskForm):
    subject = StringField(_l("Subject"), validators=[Length(max=255)])
    message = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=1_000_000)])
    followers = TextAreaField(_l("Followers (Cc)"), validators=[Length(max=2000)],
                              description=_l("Email addresses of further customers who get the notifications "
                                             "too: one per line, or separated by commas."))


class EditReplyForm(FlaskForm):
    message = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=1_000_000)])


class AssignForm(FlaskForm):
    owner = SelectField(_l("Assigned to"), choices=[], widget=FastSelect())


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), coerce=int, choices=[], widget=FastSelect())


class PriorityForm(FlaskForm):
    priority = SelectField(_l("Priority"), coerce=int, choices=[], widget=FastSelect())


class CategoryForm(FlaskForm):
    category = SelectField(_l("Category"), coerce=int, choices=[], widget=FastSelect())


class DueDateForm(FlaskForm):
    due_date = DateField(_l("Due date"), validators=[Optional()])
    remove = SubmitField(_l("Remove the due date"))


class TimeWorkedForm(FlaskForm):
    time_worked = DurationField(_l("Time worked"), default=0)


class LinkForm(FlaskForm):
    other = StringField(_l("Link to ticket (tracking ID or number)"), validators=[DataRequired(), Length(max=20)])


class NewTicketForm(FlaskForm):
    name = StringField(_l("Customer name"), validators=[DataRequired(), Length(max=255)])
    email = StringField(_l("Customer email"), validators=[Optional(), Length(max=255)])
    followers = StringField(_l("Followers (Cc)"), validators=[Length(max=2000)],
                            description=_l("Email addresses of further customers, separated by commas."))
    category = SelectField(_l("Category"), coerce=int, choices=[])
    priority = SelectField(_l("Priority"), coerce=int, choices=[])
    status = SelectField(_l("Status"), coerce=int, choices=[])
    owner = SelectField(_l("Owner"), choices=[])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=255)])
    message = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=1_000_000)])
    attachments = MultipleFileField(_l("Attachments"))
    due_date = DateField(_l("Due date"), validators=[Optional()])
    notify = BooleanField(_l("Send an email notification to the customer"))
    show = BooleanField(_l("Show the ticket after submission"), default=True)


class DefaultViewForm(FlaskForm):
    """Save (or, with ``reset``, forget) the current list as the staff member's default view."""

    query = HiddenField()
    reset = SubmitField(_l("Reset the default view"))


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the SelectChoice objects WTForms wants (tuples are deprecated)."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class AutoReloadForm(FlaskForm):
    autoreload = SelectField(_l("Reload this list every"), coerce=int, choices=choices([
        (0, _l("never")), (30, _l("30 seconds")), (60, _l("1 minute")), (120, _l("2 minutes")),
        (300, _l("5 minutes")), (600, _l("10 minutes"))]))
    back = HiddenField()


# --- categories, statuses, priorities (admin/categories.py, statuses.py, priorities.py) --------------
# Lengths, uniqueness and choices are checked by hesk_py/services/workflow.py, whose messages go beside
# the fields; the selects' choices are filled by the views.

class ManageCategoryForm(FlaskForm):
    name = StringField(_l("Name"))
    is_public = SelectField(_l("Type"), choices=choices([
        ("1", _l("Public: customers can choose it")), ("0", _l("Private: staff only"))]))
    default_priority = SelectField(_l("Default priority"), validate_choice=False)
    autoassign = SelectField(_l("Auto-assign tickets"), choices=choices([
        ("off", _l("Off")), ("any", _l("To any staff member with access to the category")),
        ("only", _l("Only to the staff chosen below")), ("except", _l("To everyone except the staff chosen below"))]),
        validate_choice=False)
    autoassign_users = SelectMultipleField(_l("Staff"), coerce=str, validate_choice=False)
    due_amount = StringField(_l("Default due date: after"))
    due_unit = SelectField(_l("Unit"), choices=choices([
        ("day", _l("days")), ("week", _l("weeks")), ("month", _l("months"))]), validate_choice=False)


class DeleteCategoryForm(FlaskForm):
    move_to = SelectField(_l("Move its tickets to"), validate_choice=False)


class ManageStatusForm(FlaskForm):
    name = StringField(_l("Name"))
    color = StringField(_l("Colour"), render_kw={"type": "color"})
    kind = SelectField(_l("Class"), choices=choices([
        ("open", _l("Open")), ("waiting", _l("Waiting on the customer")), ("closed", _l("Closed"))]),
        validate_choice=False)
    can_customers_change = BooleanField(_l("Customers can set this status"))


class ManagePriorityForm(FlaskForm):
    name = StringField(_l("Name"))
    color = StringField(_l("Colour"), render_kw={"type": "color"})
    can_customers_select = BooleanField(_l("Customers can choose this priority"))


# --- the team and permission groups (admin/team.py) ----------------------------------------------------
# Lengths, uniqueness, the password rule and the team rules are checked by hesk_py/services/accounts.py,
# whose messages go beside the fields; the choices are filled by the view.

class StaffForm(FlaskForm):
    name = StringField(_l("Name"))
    email = StringField(_l("Email"))
    nickname = StringField(_l("Nickname (shown to customers instead of the name)"))
    username = StringField(_l("Username"))
    password = PasswordField(_l("Password"))
    confirm = PasswordField(_l("Confirm the password"))
    role = SelectField(_l("Role"), choices=choices([("staff", _l("Staff")), ("admin", _l("Administrator"))]),
                       validate_choice=False)
    categories = SelectMultipleField(_l("Categories"), coerce=str, validate_choice=False)
    features = SelectMultipleField(_l("Permissions"), coerce=str, validate_choice=False)
    groups = SelectMultipleField(_l("Permission groups"), coerce=str, validate_choice=False)
    autoassign = BooleanField(_l("Auto-assign tickets to this staff member"))
    signature = TextAreaField(_l("Signature"))


class PermissionGroupForm(FlaskForm):
    name = StringField(_l("Name"))
    description = StringField(_l("Description"))
    categories = SelectMultipleField(_l("Categories"), coerce=str, validate_choice=False)
    features = SelectMultipleField(_l("Permissions"), coerce=str, validate_choice=False)


# --- bans and mutes (admin/bans.py) -------------------------------------------------------------------
# What an email or IP may look like is checked by hesk_py/services/bans.py; its message goes beside the field.

class BanEmailForm(FlaskForm):
    email = StringField(_l("Email address or @domain"), validators=[Length(max=255)])


class BanIPForm(FlaskForm):
    ip = StringField(_l("IP address, range, CIDR block or wildcard"), validators=[Length(max=100)])


class MuteEmailForm(FlaskForm):
    email = StringField(_l("Email address or @domain"), validators=[Length(max=255)], id="mute-email")


# --- custom fields (admin/custom_fields.py) -----------------------------------------------------------
# Every rule (names, options, bounds, defaults) is checked by hesk_py/services/custom_fields.py, whose
# messages go beside the fields; the categories' choices are filled by the view.

CUSTOM_FIELD_TYPES = (
    ("text", _l("Text field")), ("textarea", _l("Large text box")), ("radio", _l("Radio buttons")),
    ("select", _l("Select box")), ("checkbox", _l("Checkboxes")), ("date", _l("Date")),
    ("email", _l("Email address")), ("hidden", _l("Hidden field")))


class CustomFieldForm(FlaskForm):
    type = SelectField(_l("Type"), choices=choices(CUSTOM_FIELD_TYPES), validate_choice=False)
    name_en = StringField(_l("Name (English)"))
    name_uk = StringField(_l("Name (Ukrainian)"))
    name_ru = StringField(_l("Name (Russian)"))
    name_bg = StringField(_l("Name (Bulgarian)"))
    name_lv = StringField(_l("Name (Latvian)"))
    enabled = BooleanField(_l("Enabled (shown on the forms)"), default=True)
    visibility = SelectField(_l("Visibility"), choices=choices([
        ("public", _l("Public: customers and staff fill it in")), ("staff", _l("Staff only"))]),
        validate_choice=False)
    required = SelectField(_l("Required"), choices=choices([
        ("never", _l("No")), ("customers", _l("Only for customers")), ("always", _l("Always"))]),
        validate_choice=False)
    place = SelectField(_l("Place on the form"), choices=choices([
        ("before", _l("Before the message")), ("after", _l("After the message"))]), validate_choice=False)
    category_mode = SelectField(_l("Categories"), choices=choices([
        ("all", _l("Every category")), ("chosen", _l("Only the categories chosen below"))]),
        validate_choice=False)
    categories = SelectMultipleField(_l("Chosen categories"), coerce=str, validate_choice=False)
    # the options of each type (the page shows those of the chosen type)
    max_length = StringField(_l("Maximum length (characters)"))
    default = StringField(_l("Default value"))
    rows = StringField(_l("Rows of the text box"))
    options = TextAreaField(_l("Options (one per line)"))
    no_default = BooleanField(_l("No option chosen by default"))
    select_prompt = BooleanField(_l("Begin with \"Click to select\""), default=True)
    date_min = StringField(_l("Earliest date"))
    date_max = StringField(_l("Latest date"))
    multiple = BooleanField(_l("Allow several addresses (separated by commas)"))


# --- customers (admin/customers.py) ----------------------------------------------------------------------

class CustomerForm(FlaskForm):
    """Create (name, email, language) or edit (and the account's state) a customer account."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=255)])
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    language = SelectField(_l("Language"), choices=[], validate_choice=True)
    status = SelectField(_l("Account"), choices=[], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = _language_choices()


class DeleteCustomerForm(FlaskForm):
    tickets = SelectField(_l("Their tickets"), choices=[
        SelectChoice("keep", _l("Keep them (the account goes; the tickets keep the name and address)")),
        SelectChoice("anonymize", _l("Anonymize them (name, address, messages and files removed)")),
        SelectChoice("delete", _l("Delete them for good"))], validate_choice=True, default="keep")
