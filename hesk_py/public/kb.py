"""The knowledgebase pages customers see, on the ``public`` blueprint: the main page, categories,
articles (with "Was this article helpful?"), search, attachment downloads and the JSON suggestions the
ticket form asks for while the customer types.

Every page answers 404 when the knowledgebase is off (``kb_enable`` = 0). What customers may see is
decided by ``hesk_py/services/knowledgebase.py`` (published articles in categories that are public all
the way up); anything else answers 404, exactly like an article that does not exist.
"""
from __future__ import annotations

import secrets
from datetime import timezone

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer

from hesk_py import i18n, settings
from hesk_py.extensions import limiter
from hesk_py.models.knowledgebase import ROOT_CATEGORY_ID
from hesk_py.public.views import bp
from hesk_py.services import knowledgebase as kb

VISITOR_COOKIE = "hesk_kb_visitor"
VISITOR_MAX_AGE = 365 * 24 * 3600
MAX_QUERY_ARG = 2000


class RateForm(FlaskForm):
    """Only the CSRF token: the answer is the button pressed (``rating`` 5 = helpful, 1 = not)."""


def _require_kb() -> None:
    if not int(settings.get("kb_enable")):
        abort(404)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="hesk-kb-visitor")


def _visitor_token() -> str | None:
    """The visitor cookie's random value, if it is one we signed (a made-up cookie counts as none)."""
    raw = request.cookies.get(VISITOR_COOKIE)
    if not raw:
        return None
    try:
        value = _signer().loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def _set_visitor_cookie(resp, token: str):
    resp.set_cookie(VISITOR_COOKIE, _signer().dumps(token), max_age=VISITOR_MAX_AGE, httponly=True,
                    samesite="Lax", secure=bool(current_app.config.get("HESK_SECURE_COOKIES")))
    return resp


def _visitor(token: str | None) -> str:
    return kb.visitor_id(token or "", request.remote_addr or "")


def _int_setting(key: str) -> int:
    return int(settings.get(key))


@bp.app_context_processor
def _kb_helpers():
    """For templates (customer and staff): ``kb_home_articles()`` gives the home page's popular and latest articles
    (``kb_index_popart``, ``kb_index_latest``); ``templates/public/knowledgebase/_home.html`` shows them."""

    def kb_home_articles():
        if not current_app.config.get("HESK_INSTALLED") or not int(settings.get("kb_enable")):
            return {"popular": [], "latest": []}
        return kb.home_lists(_int_setting("kb_index_popart"), _int_setting("kb_index_latest"))

    return {"kb_home_articles": kb_home_articles}


@bp.app_template_filter("kb_preview")
def kb_preview(text: str | None, length: int) -> str:
    """The first ``length`` characters of an article's text, cut at a word."""
    return kb.preview(text or "", int(length))


@bp.app_template_filter("kb_category")
def kb_category(category) -> str:
    """A knowledgebase category's name as shown (the root's built-in name translated)."""
    return kb.category_label(category)


@bp.app_template_filter("kb_date")
def kb_date(value) -> str:
    """A knowledgebase date in the help desk's time zone and date format (``format_date``)."""
    if value is None:
        return ""
    from flask_babel import to_user_timezone

    return i18n.strftime(to_user_timezone(value.replace(tzinfo=timezone.utc)), settings.get("format_date"))


def _category_page(category: kb.CategoryInfo, *, template: str, **extra):
    cat = kb.catalogue()
    subcategories = cat.subcategories(category.id, kb.CUSTOMERS)
    numshow = _int_setting("kb_numshow")
    counts = kb.article_counts(kb.CUSTOMERS)
    return render_template(
        template,
        category=category,
        breadcrumbs=cat.ancestors(category.id)[:-1],
        subcategories=subcategories,
        previews=kb.previews_by_category([c.id for c in subcategories], kb.CUSTOMERS, numshow),
        counts={cid: sum(by_type.values()) for cid, by_type in counts.items()},
        grandchildren={c.id: cat.subcategories(c.id, kb.CUSTOMERS) for c in subcategories},
        articles=kb.category_articles(category.id, kb.CUSTOMERS),
        cols=_int_setting("kb_cols"),
        substr=_int_setting("kb_substrart"),
        **extra,
    )


@bp.get("/knowledgebase")
def knowledgebase():
    _require_kb()
    root = kb.get_category(ROOT_CATEGORY_ID, kb.STAFF)  # the root exists even if an admin made it private
    if not root.visible_to_customers:
        return render_template("public/knowledgebase/index.html", category=root, breadcrumbs=[], subcategories=[],
                               previews={}, counts={}, grandchildren={}, articles=[], cols=1,
                               substr=_int_setting("kb_substrart"), popular=[], latest=[])
    return _category_page(
        root, template="public/knowledgebase/index.html",
        popular=kb.popular(_int_setting("kb_popart"), kb.CUSTOMERS),
        latest=kb.latest(_int_setting("kb_latest"), kb.CUSTOMERS),
    )


