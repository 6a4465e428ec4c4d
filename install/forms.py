"""Forms of the installer's pages. Password fields never send the typed value back to the browser."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, EmailField, IntegerField, PasswordField, RadioField, SelectField, StringField,
                     SubmitField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from hesk_py.i18n import LANGUAGES

REQUIRED = _l("This field is required.")


def _language_choices():
    return [SelectChoice(code, name) for code, name in LANGUAGES.items()]


class WelcomeForm(FlaskForm):
    language = SelectField(_l("Language"), choices=_language_choices, default="en")
    apply_language = SubmitField(_l("Change language"))
    install = SubmitField(_l("Install a new help desk"))
    upgrade = SubmitField(_l("Upgrade my help desk"))


class ServerForm(FlaskForm):
    """Only the CSRF token: "Continue" re-runs the check on the server."""

    back = SubmitField(_l("Back"))
    proceed = SubmitField(_l("Continue"))


class DatabaseForm(FlaskForm):
    kind = RadioField(_l("Database"), default="sqlite",
                      choices=[SelectChoice("sqlite", _l("SQLite: one file, nothing to set up (fine for small teams)")),
                               SelectChoice("mysql", _l("MySQL or MariaDB: for many staff and large help desks"))])
    sqlite_path = StringField(_l("Database file"), validators=[Length(max=1000)])
    host = StringField(_l("Host"), default="localhost", validators=[Length(max=255)])
    port = IntegerField(_l("Port"), default=3306,
                        validators=[Optional(), NumberRange(min=1, max=65535, message=_l("Use a port from 1 to "
                                                                                         "65535."))])
    name = StringField(_l("Database name"), validators=[Length(max=64)])
    user = StringField(_l("User"), validators=[Length(max=80)])
    password = PasswordField(_l("Password"), validators=[Length(max=255)])
    back = SubmitField(_l("Back"))
    proceed = SubmitField(_l("Continue"))
    use_existing = SubmitField(_l("Upgrade this help desk"))
    install_here = SubmitField(_l("Install a new help desk here"))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.kind.data == "mysql":
            for f in (self.host, self.name, self.user):
                if not (f.data or "").strip():
                    f.errors = list(f.errors) + [str(REQUIRED)]
                    ok = False
            if self.port.data is None and not self.port.errors:
                self.port.errors = list(self.port.errors) + [str(REQUIRED)]
                ok = False
        elif not (self.sqlite_path.data or "").strip():
            self.sqlite_path.errors = list(self.sqlite_path.errors) + [str(REQUIRED)]
            ok = False
        return ok


class HelpdeskForm(FlaskForm):
    title = StringField(_l("Help desk title"), default=lambda: str(_l("Help desk")),
                        validators=[DataRequired(message=REQUIRED), Length(max=255)])
    url = StringField(_l("Help desk URL"), validators=[DataRequired(message=REQUIRED), Length(max=255)])
    language = SelectField(_l("Default language"), choices=_language_choices, default="en")
    timezone = SelectField(_l("Time zone"), default="UTC")
    admin_name = StringField(_l("Your name"), validators=[DataRequired(message=REQUIRED), Length(max=255)])
    admin_email = EmailField(_l("Your email"), validators=[DataRequired(message=REQUIRED), Length(max=255)])
    admin_username = StringField(_l("Username"), validators=[DataRequired(message=REQUIRED), Length(max=50)])
    admin_password = PasswordField(_l("Password"), validators=[Length(max=256)])
    admin_password2 = PasswordField(_l("Password again"), validators=[Length(max=256)])
    back = SubmitField(_l("Back"))
    proceed = SubmitField(_l("Continue"))


class InstallForm(FlaskForm):
    back = SubmitField(_l("Back"))
    install = SubmitField(_l("Install now"))


class UpgradeForm(FlaskForm):
    old_secret_key = PasswordField(_l("Secret key from the old config.ini (optional)"),
                                   validators=[Optional(), Length(min=16, max=500)])
    backup_done = BooleanField(_l("I have a backup of the database and of the instance folder"),
                               validators=[InputRequired(message=_l("Confirm that you have a backup first."))])
    back = SubmitField(_l("Back"))
    upgrade = SubmitField(_l("Upgrade now"))


class ResetForm(FlaskForm):
    """Only the CSRF token: "Start over" forgets every answer."""
