"""Settings taking effect, one test per setting: set it (through the settings form or ``settings.save``),
then observe what changes for a browser: headers, cookies, redirects, pages, the cron run.

Also the registry of every declared key: each one either takes effect (listed in ``TAKES_EFFECT`` with
where) or is marked pending in hesk_py/settings.py and shown disabled on its tab with a note.
"""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select, update

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import Reply, Ticket
from hesk_py.models.types import utcnow
from hesk_py.models.workflow import STATUS_REPLIED, STATUS_RESOLVED
from tests.admin.test_settings import field, form_of, submit, words
from tests.conftest import ADMIN_PASSWORD, STAFF_PASSWORD

# Every declared setting that has an effect today, and where. A new setting must be added here (with a
# test of its effect) or be declared pending; test_every_setting_takes_effect_or_is_pending enforces it.
TAKES_EFFECT = {
    # General
    "site_title": "customer page header", "site_url": "customer page header", "hesk_title": "every page",
    "hesk_url": "links in emails", "webmaster_mail": "maintenance page", "language": "page language",
    "can_sel_lang": "language menu",
    # Help desk
    "max_listings": "staff list", "print_font_size": "print view", "autoclose": "hesk-py cron",
    "max_open": "customer form", "due_soon": "staff list", "new_top": "ticket view", "reply_top": "ticket view",
    "hide_replies": "ticket view", "limit_width": "ticket view stylesheet", "autologin": "login form",
    "autoassign": "new tickets", "require_email": "customer form", "require_owner": "staff reply",
    "require_subject": "customer form", "require_message": "customer form", "custclose": "customer ticket",
    "custopen": "customer ticket", "rating": "customer ticket", "cust_urgency": "customer form",
    "sequential": "ticket view", "time_worked": "reply form", "spam_notice": "confirmation page",
    "list_users": "login form", "short_link": "messages", "debug_mode": "500 page (administrators)",
    "extend_admin": "staff pages (keep-alive ping)", "staff_ticket_formatting": "staff replies",
    "submitting_wait": "customer form", "remember_custom_field_values": "customer form",
    "disable_autofill_customer": "customer form", "disable_autofill_admin": "staff new ticket form",
    "select_cat": "forms", "select_pri": "forms", "cat_show_select": "customer form",
    "staff_nicknames": "customer ticket",
    "barcode.print": "print view", "barcode.staff_only": "print view", "barcode.format": "print view",
    "barcode.width": "print view", "barcode.height": "print view", "barcode.color": "print view",
    "barcode.bg": "print view",
    "secimg_use": "customer form", "question_use": "customer form", "question_ask": "customer form",
    "question_ans": "customer form", "spam_min_fill_seconds": "customer form",
    "spam_tickets_per_hour": "customer form",
    "attempt_limit": "logins", "attempt_banmin": "logins", "flood": "replies", "reset_pass": "login page",
    "email_view_ticket": "customer ticket", "x_frame_opt": "response headers", "samesite": "cookies",
    "force_ssl": "redirect and cookies", "require_mfa": "staff login", "elevator_duration": "secure area",
    "attachments.use": "forms", "attachments.max_number": "forms", "attachments.max_size": "forms",
    "attachments.allowed_types": "forms", "attachments.attachment_in_email_type": "emails",
    "attachments.direct_attachment_in_email": "emails", "attachments.file_max_size": "emails",
    "attachments.direct_attachment_in_email_no_of_files": "emails", "attachments.first_x_attachments": "emails",
    # Look & feel
    "customer_theme": "customer pages", "theme_overrides.primary": "customer pages", "site_logo": "customer pages",
    "custom_header": "customer pages", "custom_footer": "customer pages",
    # Knowledgebase
    "kb_wysiwyg": "article editor",
    "kb_enable": "customer pages", "kb_recommendanswers": "customer form", "kb_rating": "articles",
    "kb_views": "articles", "kb_date": "articles", "kb_search": "knowledgebase", "kb_search_limit": "search",
    "kb_substrart": "lists", "kb_cols": "knowledgebase", "kb_numshow": "knowledgebase",
    "kb_index_popart": "home page", "kb_popart": "knowledgebase", "kb_index_latest": "home page",
    "kb_latest": "knowledgebase", "kb_related": "articles",
    # Email
    "noreply_mail": "emails", "noreply_name": "emails", "smtp": "sending", "smtp_host_name": "sending",
    "smtp_host_port": "sending", "smtp_timeout": "sending", "smtp_enc": "sending", "smtp_noval_cert": "sending",
    "smtp_user": "sending", "smtp_password": "sending",
    "imap_host_name": "Test connection", "imap_host_port": "Test connection", "imap_enc": "Test connection",
    "imap_noval_cert": "Test connection", "imap_user": "Test connection", "imap_password": "Test connection",
    "imap_mailbox": "Test connection", "pop3_host_name": "Test connection", "pop3_host_port": "Test connection",
    "pop3_tls": "Test connection", "pop3_user": "Test connection", "pop3_password": "Test connection",
    "notify_new": "emails", "notify_closed": "emails", "confirm_email": "customer form",
    "open_only": "forgot tracking ID", "email_formatting": "emails", "detect_typos": "customer and staff forms",
    "email_providers": "customer and staff forms",
    # email piping (tests/hesk_py/services/test_inbound.py, tests/hesk_py/test_cli_pipe.py)
    "email_piping": "hesk-py pipe", "strip_quoted": "email piping", "eml_req_msg": "email piping",
    "save_embedded": "email piping", "pipe_block_noreply": "email piping", "pipe_block_returned": "email piping",
    "pipe_block_duplicate": "email piping", "loop_hits": "email piping", "loop_time": "email piping",
    "notify_skip_spam": "email piping", "notify_spam_tags": "email piping",
    # IMAP/POP3 fetching and the cron URL (tests/email/test_fetch.py, tests/email/test_cron_jobs.py)
    "imap": "hesk-py cron", "imap_job_wait": "hesk-py cron", "imap_keep": "hesk-py cron", "pop3": "hesk-py cron",
    "pop3_job_wait": "hesk-py cron", "pop3_keep": "hesk-py cron", "url_key": "/cron",
    # ticket followers (tests/email/test_followers.py: the forms, the mail received over SMTP, piped email)
    "multi_eml": "customer and staff forms", "email_include_to": "email piping",
    "email_include_cc": "email piping", "email_max_recipients": "emails",
    # customer accounts (tests below; the flows in tests/public/test_accounts*.py, tests/admin/test_customers.py,
    # tests/email/test_customer_accounts_mail.py)
    "customer_accounts": "customer pages", "customer_accounts_registration": "register page",
    "customer_autologin": "customer login", "customer_accounts_allow_email_changes": "customer profile",
    "customer_accounts_verify_email_cooldown": "verification emails", "require_mfa_customers": "customer login",
    "customer_ticket_list": "My tickets", "extend_customer": "customer pages",
    "pipe_customer_rejection_notification": "email piping",
    "pipe_customer_rejection_email_cooldown_hours": "email piping",
    # Ticket list
    "ticket_list": "staff list", "submittedformat": "staff list", "format_submitted": "staff list",
    "updatedformat": "staff list", "format_updated": "staff list", "email_column": "staff list",
    # Misc
    "timezone": "every date", "format_time": "staff list (today)", "format_date": "dates",
    "format_timestamp": "ticket view", "time_display": "ticket view", "ip_whois": "ticket view",
    "maintenance_mode": "customer pages", "alink": "home page", "submit_notice": "customer form",
    "online": "staff home page", "online_min": "staff home page",
}


