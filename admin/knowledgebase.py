"""Staff pages of the knowledgebase: blueprint ``knowledgebase`` at /admin/knowledgebase.

Managing (``can_man_kb`` on every route): the category tree with counts of published, private and draft
articles; categories (create, edit, order, delete after a confirmation that moves or deletes their
articles); articles (Markdown, keywords, type, sticky, category, attachments, order, revision history
with restore, reset views, reset votes, delete); lists of private articles and drafts; a ticket imported
as a draft article (the ticket must be one this staff member may see: ``ticket_access.find_visible``).

Staff who answer tickets (``can_view_tickets``) or manage the knowledgebase: the staff view of the whole
knowledgebase (private categories and articles marked, drafts too for those who manage it), its search,
attachment downloads, and ``/suggest``, the JSON the staff ticket forms use to suggest articles and insert
their link or text into a reply.
"""
from __future__ import annotations

import functools

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from admin.security import require_feature
from hesk_py import settings
from hesk_py.models.knowledgebase import (
    ARTICLE_DRAFT, ARTICLE_PRIVATE, ARTICLE_PUBLISHED, ROOT_CATEGORY_ID,
)
from hesk_py.public.kb import json_response
from hesk_py.services import knowledgebase as kb
from hesk_py.services import ticket_access
from hesk_py.services.errors import TicketNotFound

bp = Blueprint("knowledgebase", __name__, url_prefix="/knowledgebase")

MANAGE = "can_man_kb"
TYPE_CHOICES = (
    SelectChoice(ARTICLE_PUBLISHED, _l("Published: everyone can read it")),
    SelectChoice(ARTICLE_PRIVATE, _l("Private: only staff can read it")),
    SelectChoice(ARTICLE_DRAFT, _l("Draft: only staff who manage the knowledgebase can read it")),
)


# --- forms --------------------------------------------------------------------------------------------

class ActionForm(FlaskForm):
    """Only the CSRF token: a button that changes something."""


class CategoryForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=kb.MAX_CATEGORY_NAME)])
    parent_id = SelectField(_l("Parent category"), coerce=int, validate_choice=True)
    is_public = RadioField(_l("Type"), default="1", choices=(
        SelectChoice("1", _l("Published: customers see it (if its parent categories are published too)")),
        SelectChoice("0", _l("Private: only staff see it and its articles")),
    ))


class DeleteCategoryForm(FlaskForm):
    articles = RadioField(_l("What happens to its articles?"), default=kb.DELETE_MOVE, choices=(
        SelectChoice(kb.DELETE_MOVE, _l("Move them to the parent category")),
        SelectChoice(kb.DELETE_ARTICLES, _l("Delete them, with their attachments")),
    ))


class ArticleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=kb.MAX_TITLE)])
    content = TextAreaField(_l("Article (Markdown)"), validators=[DataRequired(), Length(max=kb.MAX_CONTENT)])
    keywords = StringField(_l("Keywords"), validators=[Optional(), Length(max=kb.MAX_KEYWORDS)])
    type = RadioField(_l("Type"), default=ARTICLE_PUBLISHED, choices=TYPE_CHOICES)
    sticky = BooleanField(_l("Sticky: list it first in its category"))
    category_id = SelectField(_l("Category"), coerce=int, validate_choice=True)
    attachments = MultipleFileField(_l("Attach files"))


# --- helpers ------------------------------------------------------------------------------------------