@bp.get("/knowledgebase/category/<int:category_id>")
def knowledgebase_category(category_id: int):
    _require_kb()
    if category_id == ROOT_CATEGORY_ID:
        return redirect(url_for("public.knowledgebase"))
    try:
        category = kb.get_category(category_id, kb.CUSTOMERS)
    except kb.CategoryNotFound:
        abort(404)
    return _category_page(category, template="public/knowledgebase/category.html")


@bp.get("/knowledgebase/article/<int:article_id>")
def knowledgebase_article(article_id: int):
    _require_kb()
    try:
        article = kb.get_article(article_id, kb.CUSTOMERS, attachments=True)
    except kb.ArticleNotFound:
        abort(404)
    # One UPDATE in SQL; the commit expires the article, so the page shows the new count.
    kb.count_view(article.id, request.headers.get("User-Agent"))
    rating_on = bool(settings.get("kb_rating"))
    token = _visitor_token()
    new_token = None
    if rating_on and token is None:
        token = new_token = secrets.token_urlsafe(16)
    voted = rating_on and kb.has_voted(article.id, _visitor(token))
    resp = current_app.make_response(render_template(
        "public/knowledgebase/article.html",
        article=article,
        body=kb.render(article.content),
        breadcrumbs=kb.catalogue().ancestors(article.category_id),
        related=kb.related(article, _int_setting("kb_related"), kb.CUSTOMERS),
        rating_on=rating_on,
        voted=voted,
        form=RateForm(),
    ))
    if new_token:
        _set_visitor_cookie(resp, new_token)
    return resp


def _rate_limit() -> str:
    return "30 per hour"


@bp.post("/knowledgebase/article/<int:article_id>/rate")
@limiter.limit(_rate_limit, key_func=lambda: f"kbrate:{request.remote_addr or ''}")
def knowledgebase_rate(article_id: int):
    _require_kb()
    if not settings.get("kb_rating"):
        abort(404)
    try:
        article = kb.get_article(article_id, kb.CUSTOMERS)
    except kb.ArticleNotFound:
        abort(404)
    form = RateForm()
    rating = request.form.get("rating", "")
    if not form.validate_on_submit() or rating not in ("1", "5"):
        abort(400)
    token = _visitor_token()
    new_token = None
    if token is None:
        # No cookie (blocked, or a script): this visitor is the address alone, so dropping the
        # cookie never buys a second vote.
        new_token = secrets.token_urlsafe(16)
    if kb.vote(article.id, _visitor(token), helpful=rating == "5"):
        flash(_("Thank you for your feedback."), "success")
    else:
        flash(_("You have already rated this article."), "warning")
    resp = redirect(url_for("public.knowledgebase_article", article_id=article.id), code=303)
    if new_token:
        _set_visitor_cookie(resp, new_token)
    return resp


@bp.get("/knowledgebase/search")
def knowledgebase_search():
    _require_kb()
    if not int(settings.get("kb_search")):
        abort(404)
    q = (request.args.get("q") or "")[:MAX_QUERY_ARG].strip()
    result = kb.search(q, _int_setting("kb_search_limit")) if q else None
    substr = _int_setting("kb_substrart")
    rows = []
    if result is not None:
        for hit in result:
            rows.append({
                "article": hit.article,
                "title": kb.highlight(hit.article.title, result.terms),
                "excerpt": kb.highlight(kb.excerpt(hit.article.content_text, result.terms, substr), result.terms),
            })
    return render_template("public/knowledgebase/search.html", q=q, result=result, rows=rows,
                           min_word=kb.min_word_length())


@bp.get("/knowledgebase/attachment/<int:attachment_id>")
def knowledgebase_attachment(attachment_id: int):
    _require_kb()
    try:
        att = kb.get_attachment(attachment_id, kb.CUSTOMERS)
        path = kb.attachment_path(att)
    except kb.ArticleNotFound:
        abort(404)
    if not path.is_file():
        abort(404)
    return _download(path, att)


def _download(path, att):
    """Always a download (never shown inline), its type as stored only when it is a known safe one."""
    resp = send_file(path, mimetype=kb.download_type(att), as_attachment=True, download_name=att.real_name,
                     max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@bp.get("/suggest_articles")
def suggest_articles():
    """JSON for the ticket form: ``{"articles": [{"id", "title", "url", "preview"}]}``."""
    _require_kb()
    articles = []
    if settings.get("kb_recommendanswers"):
        q = (request.args.get("q") or "")[:MAX_QUERY_ARG]
        substr = _int_setting("kb_substrart")
        for hit in kb.suggest(q, _int_setting("kb_search_limit")):
            articles.append({
                "id": hit.article.id,
                "title": hit.article.title,
                "url": url_for("public.knowledgebase_article", article_id=hit.article.id),
                "preview": kb.preview(hit.article.content_text, substr),
            })
    return json_response({"articles": articles})


def json_response(data):
    """JSON with <, >, & and ' written as \\u escapes: article titles and text are data, and stay data
    even if something ever puts the answer into a page."""
    from jinja2.utils import htmlsafe_json_dumps

    resp = current_app.response_class(str(htmlsafe_json_dumps(data)), mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    return resp