def test_every_setting_takes_effect_or_is_pending():
    declared = {d.key for d in settings.definitions()}
    pending = set(settings.pending_keys())
    assert not (set(TAKES_EFFECT) - declared), "listed here but not declared"
    assert not (set(TAKES_EFFECT) & pending), "listed as taking effect but marked pending"
    assert declared - set(TAKES_EFFECT) - pending == set(), "declared but neither taking effect nor pending"


# The test that proves each setting's effect (the audit of issue 7): key -> "file::test" (a table row of a
# parametrised test as "file::test[key]"), or (node, evidence) when the test sets the key through a helper and
# ``evidence`` is what in its source does it. test_every_setting_names_the_test_that_proves_it checks that
# each test exists and sets its key.
_E = "tests/admin/test_settings_effects.py::"
_PAGE = _E + "test_a_setting_changes_what_its_page_shows[{}]"
_S = "tests/admin/test_settings.py::"
_SUBMIT = "tests/public/test_submit_ticket.py::"
_VIEW = "tests/public/test_view_ticket.py::"
_SPAM = "tests/public/test_antispam.py::"
_KB = "tests/public/test_knowledgebase.py::"
_MAIL = "tests/email/test_settings_mail.py::"
_PIPE = "tests/hesk_py/services/test_inbound.py::"
_FETCH = "tests/email/test_fetch.py::"
_AUTH = "tests/admin/test_auth.py::"
EFFECT_TESTS = {
    # General
    "site_title": _S + "test_titles_and_site_link_appear_in_the_page_headers",
    "site_url": _S + "test_titles_and_site_link_appear_in_the_page_headers",
    "hesk_title": _S + "test_titles_and_site_link_appear_in_the_page_headers",
    "hesk_url": _MAIL + "test_from_address_and_name_and_the_help_desk_url_in_links",
    "webmaster_mail": _PAGE.format("webmaster_mail"),
    "language": _S + "test_default_language_sets_the_page_language",
    "can_sel_lang": "tests/public/test_home.py::test_the_language_picker_sets_a_cookie",
    # Help desk: settings and features
    "max_listings": _S + "test_max_listings_changes_the_length_of_the_staff_ticket_list",
    "print_font_size": _PAGE.format("print_font_size"),
    "autoclose": _E + "test_autoclose_resolves_tickets_waiting_on_the_customer_for_n_days",
    "max_open": _SPAM + "test_max_open_tickets_per_email",
    "due_soon": _PAGE.format("due_soon"),
    "new_top": _PAGE.format("new_top"),
    "reply_top": _PAGE.format("reply_top"),
    "hide_replies": _PAGE.format("hide_replies"),
    "limit_width": _E + "test_limit_width_sets_the_widest_ticket_message",
    "autologin": _AUTH + "test_no_remember_cookie_when_autologin_is_off",
    "autoassign": "tests/hesk_py/services/test_tickets.py::test_autoassign_respects_the_setting_and_the_category",
    "require_email": _E + "test_require_email_lets_customers_submit_without_an_email",
    "require_owner": _E + "test_staff_may_reply_only_to_tickets_assigned_to_them_with_require_owner",
    "require_subject": _SUBMIT + "test_subject_and_message_required_optional_or_hidden",
    "require_message": _SUBMIT + "test_subject_and_message_required_optional_or_hidden",
    "custclose": _VIEW + "test_custclose_and_custopen_settings",
    "custopen": _VIEW + "test_custclose_and_custopen_settings",
    "rating": _VIEW + "test_rate_a_staff_reply_once",
    "cust_urgency": _SUBMIT + "test_priority_only_when_customers_choose_it",
    "sequential": _PAGE.format("sequential"),
    "time_worked": _PAGE.format("time_worked"),
    "spam_notice": _SUBMIT + "test_no_spam_notice_when_turned_off",
    "list_users": _E + "test_list_users_shows_a_username_drop_down_on_the_login_page",
    "debug_mode": "tests/hesk_py/test_errors.py::test_in_debug_mode_an_administrator_sees_the_error_with_secrets_redacted",
    "short_link": _PAGE.format("short_link"),
    "submitting_wait": _PAGE.format("submitting_wait"),
    "remember_custom_field_values":
        "tests/public/test_custom_fields.py::test_custom_values_are_remembered_for_the_next_ticket",
    "disable_autofill_customer": _PAGE.format("disable_autofill_customer"),
    "disable_autofill_admin": _E + "test_disable_autofill_admin_turns_off_autocomplete_on_the_staff_new_ticket_form",
    "extend_admin": "tests/admin/test_sessions.py::test_extend_admin_pings_from_open_pages_to_keep_the_session",
    "select_cat": _PAGE.format("select_cat"),
    "select_pri": _PAGE.format("select_pri"),
    "cat_show_select": _SUBMIT + "test_many_categories_use_a_select_box",
    "staff_ticket_formatting": (
        "tests/admin/test_reply_formatting.py::test_markdown_replies_are_stored_as_typed_and_shown_as_sanitised_html",
        "_markdown_on(app)"),
    "multi_eml": _E + "test_ticket_followers_and_email_followers_set_on_the_settings_pages",
    "staff_nicknames": _VIEW + "test_staff_nicknames",
    # Help desk: barcode
    "barcode.print": _VIEW + "test_print_view_barcode",
    "barcode.staff_only": _VIEW + "test_print_view_barcode",
    "barcode.format": _VIEW + "test_print_view_barcode",
    "barcode.width": _E + "test_barcode_size_and_colours_shape_the_printed_code",
    "barcode.height": _E + "test_barcode_size_and_colours_shape_the_printed_code",
    "barcode.color": _E + "test_barcode_size_and_colours_shape_the_printed_code",
    "barcode.bg": _E + "test_barcode_size_and_colours_shape_the_printed_code",
    # Help desk: customer accounts
    "customer_accounts": _E + "test_customer_accounts_turns_the_account_pages_and_gates_on",
    "customer_accounts_registration": _E + "test_customer_accounts_registration_decides_who_creates_accounts",
    "customer_autologin": _E + "test_customer_autologin_offers_remember_me",
    "customer_accounts_allow_email_changes": _E + "test_customer_accounts_allow_email_changes_shows_the_form",
    "customer_accounts_verify_email_cooldown": _E + "test_customer_accounts_verify_email_cooldown_spaces_the_links",
    # Help desk: SPAM prevention
    "secimg_use": _SPAM + "test_the_captcha_image_and_answer",
    "question_use": _PAGE.format("question_use"),
    "question_ask": _SPAM + "test_the_question_cannot_carry_a_script",
    "question_ans": _SPAM + "test_the_question_cannot_carry_a_script",
    "spam_min_fill_seconds": _SPAM + "test_a_form_sent_too_fast_comes_back",
    "spam_tickets_per_hour": _SPAM + "test_per_address_limit_keeps_the_form",
    # Help desk: security
    "attempt_limit": _AUTH + "test_lockout_per_ip_after_attempt_limit",
    "attempt_banmin": _AUTH + "test_lockout_per_ip_after_attempt_limit",
    "flood": _SPAM + "test_flood_protection",
    "reset_pass": _AUTH + "test_reset_can_be_turned_off",
    "email_view_ticket": _VIEW + "test_without_email_view_ticket_the_tracking_id_is_enough",
    "x_frame_opt": _E + "test_x_frame_opt_decides_whether_other_sites_may_frame_the_help_desk",
    "samesite": _E + "test_samesite_applies_to_the_session_and_remember_me_cookies",
    "force_ssl": _E + "test_force_ssl_redirects_http_to_https_and_secures_cookies",
    "url_key": "tests/email/test_cron_jobs.py::test_cron_url_with_the_key_runs_the_jobs",
    "require_mfa": "tests/admin/test_mfa.py::test_require_mfa_forces_enrolment",
    "require_mfa_customers": _E + "test_require_mfa_customers_sends_customers_to_set_it_up",
    "elevator_duration": _AUTH + "test_secure_area_asks_for_the_password_after_elevator_duration",
    # Help desk: attachments
    "attachments.use": "tests/public/test_attachments.py::test_no_attachments_when_turned_off",
    "attachments.max_number": _PAGE.format("attachments.max_number"),
    "attachments.max_size": "tests/public/test_attachments.py::test_an_oversize_file_is_refused",
    "attachments.allowed_types": _PAGE.format("attachments.allowed_types"),
    "attachments.attachment_in_email_type": "tests/email/test_sending.py::test_attachments_are_attached_when_the_settings_say_so",
    "attachments.direct_attachment_in_email": _MAIL + "test_attaching_files_of_any_size",
    "attachments.file_max_size": _MAIL + "test_only_files_smaller_than_the_limit_are_attached",
    "attachments.direct_attachment_in_email_no_of_files": _MAIL + "test_how_many_files_are_attached",
    "attachments.first_x_attachments": _MAIL + "test_how_many_files_are_attached",
    # Look & feel
    "customer_theme": _S + "test_theme_accent_and_custom_html_change_customer_pages",
    "theme_overrides.primary": _S + "test_theme_accent_and_custom_html_change_customer_pages",
    "site_logo": _S + "test_logo_upload_replace_and_remove",
    "custom_header": _S + "test_theme_accent_and_custom_html_change_customer_pages",
    "custom_footer": _S + "test_theme_accent_and_custom_html_change_customer_pages",
    # Knowledgebase
    "kb_enable": _KB + "test_knowledgebase_off_means_404_everywhere",
    "kb_wysiwyg": "tests/admin/test_reply_formatting.py::test_kb_wysiwyg_gives_the_article_editor_a_toolbar_and_a_preview",
    "kb_recommendanswers": _SUBMIT + "test_the_form_asks_for_suggestions_only_when_the_knowledgebase_suggests",
    "kb_rating": _KB + "test_rating_off_hides_the_question",
    "kb_views": _KB + "test_article_page_shows_content_attachments_details_and_related",
    "kb_date": _KB + "test_article_page_shows_content_attachments_details_and_related",
    "kb_search": _KB + "test_search_can_be_turned_off",
    "kb_search_limit": _KB + "test_search_limit_preview_length_and_short_words",
    "kb_substrart": _KB + "test_search_limit_preview_length_and_short_words",
    "kb_cols": _KB + "test_kb_cols_numshow_popart_and_latest_take_effect",
    "kb_numshow": _KB + "test_kb_cols_numshow_popart_and_latest_take_effect",
    "kb_index_popart": _KB + "test_home_page_shows_top_and_latest_articles_when_the_knowledgebase_is_on",
    "kb_popart": _KB + "test_kb_cols_numshow_popart_and_latest_take_effect",
    "kb_index_latest": _KB + "test_home_page_shows_top_and_latest_articles_when_the_knowledgebase_is_on",
    "kb_latest": _KB + "test_kb_cols_numshow_popart_and_latest_take_effect",
    "kb_related": _KB + "test_views_and_dates_are_hidden_unless_enabled_and_related_can_be_turned_off",
    # Email: sending
    "noreply_mail": _MAIL + "test_from_address_and_name_and_the_help_desk_url_in_links",
    "noreply_name": _MAIL + "test_from_address_and_name_and_the_help_desk_url_in_links",
    "email_max_recipients": "tests/email/test_followers.py::test_email_max_recipients_caps_to_and_cc_together",
    "email_formatting": "tests/email/test_sending.py::test_the_html_part_follows_email_formatting",
    "smtp": _MAIL + "test_smtp_on_sends_through_the_server_and_off_does_not",
    "smtp_host_name": _MAIL + "test_smtp_host_and_port_choose_the_server",
    "smtp_host_port": _MAIL + "test_smtp_host_and_port_choose_the_server",
    "smtp_timeout": _MAIL + "test_smtp_timeout_is_how_long_a_silent_server_is_waited_for",
    "smtp_enc": _MAIL + "test_smtp_starttls_is_used_when_the_server_requires_it",
    "smtp_noval_cert": _MAIL + "test_smtp_ssl_and_not_validating_the_certificate",
    "smtp_user": _MAIL + "test_smtp_user_and_password_log_in",
    "smtp_password": _MAIL + "test_smtp_user_and_password_log_in",
    # Email: email to ticket
    "email_piping": ("tests/hesk_py/test_cli_pipe.py::test_email_piping_off_bounces_the_mail_back",
                     "Email piping is turned off"),
    "strip_quoted": _PIPE + "test_strip_quoted_off_keeps_the_quoted_history",
    "eml_req_msg": _PIPE + "test_eml_req_msg_ignores_mail_without_text",
    "save_embedded": _PIPE + "test_save_embedded_off_drops_inline_images",
    "email_include_to": "tests/email/test_followers.py::test_email_include_to_and_email_include_cc_each_decide_for_their_header",
    "email_include_cc": "tests/email/test_followers.py::test_email_include_to_and_email_include_cc_each_decide_for_their_header",
    # Email: IMAP and POP3 (the Test connection buttons, and fetching)
    "imap": (_FETCH + "test_imap_imports_each_message_and_deletes_it_after", "mailbox.imap_settings()"),
    "imap_job_wait": _FETCH + "test_task_timeout_0_always_starts_a_fetch",
    "imap_host_name": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "imap_host_port": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "imap_enc": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "imap_noval_cert": (_FETCH + "test_imap_over_ssl_and_starttls", "noval_cert=True"),
    "imap_keep": (_FETCH + "test_imap_keep_a_copy_marks_imported_mail_read_and_skips_it_next_time", "keep=True"),
    "imap_user": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "imap_password": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "imap_mailbox": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "pop3": (_FETCH + "test_pop3_imports_and_deletes", "mailbox.pop3_settings()"),
    "pop3_job_wait": _MAIL + "test_pop3_task_timeout",
    "pop3_host_name": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "pop3_host_port": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "pop3_tls": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "pop3_keep": (_FETCH + "test_pop3_keep_a_copy_leaves_mail_and_does_not_download_it_again", "keep=True"),
    "pop3_user": _FETCH + "test_connection_buttons_show_the_servers_answer",
    "pop3_password": _FETCH + "test_connection_buttons_show_the_servers_answer",
    # Email: ignore emails and prevent loops
    "pipe_block_noreply": _PIPE + "test_noreply_sender_is_ignored_unless_turned_off",
    "pipe_block_returned": _PIPE + "test_pipe_block_returned_off_files_auto_replies",
    "pipe_block_duplicate": _PIPE + "test_pipe_block_duplicate_ignores_identical_mail_with_a_new_message_id",
    "loop_hits": _PIPE + "test_loop_hits_zero_turns_loop_protection_off",
    "loop_time": _PIPE + "test_loop_time_is_the_window_of_loop_hits",
    "pipe_customer_rejection_notification": _E + "test_pipe_customer_rejection_settings",
    "pipe_customer_rejection_email_cooldown_hours": _E + "test_pipe_customer_rejection_settings",
    # Email: typos, notifications, other
    "detect_typos": "tests/public/test_email_typos.py::test_detect_typos_off_files_the_address_as_typed",
    "email_providers": "tests/public/test_email_typos.py::test_email_providers_is_the_list_compared_with",
    "notify_new": _S + "test_notify_new_decides_whether_customers_get_a_confirmation",
    "notify_skip_spam": _PIPE + "test_spam_tagged_subject_gets_no_confirmation",
    "notify_spam_tags": _PIPE + "test_notify_spam_tags_are_the_tags_looked_for",
    "notify_closed": _MAIL + "test_notify_closed_tells_the_customer_a_ticket_was_resolved",
    "confirm_email": _SUBMIT + "test_confirm_email",
    "open_only": _PAGE.format("open_only"),
    # Ticket list
    "ticket_list": "tests/admin/test_tickets_list.py::test_columns_and_dates_follow_the_settings",
    "customer_ticket_list": _E + "test_customer_ticket_list_chooses_the_my_tickets_columns",
    "submittedformat": "tests/admin/test_tickets_list.py::test_columns_and_dates_follow_the_settings",
    "format_submitted": "tests/admin/test_tickets_list.py::test_columns_and_dates_follow_the_settings",
    "updatedformat": _PAGE.format("updatedformat"),
    "format_updated": _PAGE.format("format_updated"),
    "email_column": "tests/admin/test_tickets_list.py::test_columns_and_dates_follow_the_settings",
    # Misc
    "timezone": _S + "test_timezone_changes_displayed_times",
    "format_time": _E + "test_format_time_shows_todays_times_in_the_staff_list",
    "format_date": _PAGE.format("format_date"),
    "format_timestamp": _E + "test_time_display_shows_time_ago_or_the_exact_time",
    "time_display": _E + "test_time_display_shows_time_ago_or_the_exact_time",
    "ip_whois": _E + "test_ip_whois_links_the_ticket_ip_address",
    "maintenance_mode": "tests/public/test_home.py::test_maintenance_mode",
    "alink": _PAGE.format("alink"),
    "submit_notice": _PAGE.format("submit_notice"),
    "online": "tests/admin/test_sessions.py::test_users_online_lists_staff_active_in_the_last_online_min_minutes",
    "online_min": "tests/admin/test_sessions.py::test_users_online_lists_staff_active_in_the_last_online_min_minutes",
    "extend_customer": _E + "test_extend_customer_keeps_an_open_page_logged_in",
}