def require_reader(view):
    """The staff view is for staff who answer tickets or manage the knowledgebase (an account with no
    rights at all sees nothing, like everywhere else in the staff panel)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not (current_user.can("can_view_tickets")
                                                     or current_user.can(MANAGE)):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _audience() -> kb.Audience:
    return kb.audience_for(current_user)


def _category_choices(exclude: int | None = None) -> list[SelectChoice]:
    cat = kb.catalogue()
    skip = set()
    if exclude is not None:
        skip = {exclude} | cat.descendant_ids(exclude)
    out = []
    for c in cat.walk():
        if c.id in skip:
            continue
        mark = "" if c.is_public else " " + _("(private)")
        out.append(SelectChoice(c.id, "\u2003" * c.depth + c.label + mark))
    return out


def _apply_errors(form, exc: kb.InvalidKbData) -> None:
    for key, message in exc.errors.items():
        field = getattr(form, key, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
        else:
            flash(message, "error")


def _article_or_404(article_id: int):
    try:
        return kb.get_article(article_id, kb.MANAGERS, attachments=True)
    except kb.ArticleNotFound:
        abort(404)


def _category_or_404(category_id: int) -> kb.CategoryInfo:
    try:
        return kb.get_category(category_id, kb.MANAGERS)
    except kb.CategoryNotFound:
        abort(404)


def _direction() -> int:
    return -1 if request.form.get("direction") == "up" else 1


def _back(default: str):
    """Back to the page the button was on, when it is one of ours."""
    from admin.security import safe_next

    return redirect(safe_next(request.form.get("next")) or default, code=303)


# --- the management tree -----------------------------------------------------------------------------

@bp.get("/")
@require_feature(MANAGE)
def index():
    cat = kb.catalogue()
    counts = kb.article_counts()
    return render_template("admin/knowledgebase/index.html", tree=cat.walk(), counts=counts,
                           action=ActionForm(), few_articles=sum(sum(c.values()) for c in counts.values()) < 5)


@bp.get("/category/<int:category_id>")
@require_feature(MANAGE)
def category(category_id: int):
    cat = _category_or_404(category_id)
    return render_template("admin/knowledgebase/category.html", category=cat,
                           crumbs=kb.catalogue().ancestors(cat.id)[:-1],
                           subcategories=kb.catalogue().subcategories(cat.id, kb.MANAGERS),
                           articles=kb.category_articles(cat.id, kb.MANAGERS), action=ActionForm())


@bp.route("/category/new", methods=["GET", "POST"])
@require_feature(MANAGE)
def category_new():
    form = CategoryForm()
    form.parent_id.choices = _category_choices()
    if request.method == "GET":
        form.parent_id.data = request.args.get("parent", ROOT_CATEGORY_ID, type=int)
    if form.validate_on_submit():
        try:
            created = kb.create_category(form.name.data, form.parent_id.data, form.is_public.data == "1")
        except kb.InvalidKbData as exc:
            _apply_errors(form, exc)
        else:
            flash(_("Category \"%(name)s\" created.", name=created.name), "success")
            return redirect(url_for("admin.knowledgebase.index"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/knowledgebase/category_form.html", form=form, category=None), status


@bp.route("/category/<int:category_id>/edit", methods=["GET", "POST"])
@require_feature(MANAGE)
def category_edit(category_id: int):
    cat = _category_or_404(category_id)
    form = CategoryForm(data={"name": cat.name, "parent_id": cat.parent_id or ROOT_CATEGORY_ID,
                              "is_public": "1" if cat.is_public else "0"})
    form.parent_id.choices = _category_choices(exclude=cat.id) if not cat.is_root else [SelectChoice(0, "-")]
    if cat.is_root:
        form.parent_id.data = 0
    if form.validate_on_submit():
        try:
            kb.update_category(cat.id, form.name.data, form.parent_id.data, form.is_public.data == "1")
        except kb.InvalidKbData as exc:
            _apply_errors(form, exc)
        else:
            flash(_("Category saved."), "success")
            return redirect(url_for("admin.knowledgebase.index"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/knowledgebase/category_form.html", form=form, category=cat), status


@bp.route("/category/<int:category_id>/delete", methods=["GET", "POST"])
@require_feature(MANAGE)
def category_delete(category_id: int):
    cat = _category_or_404(category_id)
    if cat.is_root:
        flash(_("The knowledgebase's main category cannot be deleted."), "error")
        return redirect(url_for("admin.knowledgebase.index"))
    form = DeleteCategoryForm()
    counts = kb.article_counts().get(cat.id, {})
    if form.validate_on_submit():
        try:
            n = kb.delete_category(cat.id, form.articles.data)
        except kb.InvalidKbData as exc:
            _apply_errors(form, exc)
        else:
            if form.articles.data == kb.DELETE_MOVE:
                flash(ngettext("Category deleted; %(n)s article moved to the parent category.",
                               "Category deleted; %(n)s articles moved to the parent category.", n, n=n), "success")
            else:
                flash(ngettext("Category deleted with its %(n)s article.", "Category deleted with its %(n)s articles.", n, n=n), "success")
            return redirect(url_for("admin.knowledgebase.index"), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/knowledgebase/category_delete.html", form=form, category=cat,
                           parent=kb.catalogue().get(cat.parent_id or ROOT_CATEGORY_ID),
                           article_count=sum(counts.values()),
                           subcategories=kb.catalogue().subcategories(cat.id, kb.MANAGERS)), status


@bp.post("/category/<int:category_id>/move")
@require_feature(MANAGE)
def category_move(category_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        kb.move_category(category_id, _direction())
    except kb.CategoryNotFound:
        abort(404)
    return _back(url_for("admin.knowledgebase.index"))


# --- articles ----------------------------------------------------------------------------------------

def _article_form_page(form, article=None, status=200, *, import_from=None, preview=None):
    return render_template("admin/knowledgebase/article_form.html", form=form, article=article,
                           import_from=import_from, action=ActionForm(), preview=preview,
                           limits={"use": settings.get("attachments.use"),
                                   "max_number": settings.get("attachments.max_number"),
                                   "max_size": settings.get("attachments.max_size"),
                                   "types": settings.get("attachments.allowed_types")}), status


def _posted_files():
    return [f for f in request.files.getlist("attachments") if f and f.filename]


def _preview_page(form, article=None, *, import_from=None):
    """The Preview button (``kb_wysiwyg``) without JavaScript: the form again, nothing saved, the article
    rendered as customers will see it; None when the button was not pressed."""
    if not (request.form.get("preview") and settings.get("kb_wysiwyg")):
        return None
    if _posted_files():
        form.attachments.errors = [_("For your security, attached files are not kept: please choose them "
                                     "again.")]
    return _article_form_page(form, article, import_from=import_from, preview=kb.render(form.content.data or ""))


@bp.route("/article/new", methods=["GET", "POST"])
@require_feature(MANAGE)
def article_new():
    form = ArticleForm()
    form.category_id.choices = _category_choices()
    if request.method == "GET":
        form.category_id.data = request.args.get("category", ROOT_CATEGORY_ID, type=int)
    if form.validate_on_submit():
        page = _preview_page(form)
        if page is not None:
            return page
        try:
            article = kb.create_article(
                title=form.title.data, content=form.content.data, keywords=form.keywords.data or "",
                type=form.type.data, sticky=form.sticky.data, category_id=form.category_id.data,
                author=current_user, files=_posted_files(),
            )
        except kb.InvalidKbData as exc:
            _apply_errors(form, exc)
        else:
            flash(_("Article \"%(title)s\" saved.", title=article.title), "success")
            return redirect(url_for("admin.knowledgebase.view_article", article_id=article.id), code=303)
    return _article_form_page(form, status=400 if request.method == "POST" else 200)


@bp.route("/article/<int:article_id>/edit", methods=["GET", "POST"])
@require_feature(MANAGE)
def article_edit(article_id: int):
    article = _article_or_404(article_id)
    form = ArticleForm(obj=article)
    form.category_id.choices = _category_choices()
    if form.validate_on_submit():
        page = _preview_page(form, article)
        if page is not None:
            return page
        try:
            kb.update_article(
                article.id, title=form.title.data, content=form.content.data, keywords=form.keywords.data or "",
                type=form.type.data, sticky=form.sticky.data, category_id=form.category_id.data,
                editor=current_user, files=_posted_files(),
                remove_attachment_ids=request.form.getlist("remove_attachment", type=int),
            )
        except kb.InvalidKbData as exc:
            _apply_errors(form, exc)
        else:
            flash(_("Article saved."), "success")
            return redirect(url_for("admin.knowledgebase.view_article", article_id=article.id), code=303)
    return _article_form_page(form, article, status=400 if request.method == "POST" else 200)


@bp.route("/article/<int:article_id>/delete", methods=["GET", "POST"])
@require_feature(MANAGE)
def article_delete(article_id: int):
    article = _article_or_404(article_id)
    form = ActionForm()
    if form.validate_on_submit():
        category_id = article.category_id
        kb.delete_article(article.id)
        flash(_("Article deleted."), "success")
        return redirect(url_for("admin.knowledgebase.category", category_id=category_id), code=303)
    return render_template("admin/knowledgebase/article_delete.html", article=article, form=form)


@bp.post("/article/<int:article_id>/move")
@require_feature(MANAGE)
def article_move(article_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        kb.move_article(article_id, _direction())
    except kb.ArticleNotFound:
        abort(404)
    return _back(url_for("admin.knowledgebase.index"))


@bp.post("/article/<int:article_id>/sticky")
@require_feature(MANAGE)
def article_sticky(article_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        kb.set_sticky(article_id, request.form.get("sticky") == "1", editor=current_user)
    except kb.ArticleNotFound:
        abort(404)
    return _back(url_for("admin.knowledgebase.view_article", article_id=article_id))


@bp.post("/article/<int:article_id>/reset_views")
@require_feature(MANAGE)
def article_reset_views(article_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        kb.reset_views(article_id, editor=current_user)
    except kb.ArticleNotFound:
        abort(404)
    flash(_("Views reset to zero."), "success")
    return redirect(url_for("admin.knowledgebase.view_article", article_id=article_id), code=303)


@bp.post("/article/<int:article_id>/reset_votes")
@require_feature(MANAGE)
def article_reset_votes(article_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        kb.reset_votes(article_id, editor=current_user)
    except kb.ArticleNotFound:
        abort(404)
    flash(_("Votes reset: the article is not rated, and everyone may vote again."), "success")
    return redirect(url_for("admin.knowledgebase.view_article", article_id=article_id), code=303)


@bp.get("/article/<int:article_id>/history")
@require_feature(MANAGE)
def article_history(article_id: int):
    article = _article_or_404(article_id)
    return render_template("admin/knowledgebase/article_history.html", article=article,
                           revisions=kb.revisions(article.id), action=ActionForm())


@bp.get("/article/<int:article_id>/revision/<int:revision_id>")
@require_feature(MANAGE)
def article_revision(article_id: int, revision_id: int):
    article = _article_or_404(article_id)
    try:
        rev = kb.get_revision(article.id, revision_id)
    except kb.ArticleNotFound:
        abort(404)
    if not rev.has_snapshot:
        abort(404)
    return render_template("admin/knowledgebase/article_revision.html", article=article, rev=rev,
                           body=kb.render(rev.content), action=ActionForm())


@bp.post("/article/<int:article_id>/revision/<int:revision_id>/restore")
@require_feature(MANAGE)
def article_restore(article_id: int, revision_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        kb.restore_revision(article_id, revision_id, editor=current_user)
    except kb.ArticleNotFound:
        abort(404)
    flash(_("The earlier text is back (saved as a new revision)."), "success")
    return redirect(url_for("admin.knowledgebase.view_article", article_id=article_id), code=303)


@bp.get("/private")
@require_feature(MANAGE)
def private():
    return render_template("admin/knowledgebase/list.html", articles=kb.articles_of_type(ARTICLE_PRIVATE),
                           title=_("Private articles"))


@bp.get("/drafts")
@require_feature(MANAGE)
def drafts():
    return render_template("admin/knowledgebase/list.html", articles=kb.articles_of_type(ARTICLE_DRAFT),
                           title=_("Article drafts"))


@bp.route("/import/<trackid>", methods=["GET", "POST"])
@require_feature(MANAGE)
def import_ticket(trackid: str):
    """A ticket as a draft article. The same rule as the ticket pages: a ticket this staff member may
    not see answers 404, as if it did not exist."""
    try:
        ticket = ticket_access.find_visible(current_user, trackid)
    except TicketNotFound:
        abort(404)
    draft = kb.draft_from_ticket(ticket)
    form = ArticleForm(data={"title": draft["title"], "content": draft["content"], "type": ARTICLE_DRAFT,
                             "category_id": ROOT_CATEGORY_ID})
    form.category_id.choices = _category_choices()
    # An import is always a draft: private data must be removed before anyone publishes it.
    form.type.choices = [c for c in TYPE_CHOICES if c.value == ARTICLE_DRAFT]
    if form.validate_on_submit():
        page = _preview_page(form, import_from=ticket)
        if page is not None:
            return page
        try:
            article = kb.create_article(
                title=form.title.data, content=form.content.data, keywords=form.keywords.data or "",
                type=ARTICLE_DRAFT, sticky=form.sticky.data, category_id=form.category_id.data,
                author=current_user, files=_posted_files(), action="imported", note=ticket.trackid,
            )
        except kb.InvalidKbData as exc:
            _apply_errors(form, exc)
        else:
            flash(_("Draft article created from ticket %(trackid)s. Remove any private data before you publish it.",
                    trackid=ticket.trackid), "success")
            return redirect(url_for("admin.knowledgebase.article_edit", article_id=article.id), code=303)
    return _article_form_page(form, status=400 if request.method == "POST" else 200, import_from=ticket)


# --- the staff view (every staff member) -----------------------------------------------------------------

@bp.get("/view")
@require_reader
def view():
    return view_category(ROOT_CATEGORY_ID)


@bp.get("/view/category/<int:category_id>")
@require_reader
def view_category(category_id: int):
    audience = _audience()
    try:
        cat = kb.get_category(category_id, audience)
    except kb.CategoryNotFound:
        abort(404)
    subcategories = kb.catalogue().subcategories(cat.id, audience)
    return render_template(
        "admin/knowledgebase/view_category.html", category=cat,
        crumbs=kb.catalogue().ancestors(cat.id)[:-1], subcategories=subcategories,
        previews=kb.previews_by_category([c.id for c in subcategories], audience, int(settings.get("kb_numshow"))),
        articles=kb.category_articles(cat.id, audience),
        popular=kb.popular(int(settings.get("kb_popart")), audience) if cat.is_root else [],
        latest=kb.latest(int(settings.get("kb_latest")), audience) if cat.is_root else [],
        substr=int(settings.get("kb_substrart")), cols=int(settings.get("kb_cols")),
        can_manage=current_user.can(MANAGE),
    )


@bp.get("/view/article/<int:article_id>")
@require_reader
def view_article(article_id: int):
    audience = _audience()
    try:
        article = kb.get_article(article_id, audience, attachments=True)
    except kb.ArticleNotFound:
        abort(404)
    cat = kb.catalogue()
    public = article.type == ARTICLE_PUBLISHED and cat.can_see(article.category_id, kb.CUSTOMERS)
    return render_template(
        "admin/knowledgebase/view_article.html", article=article, body=kb.render(article.content),
        crumbs=cat.ancestors(article.category_id), public=public,
        category_private=not cat.can_see(article.category_id, kb.CUSTOMERS),
        related=kb.related(article, int(settings.get("kb_related")), audience),
        can_manage=current_user.can(MANAGE), action=ActionForm(),
    )


@bp.get("/view/search")
@require_reader
def view_search():
    q = (request.args.get("q") or "")[:2000].strip()
    result = kb.search(q, int(settings.get("kb_search_limit")), audience=_audience()) if q else None
    substr = int(settings.get("kb_substrart"))
    rows = []
    if result is not None:
        for hit in result:
            rows.append({"article": hit.article, "title": kb.highlight(hit.article.title, result.terms),
                         "excerpt": kb.highlight(kb.excerpt(hit.article.content_text, result.terms, substr),
                                                 result.terms)})
    return render_template("admin/knowledgebase/view_search.html", q=q, result=result, rows=rows,
                           min_word=kb.min_word_length())


@bp.get("/attachment/<int:attachment_id>")
@require_reader
def attachment(attachment_id: int):
    try:
        att = kb.get_attachment(attachment_id, _audience())
        path = kb.attachment_path(att)
    except kb.ArticleNotFound:
        abort(404)
    if not path.is_file():
        abort(404)
    resp = send_file(path, mimetype=kb.download_type(att), as_attachment=True, download_name=att.real_name,
                     max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/suggest")
@require_reader
def suggest():
    """JSON for the staff ticket forms: ``{"articles": [{"id", "title", "url", "link", "text", "preview"}]}``.
    ``url`` opens the article in the staff view; ``link`` is its customer address (only for articles
    customers can read) and ``text`` its plain text, for inserting into a reply."""
    q = (request.args.get("q") or "")[:2000]
    substr = int(settings.get("kb_substrart"))
    cat = kb.catalogue()
    articles = []
    hits = kb.suggest(q, int(settings.get("kb_search_limit")), audience=kb.STAFF).hits
    texts = kb.article_texts(h.article.id for h in hits)
    for hit in hits:
        a = hit.article
        public = a.type == ARTICLE_PUBLISHED and cat.can_see(a.category_id, kb.CUSTOMERS)
        articles.append({
            "id": a.id,
            "title": a.title + ("" if public else " (" + _("private") + ")"),
            "url": url_for("admin.knowledgebase.view_article", article_id=a.id),
            "link": url_for("public.knowledgebase_article", article_id=a.id, _external=True) if public else "",
            "text": texts.get(a.id, ""),
            "preview": kb.preview(a.content_text, substr),
        })
    return json_response({"articles": articles})