def _test_source(path: str, name: str) -> str | None:
    """The source of a module-level test function: its decorators, its body, and the module-level tables its
    decorators name (a parametrised test's rows); None when there is no such test."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    file = root / path
    if not file.is_file():
        return None
    source = file.read_text(encoding="utf-8")
    tree = ast.parse(source)
    tables = {t.id: node for node in tree.body if isinstance(node, ast.Assign)
              for t in node.targets if isinstance(t, ast.Name)}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            parts = [ast.get_source_segment(source, node) or ""]
            for deco in node.decorator_list:
                parts.append(ast.get_source_segment(source, deco) or "")
                for used in ast.walk(deco):
                    if isinstance(used, ast.Name) and used.id in tables:
                        parts.append(ast.get_source_segment(source, tables[used.id]) or "")
            return "\n".join(parts)
    return None


def test_every_setting_names_the_test_that_proves_it():
    assert set(EFFECT_TESTS) == set(TAKES_EFFECT), "TAKES_EFFECT and EFFECT_TESTS name different keys"
    problems = []
    for key, entry in sorted(EFFECT_TESTS.items()):
        node, evidence = entry if isinstance(entry, tuple) else (entry, None)
        path, _sep, name = node.partition("::")
        name, _bracket, param = name.partition("[")
        source = _test_source(path, name)
        if source is None:
            problems.append(f"{key}: no test {node}")
            continue
        if param and param.rstrip("]") != key:
            problems.append(f"{key}: the row {param.rstrip(']')} of {name} is another setting's")
        wanted = [evidence] if evidence else [f'"{key}"', f"'{key}'", f"{key}=", f'"{key.replace(".", "__")}"']
        if not any(w in source for w in wanted):
            problems.append(f"{key}: {node} does not set it")
    assert not problems, "\n".join(problems)


@pytest.fixture
def admin_in(admin, login):
    login("admin")
    return admin


def _save(app, **values):
    with app.test_request_context():
        settings.save({k.replace("__", "."): v for k, v in values.items()})


# --- pending settings on their tabs ----------------------------------------------------------------

def test_pending_settings_are_shown_disabled_with_a_note(app, client, admin_in, monkeypatch):
    # every pending setting; when none is left (every setting takes effect), one is made pending to see how
    # the page shows such a setting
    from dataclasses import replace

    for key in sorted(settings.pending_keys()) or ["online_min", "customer_ticket_list"]:
        d = settings.definition(key)
        if not d.pending:
            d = replace(d, pending="a feature still being built")
            monkeypatch.setitem(settings._REGISTRY, key, d)
        html = client.get(f"/admin/settings/{d.tab}").get_data(as_text=True)
        block = html[html.index(f'id="setting-{d.field_name}"'):]
        block = block[:block.index('<div class="setting field', 10)] if '<div class="setting field' in block[10:] else block
        assert re.search(r"<fieldset disabled", block), f"{key} is editable"
        assert f"Takes effect when {d.pending} is available." in unescape(block)


def test_a_pending_setting_keeps_its_stored_value_when_its_tab_is_saved(app, client, admin_in, monkeypatch):
    # which settings are pending changes as features land: one is made pending for this test
    from dataclasses import replace

    d = replace(settings.definition("multi_eml"), pending="a feature still being built")
    monkeypatch.setitem(settings._REGISTRY, d.key, d)
    _save(app, **{d.field_name: True})
    # a browser sends nothing for disabled fields: the stored value must survive the save
    data = form_of(client.get(f"/admin/settings/{d.tab}").get_data(as_text=True))
    data.poplist(d.field_name)
    assert client.post(f"/admin/settings/{d.tab}", data=data).status_code == 302
    with app.test_request_context():
        assert settings.get(d.key) is True


# --- security: frames, cookies, https --------------------------------------------------------------

def test_x_frame_opt_decides_whether_other_sites_may_frame_the_help_desk(app, client, admin_in):
    resp = client.get("/")
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
    assert submit(client, "help_desk", {"x_frame_opt": None}).status_code == 302
    for url in ("/", "/admin/settings/help_desk"):
        resp = client.get(url)
        assert "X-Frame-Options" not in resp.headers
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors" not in csp and "default-src 'self'" in csp and "script-src 'self'" in csp


def _cookie_headers(resp) -> list[str]:
    return resp.headers.getlist("Set-Cookie")


@pytest.mark.parametrize("value", ["Strict", "Lax"])
def test_samesite_applies_to_the_session_and_remember_me_cookies(app, client, admin, csrf, value):
    _save(app, samesite=value)
    token = csrf(client, "/admin/login")
    login_page_cookies = _cookie_headers(client.get("/admin/login"))
    resp = client.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                             "csrf_token": token, "remember": "y"})
    cookies = _cookie_headers(resp) + login_page_cookies
    assert cookies, "no cookie was set"
    for header in cookies:
        assert f"SameSite={value}" in header, header


def test_samesite_none_makes_every_cookie_secure(app, client):
    _save(app, hesk_url="https://help.example.com", samesite="None")
    resp = client.get("/admin/login")
    cookies = _cookie_headers(resp)
    assert cookies and all("SameSite=None" in c and "Secure" in c for c in cookies), cookies


def test_force_ssl_redirects_http_to_https_and_secures_cookies(app, client):
    resp = client.get("/knowledgebase?x=1")
    assert resp.status_code != 301
    _save(app, hesk_url="https://help.example.com", force_ssl=True)
    resp = client.get("/submit_ticket?category=1")
    assert resp.status_code == 301
    assert resp.headers["Location"] == "https://localhost/submit_ticket?category=1"
    secure = client.get("/admin/login", base_url="https://localhost")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert all("Secure" in c for c in _cookie_headers(secure))


def test_force_ssl_ignores_forwarded_proto_without_a_trusted_proxy(app, client):
    _save(app, hesk_url="https://help.example.com", force_ssl=True)
    resp = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert resp.status_code == 301


# --- auto-close ------------------------------------------------------------------------------------

def _staff_reply(app, trackid, user_id, days_ago):
    from hesk_py.models import User
    from hesk_py.services import tickets

    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        reply = tickets.add_reply(ticket, message="Did that help?",
                                  actor=tickets.Actor.staff(db.session.get(User, user_id)))
        when = utcnow() - timedelta(days=days_ago)
        db.session.execute(update(Reply).where(Reply.id == reply.id).values(created_at=when))
        db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(updated_at=when))
        db.session.commit()


def _status(app, trackid):
    with app.app_context():
        return db.session.scalar(select(Ticket.status_id).where(Ticket.trackid == trackid))


def test_autoclose_resolves_tickets_waiting_on_the_customer_for_n_days(app, client, admin_in, make_ticket, runner):
    old, recent, customer_last = make_ticket(), make_ticket(), make_ticket()
    _staff_reply(app, old, admin_in, days_ago=8)
    _staff_reply(app, recent, admin_in, days_ago=2)
    _staff_reply(app, customer_last, admin_in, days_ago=30)
    from hesk_py.services import tickets

    with app.app_context():  # the customer answered: the ticket waits for staff, not for the customer
        t = db.session.scalar(select(Ticket).where(Ticket.trackid == customer_last))
        tickets.add_reply(t, message="No, it did not.", actor=tickets.Actor.customer("Casey Customer"))

    result = runner.invoke(args=["cron"])  # off by default
    assert "autoclose: off" in result.output
    assert _status(app, old) == STATUS_REPLIED

    assert submit(client, "help_desk", {"autoclose": "7"}).status_code == 302
    result = runner.invoke(args=["cron"])
    assert result.exit_code == 0, result.output
    assert "autoclose: 1 ticket resolved" in result.output
    assert _status(app, old) == STATUS_RESOLVED
    assert _status(app, recent) == STATUS_REPLIED
    assert _status(app, customer_last) != STATUS_RESOLVED
    history = words(client.get(f"/admin/tickets/{old}/history"))
    assert "automatically" in history
    # the customer is told, as for any resolved ticket (notify_closed)
    from hesk_py.models import OutboxMessage

    with app.app_context():
        templates = db.session.scalars(select(OutboxMessage.template)).all()
    assert "ticket_closed" in templates


# --- staff pages -----------------------------------------------------------------------------------

def test_list_users_shows_a_username_drop_down_on_the_login_page(app, client, admin, make_user):
    make_user("bob")
    page = client.get("/admin/login").get_data(as_text=True)
    assert '<select id="username"' not in page and 'name="username"' in page
    _save(app, list_users=True)
    page = client.get("/admin/login").get_data(as_text=True)
    assert '<select id="username" name="username"' in page
    assert '<option value="admin"' in page and '<option value="bob"' in page
    # logging in from the list works
    from tests.conftest import csrf_token_from

    resp = client.post("/admin/login", data={"username": "bob", "password": STAFF_PASSWORD,
                                             "csrf_token": csrf_token_from(page)})
    assert resp.status_code == 302


def test_disable_autofill_admin_turns_off_autocomplete_on_the_staff_new_ticket_form(app, client, admin_in):
    form = re.compile(r'<form method="post" action="/admin/tickets/new"[^>]*>')
    page = client.get("/admin/tickets/new").get_data(as_text=True)
    assert 'autocomplete="off"' not in form.search(page).group(0)
    assert submit(client, "help_desk", {"disable_autofill_admin": "1"}).status_code == 302
    page = client.get("/admin/tickets/new").get_data(as_text=True)
    assert 'autocomplete="off"' in form.search(page).group(0)


def test_ip_whois_links_the_ticket_ip_address(app, client, admin_in, make_ticket):
    trackid = make_ticket(ip="203.0.113.7")
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert 'href="https://whois.domaintools.com/203.0.113.7"' in page
    assert submit(client, "misc", {"ip_whois": "https://ipinfo.example/lookup?q={IP}"}).status_code == 302
    page = unescape(client.get(f"/admin/tickets/{trackid}").get_data(as_text=True))
    assert 'href="https://ipinfo.example/lookup?q=203.0.113.7" rel="noreferrer noopener"' in page


def test_time_display_shows_time_ago_or_the_exact_time(app, client, admin_in, make_ticket):
    trackid = make_ticket()
    with app.app_context():
        db.session.execute(update(Ticket).where(Ticket.trackid == trackid).values(
            created_at=utcnow().replace(microsecond=0) - timedelta(hours=5)))
        db.session.commit()
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    head = page[page.index('id="original-message"'):page.index("</header>", page.index('id="original-message"'))]
    assert "5 hours ago" in head and 'title="' in head
    assert submit(client, "misc", {"time_display": "0", "format_timestamp": "%d.%m.%Y at %H:%M"}).status_code == 302
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    head = page[page.index('id="original-message"'):page.index("</header>", page.index('id="original-message"'))]
    assert "hours ago" not in head
    assert re.search(r">\d\d\.\d\d\.\d{4} at \d\d:\d\d</time>", head)


def test_format_time_shows_todays_times_in_the_staff_list(app, client, admin_in, make_ticket):
    make_ticket()

    def updated() -> str:  # the "Updated" cell of the list, as read
        html = client.get("/admin/").get_data(as_text=True)
        return unescape(re.sub(r"<[^>]+>", "", re.search(r'class="col-lastchange">(.*?)</td>', html).group(1)))

    assert re.fullmatch(r"\d\d:\d\d:\d\d", updated())
    assert submit(client, "misc", {"format_time": "%H.%M h"}).status_code == 302
    assert re.fullmatch(r"\d\d\.\d\d h", updated())


def test_limit_width_sets_the_widest_ticket_message(app, client, admin_in, make_ticket):
    trackid = make_ticket()
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    assert 'href="/admin/display.css"' in page
    assert ".message-text { max-width: 800px; }" in client.get("/admin/display.css").get_data(as_text=True)
    assert submit(client, "help_desk", {"limit_width": "0"}).status_code == 302
    assert ".message-text { max-width: none; }" in client.get("/admin/display.css").get_data(as_text=True)
    assert submit(client, "help_desk", {"limit_width": "640"}).status_code == 302
    assert ".message-text { max-width: 640px; }" in client.get("/admin/display.css").get_data(as_text=True)


# --- settings that change what a page shows: set one, open its page, see the difference ---------------

def _replies(app, trackid, *texts):
    from hesk_py.models import User
    from hesk_py.services import tickets

    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        staff = db.session.scalar(select(User).where(User.username == "admin"))
        for text in texts:
            tickets.add_reply(ticket, message=text, actor=tickets.Actor.staff(staff))
            ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))


def _due_in(app, trackid, days):
    with app.app_context():
        db.session.execute(update(Ticket).where(Ticket.trackid == trackid).values(
            due_date=utcnow() + timedelta(days=days)))
        db.session.commit()


def _second_category(app):
    from hesk_py.models import Category

    with app.app_context():
        db.session.add(Category(name="Billing", sort_order=50, is_public=True, default_priority_id=3))
        db.session.commit()


LONG_URL = "https://docs.example.com/printers/troubleshooting/" + "paper-jam-" * 6 + "guide.html"

# key, value, page, shown before only (regex), shown after only (regex), other settings, what the page needs
PAGE_SETTINGS = [
    ("print_font_size", 18, "customer_print", r'data-font-size="12"', r'data-font-size="18"', {}, None),
    ("sequential", False, "staff_ticket", r"Ticket number: <strong>\d+</strong>", None, {}, None),
    ("submitting_wait", False, "form", r'data-wait="Submitting, please wait\.\.\."', r'data-wait=""', {}, None),
    ("disable_autofill_customer", True, "form", None, r'<form class="card ticket-form"[^>]*autocomplete="off"', {},
     None),
    ("select_pri", True, "form", None, r'name="priority"[^>]*><option value="">- - Click to select', {},
     None),
    ("select_cat", True, "categories", None, r'<option value="">- - Click to select - -</option>',
     {"cat_show_select": 0}, "two categories"),
    ("submit_notice", True, "form", None, r"We have recorded your IP address", {}, None),
    ("alink", False, "home", r'href="/admin/login">Go to the staff panel', None, {}, None),
    ("time_worked", False, "staff_ticket", r'name="time_spent"', None, {}, None),
    ("short_link", True, "customer_ticket", r">https://docs\.example\.com/printers/[^<]{60,}</a>",
     r">https://docs\.example\.com/printers/troub[^<]*…[^<]*guide\.html</a>", {}, "a long link"),
    ("webmaster_mail", "help@acme.example", "customer_home", r"Urgent\? Write to support@example\.com",
     r"Urgent\? Write to help@acme\.example", {"maintenance_mode": True}, None),
    ("require_owner", True, "staff_ticket", None, r"This ticket must be assigned to you before you reply", {},
     None),
    ("reply_top", 1, "staff_ticket", r'id="original-message".*id="reply-title"', r'id="reply-title".*id="original-message"',
     {}, None),
    ("new_top", 1, "staff_ticket", r"First answer.*Second answer", r"Second answer.*First answer", {}, "two replies"),
    ("hide_replies", 1, "staff_ticket", r"First answer", r"Show 1 previous reply", {}, "two replies"),
    ("due_soon", 14, "staff_list", r'view=due_soon"[^>]*>Due soon <span class="count">0<',
     r'view=due_soon"[^>]*>Due soon <span class="count">1<', {}, "due in 10 days"),
    ("updatedformat", 3, "staff_list", None, r">\d{4}-\d\d-\d\d</", {}, None),
    ("format_date", "%d/%m/%Y", "staff_list", r">\d{4}-\d\d-\d\d</", r">\d\d/\d\d/\d{4}</", {"updatedformat": 3}, None),
    ("format_updated", "%Y.%m.%d (upd)", "staff_list", r">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</",
     r">\d{4}\.\d\d\.\d\d \(upd\)</", {"updatedformat": 4}, None),
    ("require_email", False, "form", r'<input[^>]*required[^>]*name="email"|<input[^>]*name="email"[^>]*required',
     None, {"email_view_ticket": False}, None),
    ("question_use", True, "form", None, r"<label for=\"question\">Type <i>PB6YM</i> here to fight SPAM:", {}, None),
    ("attachments.max_number", 5, "form", r"Up to 2 files", r"Up to 5 files", {}, None),
    ("attachments.allowed_types", ".pdf,.png", "form", r'accept="\.gif,\.jpg', r'accept="\.pdf,\.png"', {}, None),
    ("open_only", False, "forgot", r'<option selected value="1">', r'<option selected value="0">', {}, None),
]


@pytest.mark.parametrize("key,value,page,before,after,others,needs", PAGE_SETTINGS,
                         ids=[row[0] for row in PAGE_SETTINGS])
def test_a_setting_changes_what_its_page_shows(app, admin, login, make_ticket, key, value, page, before, after,
                                               others, needs):
    message = f"See {LONG_URL} for the steps." if needs == "a long link" else "It started smoking."
    trackid = make_ticket(message=message, email="casey@example.com", autoassign=False)
    if needs == "two replies":
        _replies(app, trackid, "First answer", "Second answer")
    if needs == "due in 10 days":
        _due_in(app, trackid, 10)
    if needs == "two categories":
        _second_category(app)
    if others:
        _save(app, **others)
    staff, customer = app.test_client(), app.test_client()
    token = staff.get("/admin/login").get_data(as_text=True)
    from tests.conftest import csrf_token_from

    assert staff.post("/admin/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                            "csrf_token": csrf_token_from(token)}).status_code == 302
    urls = {"form": (customer, "/submit_ticket?category=1"), "categories": (customer, "/submit_ticket"),
            "home": (customer, "/"), "customer_home": (customer, "/"),
            "customer_ticket": (customer, f"/ticket?track={trackid}&e=casey@example.com"),
            "customer_print": (customer, f"/ticket/print?track={trackid}&e=casey@example.com"),
            "staff_ticket": (staff, f"/admin/tickets/{trackid}"), "staff_list": (staff, "/admin/"),
            "forgot": (customer, "/forgot_tracking_id")}
    browser, url = urls[page]

    def shown() -> str:
        return browser.get(url).get_data(as_text=True)

    old = shown()
    _save(app, **{key: value})
    new = shown()
    assert before or after
    if before:
        assert re.search(before, old, re.S), f"{key}: not on the page before"
        assert not re.search(before, new, re.S), f"{key}: still on the page after"
    if after:
        assert re.search(after, new, re.S), f"{key}: not on the page after"
        assert not re.search(after, old, re.S), f"{key}: already on the page before"


def test_barcode_size_and_colours_shape_the_printed_code(app, make_ticket):
    trackid = make_ticket(email="casey@example.com")
    _save(app, **{"barcode.print": True})
    customer = app.test_client()

    def code():
        html = customer.get(f"/ticket/print?track={trackid}&e=casey@example.com").get_data(as_text=True)
        svg = re.search(r'<svg width="(\d+)" height="(\d+)" class="barcode">.*?<path fill="([^"]+)".*?stroke="([^"]+)"',
                        html, re.S)
        assert svg, "no barcode"
        return int(svg.group(1)), svg.group(3), svg.group(4)

    width, light, dark = code()
    assert (light, dark) == ("#fff", "#000")  # white and black
    _save(app, **{"barcode.height": 400, "barcode.width": 400})
    assert code()[0] > width * 3  # drawn as large as fits in 400 x 400 instead of 300 x 80
    _save(app, **{"barcode.width": 40})
    assert code()[0] < width  # the smaller side decides
    _save(app, **{"barcode.color": "#ff0000", "barcode.bg": "#00ff00"})
    assert code()[1:] == ("#0f0", "red")


def test_require_email_lets_customers_submit_without_an_email(app, client):
    from tests.public.conftest import ANSWER, hidden_fields

    _save(app, spam_min_fill_seconds=0, secimg_use=0, question_use=True, flood=0)

    def submit(email):
        hidden = hidden_fields(client.get("/submit_ticket?category=1").get_data(as_text=True))
        return client.post("/submit_ticket", data={**hidden, "name": "Nomail Nora", "email": email,
                                                   "subject": "No email", "message": "Call me.", "question": ANSWER})

    resp = submit("")
    assert resp.status_code == 400 and "Please enter your email address." in unescape(resp.get_data(as_text=True))
    _save(app, email_view_ticket=False, require_email=False)
    assert submit("").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Ticket.email).where(Ticket.name == "Nomail Nora")) in ("", None)


def test_staff_may_reply_only_to_tickets_assigned_to_them_with_require_owner(app, client, admin_in, make_ticket):
    trackid = make_ticket(autoassign=False)
    _save(app, require_owner=True, flood=0)
    page = client.get(f"/admin/tickets/{trackid}").get_data(as_text=True)
    from tests.conftest import csrf_token_from

    data = {"csrf_token": csrf_token_from(page), "message": "Hello", "status": str(STATUS_REPLIED), "priority": "0",
            "submit": "y", "last_reply_id": "0"}
    resp = client.post(f"/admin/tickets/{trackid}/reply", data=data)
    assert resp.status_code == 409
    assert "must be assigned to you before you can reply" in unescape(resp.get_data(as_text=True))
    assert client.post(f"/admin/tickets/{trackid}/reply", data={**data, "assign_self": "y"}).status_code == 302
    with app.app_context():
        t = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
        assert t.owner_id == admin_in and t.reply_count == 1


# --- ticket followers (more in tests/email/test_followers.py and tests/public/test_followers.py) -----------

def test_ticket_followers_and_email_followers_set_on_the_settings_pages(app, client, admin_in, smtp_server):
    from hesk_py.services import followers, mailer, tickets
    from hesk_py.services.inbound import import_message
    from tests.email.test_fetch import eml

    assert 'name="cc"' not in client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'name="followers"' not in client.get("/admin/tickets/new").get_data(as_text=True)
    assert submit(client, "help_desk", {"multi_eml": "1"}).status_code == 302
    assert 'name="cc"' in client.get("/submit_ticket?category=1").get_data(as_text=True)
    assert 'name="followers"' in client.get("/admin/tickets/new").get_data(as_text=True)
    # email_include_cc: the Cc of a piped email become followers; email_max_recipients 2: one of them in Cc
    assert submit(client, "email", {"email_include_cc": "1", "email_max_recipients": "2",
                                    "imap_user": "support@helpdesk.example"}).status_code == 302
    with app.app_context():
        result = import_message(eml("cc_followers"), channel="pipe")
        ticket = tickets.get_ticket(result.trackid)
        assert [c.email for c in followers.followers_of(ticket)] == [
            "ursula@client.example", "spammer@junk.example", "desk-imap@helpdesk.example"]
        assert mailer.deliver_due()["sent"] >= 1
    mail = next(m for m in smtp_server.wait_for(1) if m["To"] == "paula@client.example")
    assert mail["Cc"] == "ursula@client.example"


# --- customer accounts --------------------------------------------------------------------------------

def _account(app, smtp_server, client=None, **values):
    from tests.public.accounts_helpers import accounts_on, make_account

    accounts_on(app, **values)
    return make_account(app, client or app.test_client(), smtp_server)


def test_customer_accounts_turns_the_account_pages_and_gates_on(app, client, admin_in):
    assert app.test_client().get("/login").status_code == 404
    assert submit(client, "help_desk", {"customer_accounts": "1"}).status_code == 302
    visitor = app.test_client()
    assert visitor.get("/login").status_code == 200 and "Log in" in words(visitor.get("/"))
    assert visitor.get("/submit_ticket").status_code == 200
    assert submit(client, "help_desk", {"customer_accounts": "2"}).status_code == 302
    assert visitor.get("/submit_ticket").status_code == 302 and visitor.get("/").status_code == 200
    assert submit(client, "help_desk", {"customer_accounts": "3"}).status_code == 302
    assert visitor.get("/").status_code == 302


def test_customer_accounts_registration_decides_who_creates_accounts(app, client, admin_in):
    submit(client, "help_desk", {"customer_accounts": "1", "customer_accounts_registration": "0"})
    visitor = app.test_client()
    assert visitor.get("/register").status_code == 200
    submit(client, "help_desk", {"customer_accounts_registration": "2"})
    assert visitor.get("/register").status_code == 404 and "Register" not in words(visitor.get("/"))


def test_customer_autologin_offers_remember_me(app, client, smtp_server):
    from tests.public.accounts_helpers import login, logout

    _account(app, smtp_server, client)
    logout(client)
    login(client, remember=True)
    assert client.get_cookie("hesk_customer_remember") is not None
    _save(app, customer_autologin=False)
    logout(client)
    login(client, remember=True)
    assert client.get_cookie("hesk_customer_remember") is None


def test_customer_accounts_allow_email_changes_shows_the_form(app, smtp_server):
    customer = app.test_client()
    _account(app, smtp_server, customer)
    assert "Change your email address" in words(customer.get("/profile"))
    _save(app, customer_accounts_allow_email_changes=False)
    assert "Change your email address" not in words(customer.get("/profile"))


def test_customer_accounts_verify_email_cooldown_spaces_the_links(app, smtp_server):
    from sqlalchemy import func as sa_func

    from hesk_py.models import OutboxMessage
    from tests.public.accounts_helpers import accounts_on, form_fields, register

    def links():
        with app.app_context():
            return db.session.scalar(select(sa_func.count()).select_from(OutboxMessage).where(
                OutboxMessage.template == "customer_verify_registration"))

    def resend(c):
        c.post("/verify", data={**form_fields(c, "/verify"), "email": "casey@example.com"})

    accounts_on(app, customer_accounts_verify_email_cooldown=60)
    visitor = app.test_client()
    register(visitor)
    resend(visitor)
    assert links() == 1
    _save(app, customer_accounts_verify_email_cooldown=0)
    resend(visitor)
    assert links() == 2


def test_require_mfa_customers_sends_customers_to_set_it_up(app, smtp_server):
    customer = app.test_client()
    _account(app, smtp_server, customer)
    assert customer.get("/my-tickets").status_code == 200
    _save(app, require_mfa_customers=True)
    resp = customer.get("/my-tickets")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/mfa")


def test_customer_ticket_list_chooses_the_my_tickets_columns(app, smtp_server, make_ticket):
    make_ticket(subject="Column test")
    customer = app.test_client()
    _account(app, smtp_server, customer)
    html = customer.get("/my-tickets").get_data(as_text=True)
    assert 'class="col-trackid"' in html and 'class="col-category"' not in html
    _save(app, customer_ticket_list=["subject", "category", "priority"])
    html = customer.get("/my-tickets").get_data(as_text=True)
    assert 'class="col-category"' in html and 'class="col-priority"' in html and 'class="col-trackid"' not in html
    assert "General" in words(customer.get("/my-tickets"))


def test_extend_customer_keeps_an_open_page_logged_in(app, smtp_server):
    customer = app.test_client()
    _account(app, smtp_server, customer)
    _save(app, extend_customer=True)
    html = customer.get("/").get_data(as_text=True)
    assert 'class="keepalive"' in html and 'src="/keepalive"' in html
    with customer.session_transaction() as sess:
        sess["hesk_customer"] = {**sess["hesk_customer"], "seen": sess["hesk_customer"]["seen"] - 25 * 60}
    frame = customer.get("/keepalive")
    assert frame.status_code == 200 and 'http-equiv="refresh" content="300"' in frame.get_data(as_text=True)
    with customer.session_transaction() as sess:  # 25 + 10 minutes after the last page, 10 after the frame
        sess["hesk_customer"] = {**sess["hesk_customer"], "seen": sess["hesk_customer"]["seen"] - 10 * 60}
    assert customer.get("/my-tickets").status_code == 200
    _save(app, extend_customer=False)
    assert customer.get("/keepalive").status_code == 404


def test_pipe_customer_rejection_settings(app, smtp_server):
    from hesk_py.models import PipeRejection
    from hesk_py.services import mailer
    from hesk_py.services.inbound import import_message

    def pipe(n):
        raw = (f"From: someone@example.org\r\nSubject: Help {n}\r\nMessage-ID: <r{n}@example.org>\r\n\r\n"
               f"Please help {n}.\r\n").encode()
        with app.app_context():
            assert import_message(raw, channel="pipe").action == "refused"
            return mailer.deliver_due()["sent"]

    _save(app, customer_accounts=2, pipe_customer_rejection_email_cooldown_hours=2)
    assert pipe(1) == 1
    assert pipe(2) == 0  # within 2 hours
    with app.app_context():
        db.session.execute(update(PipeRejection).values(sent_at=utcnow() - timedelta(hours=3)))
        db.session.commit()
    assert pipe(3) == 1
    _save(app, pipe_customer_rejection_email_cooldown_hours=0)
    assert pipe(4) == 1
    _save(app, pipe_customer_rejection_notification=False)
    assert pipe(5) == 0
