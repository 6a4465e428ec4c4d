"""The knowledgebase service: visibility, the sanitiser, full-text search (Cyrillic and Latvian included),
suggestions, related articles, votes, views, revisions, categories and attachments. On SQLite and MariaDB."""
from __future__ import annotations

import io
import os
import stat
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from hesk_py import settings
from hesk_py.extensions import db
from hesk_py.models import KbArticle, KbArticleRevision, KbAttachment, KbCategory, KbVote, User
from hesk_py.services import knowledgebase as kb

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f"
    "0005fe02fea7d6a4e00000000049454e44ae426082"
)


class Upload:
    """What a browser sends for one file (werkzeug's FileStorage has the same two attributes)."""

    def __init__(self, filename: str, data: bytes):
        self.filename = filename
        self.stream = io.BytesIO(data)


@pytest.fixture
def world(app_ctx, admin):
    """Categories and articles covering every visibility case."""
    author = db.session.get(User, admin)
    public = kb.create_category("Printers", 1, True)
    private = kb.create_category("Internal", 1, False)
    inside_private = kb.create_category("Public child of a private category", private.id, True)
    ids = {
        "public": kb.create_article(title="Printer shows paper jam", category_id=public.id, author=author,
                                    content="Open the tray and remove the jammed paper carefully.",
                                    keywords="tray jam").id,
        "private_article": kb.create_article(title="Printer service password", category_id=public.id,
                                             type=kb.ARTICLE_PRIVATE, content="The paper service code is 1234.",
                                             author=author).id,
        "draft": kb.create_article(title="Printer paper draft", category_id=public.id, type=kb.ARTICLE_DRAFT,
                                   content="Unfinished paper notes.", author=author).id,
        "in_private_category": kb.create_article(title="Printer paper internals", category_id=private.id,
                                                 content="Published paper text in a private category.").id,
        "in_private_parent": kb.create_article(title="Printer paper child", category_id=inside_private.id,
                                               content="Published paper text below a private parent.").id,
    }
    return {"author": author, "public_cat": public.id, "private_cat": private.id,
            "inside_private": inside_private.id, **ids}


def test_root_category_is_seeded(app_ctx):
    root = db.session.get(KbCategory, 1)
    assert root is not None and root.parent_id is None and root.is_public
    assert kb.catalogue().get(1).label == "Knowledgebase"


# --- visibility -------------------------------------------------------------------------------------

def test_customers_see_only_published_articles_in_public_categories(world):
    hidden = [world[k] for k in ("private_article", "draft", "in_private_category", "in_private_parent")]
    assert kb.get_article(world["public"], kb.CUSTOMERS).id == world["public"]
    for article_id in hidden:
        with pytest.raises(kb.ArticleNotFound):
            kb.get_article(article_id, kb.CUSTOMERS)
    for category_id in (world["private_cat"], world["inside_private"]):
        with pytest.raises(kb.CategoryNotFound):
            kb.get_category(category_id, kb.CUSTOMERS)
    visible = {world["public"]}
    assert {h.article.id for h in kb.search("paper", 20)} == visible
    assert {h.article.id for h in kb.suggest("printer paper jam", 20)} <= visible
    assert {a.id for a in kb.popular(20, kb.CUSTOMERS)} == visible
    assert {a.id for a in kb.latest(20, kb.CUSTOMERS)} == visible
    assert {a.id for a in kb.category_articles(world["public_cat"], kb.CUSTOMERS)} == visible
    assert kb.category_articles(world["private_cat"], kb.CUSTOMERS) == []
    previews = kb.previews_by_category([world["public_cat"], world["private_cat"], world["inside_private"]],
                                       kb.CUSTOMERS, 10)
    assert {a.id for rows in previews.values() for a in rows} == visible
    related = kb.related(db.session.get(KbArticle, world["public"]), 10, kb.CUSTOMERS)
    assert not {a.id for a in related} & set(hidden)
    assert [c.id for c in kb.catalogue().subcategories(1, kb.CUSTOMERS)] == [world["public_cat"]]


def test_staff_see_private_articles_and_categories_but_drafts_only_when_managing(world):
    staff_ids = {h.article.id for h in kb.search("paper", 20, include_private=True)}
    assert staff_ids == {world[k] for k in ("public", "private_article", "in_private_category", "in_private_parent")}
    manager_ids = {h.article.id for h in kb.search("paper", 20, audience=kb.MANAGERS)}
    assert manager_ids == staff_ids | {world["draft"]}
    with pytest.raises(kb.ArticleNotFound):
        kb.get_article(world["draft"], kb.STAFF)
    assert kb.get_article(world["draft"], kb.MANAGERS).type == kb.ARTICLE_DRAFT
    assert kb.get_category(world["inside_private"], kb.STAFF).visible_to_customers is False


def test_making_a_parent_private_hides_everything_below_it(world):
    kb.update_category(world["public_cat"], "Printers", 1, False)
    assert kb.search("paper", 20).hits == []
    with pytest.raises(kb.ArticleNotFound):
        kb.get_article(world["public"], kb.CUSTOMERS)
    kb.update_category(world["public_cat"], "Printers", 1, True)
    assert [h.article.id for h in kb.search("paper jam", 20)] == [world["public"]]


def test_audience_for_users(app_ctx, make_user):
    manager_id = make_user("kbman", features=["can_man_kb"])
    reader_id = make_user("reader", features=["can_view_tickets"])
    manager, reader = db.session.get(User, manager_id), db.session.get(User, reader_id)
    assert kb.audience_for(None) == kb.CUSTOMERS
    assert kb.audience_for(manager) == kb.MANAGERS
    assert kb.audience_for(reader) == kb.STAFF


# --- the sanitiser ----------------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=\"https://evil.example/\"></iframe>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](java\tscript:alert(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![x](javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x](file:///etc/passwd)",
    "<p style=\"color:red\">styled</p>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<div style=\"width: expression(alert(1))\">css expression</div>",
    "<style>body{display:none}</style>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<form action=\"https://evil.example/\"><button formaction=\"javascript:alert(1)\">go</button></form>",
    "<object data=\"https://evil.example/x.swf\"></object><embed src=\"https://evil.example/x.swf\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">",
    "<base href=\"https://evil.example/\">",
    "<link rel=stylesheet href=\"https://evil.example/x.css\">",
    "![x](https://example.com/a.png\" onerror=\"alert(1))",
    "[x](https://example.com \"title\" onclick=alert(1))",
    "[x](#\" onmouseover=\"alert(1))",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "<img src=\"java&#x09;script:alert(1)\">",
    "<a href=\"&#x6A;avascript:alert(1)\">entity</a>",
]

FORBIDDEN_TAGS = {"script", "iframe", "svg", "object", "embed", "form", "button", "style", "math", "meta", "base",
                  "link", "details", "input", "textarea", "frame", "frameset"}


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def assert_safe(html: str) -> None:
    parser = _Collector()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in kb.ALLOWED_TAGS and tag not in FORBIDDEN_TAGS, f"<{tag}> in {html!r}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} in {html!r}"
            assert name not in ("style", "formaction", "action", "srcdoc"), f"{name} in {html!r}"
            if name in ("href", "src"):
                scheme_part = "".join((value or "").split()).lower()
                if ":" in scheme_part.split("/")[0].split("?")[0].split("#")[0]:
                    assert scheme_part.startswith(("http:", "https:", "mailto:")), f"{name}={value!r} in {html!r}"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendered_articles_carry_no_active_content(app_ctx, payload):
    html = str(kb.render(payload))
    assert_safe(html)
    # the same allow-list on raw HTML (a row edited by hand, a future HTML editor)
    assert_safe(kb.sanitize_html(payload))
    assert_safe(kb.sanitize_html(html))


def test_the_sanitiser_keeps_ordinary_formatting(app_ctx):
    html = str(kb.render(
        "# Title\n\nSome **bold** and *italic* text with a [link](https://example.com/help) and "
        "`code`.\n\n- one\n- two\n\n![shot](https://example.com/shot.png)\n\n| a | b |\n|--:|:-:|\n| 1 | 2 |\n"
    ))
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<em>italic</em>" in html
    assert '<a href="https://example.com/help" rel="noopener noreferrer nofollow">link</a>' in html
    assert '<img src="https://example.com/shot.png" alt="shot">' in html
    assert '<th align="right">a</th>' in html and "<li>one</li>" in html and "<code>code</code>" in html
    assert "&lt;script&gt;" in str(kb.render("<script>x</script>"))  # raw HTML is shown as text


def test_highlight_escapes_first_then_marks(app_ctx):
    out = str(kb.highlight('<b onclick="x">Printer</b> & printers "quoted"', ["printer"]))
    assert "<b" not in out and "onclick=\"" not in out
    assert "&lt;b onclick=&#34;x&#34;&gt;<mark>Printer</mark>&lt;/b&gt; &amp; printers" in out
    # whole words, as the index matches them, in any script
    assert str(kb.highlight("Принтер друкує, принтера немає", ["принтер"])) == "<mark>Принтер</mark> друкує, принтера немає"
    # a searched word that looks like an entity name never breaks an entity
    assert str(kb.highlight("a & b", ["amp"])) == "a &amp; b"


def test_plain_text_previews_and_excerpts(app_ctx):
    text = kb.plain_text("# Heading\n\nFirst paragraph.\n\nSecond **bold** [link](https://x.example).")
    assert text == "Heading First paragraph. Second bold link."
    assert kb.preview("one two three four five", 16) == "one two three…"
    assert kb.preview("short", 16) == "short"
    long = "word " * 100 + "printer is here " + "tail " * 50
    assert "printer" in kb.excerpt(long, ["printer"], 80)
    assert kb.excerpt(long, ["printer"], 80).startswith("…")


# --- search ---------------------------------------------------------------------------------------

MULTILINGUAL = {
    "uk": ("Принтер не друкує", "Перевірте кабель принтера та драйвер у Києві."),
    "ru": ("Не работает принтер", "Проверьте подключение кабеля и перезагрузите компьютер."),
    "bg": ("Забравена парола", "Натиснете връзката за възстановяване на паролата на екрана за вход."),
    "lv": ("Lietotāja parole", "Paroles maiņa notiek iestatījumos pēc pieslēgšanās."),
    "en": ("Reset your password", "Click forgot password on the login page."),
}


@pytest.fixture
def multilingual(app_ctx):
    return {lang: kb.create_article(title=t, content=c).id for lang, (t, c) in MULTILINGUAL.items()}


@pytest.mark.parametrize("query,lang", [
    ("друкує", "uk"), ("ДРАЙВЕР", "uk"), ("Києві", "uk"),
    ("подключение", "ru"), ("перезагрузите", "ru"),
    ("парола", "bg"), ("възстановяване", "bg"),
    ("parole", "lv"), ("lietotāja", "lv"), ("lietotaja", "lv"), ("iestatījumos", "lv"),
    ("password", "en"), ("LOGIN", "en"),
])
def test_full_text_search_in_five_languages(multilingual, query, lang):
    result = kb.search(query, 10)
    assert [h.article.id for h in result][:1] == [multilingual[lang]], (query, result.hits)


def test_a_word_in_two_languages_finds_both(multilingual):
    assert {h.article.id for h in kb.search("ПРИНТЕР", 10)} == {multilingual["uk"], multilingual["ru"]}


def test_short_and_common_words_are_ignored_and_reported(multilingual):
    result = kb.search("ip", 10)
    assert result.hits == [] and result.terms == [] and result.ignored == ["ip"]
    result = kb.search("How to reset the password", 10)
    assert result.terms == ["reset", "password"]
    assert set(result.ignored) == {"how", "to", "the"}
    assert [h.article.id for h in result] == [multilingual["en"]]
    assert kb.search("", 10).hits == [] and kb.search("!!! ??? --", 10).hits == []


def test_search_limit_and_best_first(app_ctx):
    for i in range(6):
        kb.create_article(title=f"Printer tip {i}", content="Check the printer cable. " * (i + 1))
    kb.create_article(title="Printer printer printer", content="Printer printer printer printer.",
                      keywords="printer")
    result = kb.search("printer", 3)
    assert len(result) == 3
    assert result.hits[0].article.title == "Printer printer printer"
    assert result.hits[0].score >= result.hits[1].score >= result.hits[2].score


def test_operators_in_queries_are_plain_words(multilingual):
    for q in ['password" OR *', "password*", "-password +login", "title:password", "NEAR(password login)",
              "'; DROP TABLE hesk_kb_articles; --", "(password", "password)"]:
        hits = kb.search(q, 10).hits  # never an error
        assert all(h.article.id in multilingual.values() for h in hits)
    assert db.session.scalar(select(func.count()).select_from(KbArticle)) == len(MULTILINGUAL)


def test_search_uses_the_full_text_index(multilingual, count_queries):
    with count_queries() as q:
        kb.search("password", 10)
    text = " ".join(q.statements).upper()
    if db.engine.dialect.name == "sqlite":
        assert "HESK_KB_ARTICLES_FTS MATCH" in text
    else:
        assert "MATCH (" in text and "AGAINST" in text and "NATURAL LANGUAGE MODE" in text
    assert " LIKE " not in text


def test_the_index_follows_edits_and_deletes(app_ctx):
    article = kb.create_article(title="Toner smudges", content="Replace the toner cartridge.")
    assert [h.article.id for h in kb.search("cartridge", 10)] == [article.id]
    kb.update_article(article.id, title="Drum smudges", content="Clean the imaging drum.", type=kb.ARTICLE_PUBLISHED,
                      category_id=1)
    assert kb.search("cartridge", 10).hits == []
    assert [h.article.id for h in kb.search("imaging", 10)] == [article.id]
    kb.count_view(article.id, "Mozilla/5.0")  # an UPDATE that does not touch the text
    assert [h.article.id for h in kb.search("drum", 10)] == [article.id]
    kb.delete_article(article.id)
    assert kb.search("imaging", 10).hits == []


def test_suggestions_drop_results_below_a_quarter_of_the_best(app_ctx):
    for title in ("Monitor flickers after waking up", "Keyboard keys stick when typing", "Mouse cursor jumps",
                  "Email signature formatting", "Calendar invitations arrive late", "Wireless network drops"):
        kb.create_article(title=title, content=title + ". Check the cables and restart the computer.")
    strong = kb.create_article(title="Printer driver installation", keywords="printer driver",
                               content="Install the printer driver: download the printer driver, run the "
                                       "installer, restart the printer.")
    weak = kb.create_article(title="Scanner glass cleaning",
                             content="Wipe the scanner glass with a soft cloth. A fresh installation of "
                                     "software is rarely needed. " * 3)
    query = "printer driver installation"
    searched = kb.search(query, 10)
    assert [h.article.id for h in searched] == [strong.id, weak.id]
    assert searched.hits[1].score < searched.hits[0].score * kb.SUGGEST_CUTOFF
    assert [h.article.id for h in kb.suggest(query, 10)] == [strong.id]


def test_related_articles(app_ctx):
    a = kb.create_article(title="Printer paper jam", content="Remove jammed paper.", keywords="printer jam")
    b = kb.create_article(title="Printer paper tray", content="Load paper into the tray.", keywords="printer tray")
    kb.create_article(title="Email settings", content="Configure the mail client.")
    private = kb.create_article(title="Printer paper internals", content="Staff only.", type=kb.ARTICLE_PRIVATE)
    related = kb.related(a, 5, kb.CUSTOMERS)
    assert [r.id for r in related] == [b.id]
    assert private.id in {r.id for r in kb.related(a, 5, kb.STAFF)}
    assert a.id not in {r.id for r in kb.related(a, 5, kb.STAFF)}
    assert kb.related(a, 0, kb.CUSTOMERS) == []


# --- votes and views --------------------------------------------------------------------------------

def test_a_visitor_votes_once(app_ctx):
    article = kb.create_article(title="Rate me", content="Text.")
    alice = kb.visitor_id("cookie-a", "203.0.113.5")
    assert kb.visitor_id("cookie-a", "203.0.113.5") == alice and len(alice) == 64
    assert kb.visitor_id("cookie-b", "203.0.113.5") != alice
    assert kb.visitor_id("cookie-a", "198.51.100.7") != alice
    assert kb.vote(article.id, alice, True) is True
    assert kb.has_voted(article.id, alice)
    assert kb.vote(article.id, alice, False) is False  # the second vote does not count
    assert kb.vote(article.id, kb.visitor_id("cookie-b", "203.0.113.5"), False) is True
    db.session.expire_all()
    row = db.session.get(KbArticle, article.id)
    assert (row.votes, row.helpful_votes, row.rating) == (2, 1, 3.0)
    assert db.session.scalar(select(func.count()).select_from(KbVote)) == 2


def test_the_unique_key_refuses_a_second_vote_row(app_ctx):
    from sqlalchemy.exc import IntegrityError

    article = kb.create_article(title="Race", content="Text.")
    db.session.add(KbVote(article_id=article.id, visitor="v" * 64, helpful=True))
    db.session.commit()
    db.session.add(KbVote(article_id=article.id, visitor="v" * 64, helpful=False))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("agent,counted", [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36", True),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1", True),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", False),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", False),
    ("Mozilla/5.0 (compatible; YandexBot/3.0)", False),
    ("facebookexternalhit/1.1", False),
    ("curl/8.5.0", False),
    ("python-requests/2.32", False),
    ("", False),
    (None, False),
])
def test_views_are_not_counted_for_bots(app_ctx, agent, counted):
    article = kb.create_article(title="Viewed", content="Text.")
    assert kb.count_view(article.id, agent) is counted
    db.session.expire_all()
    assert db.session.get(KbArticle, article.id).views == (1 if counted else 0)


# --- articles, revisions, categories ----------------------------------------------------------------

def test_revisions_record_who_and_when(world):
    author = world["author"]
    article_id = world["public"]
    kb.update_article(article_id, title="Printer shows paper jam (updated)", content="New text.", keywords="jam",
                      type=kb.ARTICLE_PUBLISHED, category_id=world["public_cat"], editor=author)
    kb.reset_views(article_id, editor=author)
    kb.reset_votes(article_id, editor=author)
    revs = kb.revisions(article_id)
    assert [r.action for r in revs] == ["votes_reset", "views_reset", "modified", "created"]
    assert all(r.user_id == author.id and r.user_name == "Ada Admin" and r.created_at for r in revs)
    assert revs[0].has_snapshot is False and revs[2].content == "New text." and revs[3].content.startswith("Open")
    restored = kb.restore_revision(article_id, revs[3].id, editor=author)
    assert restored.title == "Printer shows paper jam" and restored.content.startswith("Open the tray")
    assert kb.revisions(article_id)[0].action == "restored"
    assert [h.article.id for h in kb.search("jammed", 10)] == [article_id]


def test_reset_votes_lets_everyone_vote_again(app_ctx):
    article = kb.create_article(title="Votes", content="Text.")
    visitor = kb.visitor_id("c", "192.0.2.1")
    kb.vote(article.id, visitor, True)
    kb.reset_votes(article.id)
    db.session.expire_all()
    assert db.session.get(KbArticle, article.id).votes == 0
    assert kb.vote(article.id, visitor, False) is True


def test_article_validation(app_ctx):
    with pytest.raises(kb.InvalidKbData) as exc:
        kb.create_article(title="  ", content="", category_id=999, type="secret", keywords="k" * 600)
    assert set(exc.value.errors) == {"title", "content", "category_id", "type", "keywords"}
    with pytest.raises(kb.InvalidKbData) as exc:
        kb.create_article(title="x" * 300, content="ok")
    assert "title" in exc.value.errors
    assert db.session.scalar(select(func.count()).select_from(KbArticle)) == 0


def test_sticky_articles_come_first_and_order_moves(app_ctx):
    a = kb.create_article(title="A", content="a")
    b = kb.create_article(title="B", content="b")
    c = kb.create_article(title="C", content="c", sticky=True)
    assert [x.title for x in kb.category_articles(1, kb.CUSTOMERS)] == ["C", "A", "B"]
    kb.move_article(b.id, -1)
    assert [x.title for x in kb.category_articles(1, kb.CUSTOMERS)] == ["C", "B", "A"]
    kb.move_article(b.id, -1)  # already first among the non-sticky ones: nothing moves
    assert [x.title for x in kb.category_articles(1, kb.CUSTOMERS)] == ["C", "B", "A"]
    kb.set_sticky(c.id, False)
    kb.set_sticky(a.id, True)
    assert [x.title for x in kb.category_articles(1, kb.CUSTOMERS)][0] == "A"


def test_category_tree_rules(app_ctx):
    top = kb.create_category("Top")
    child = kb.create_category("Child", top.id)
    grandchild = kb.create_category("Grandchild", child.id)
    with pytest.raises(kb.InvalidKbData) as exc:
        kb.update_category(top.id, "Top", grandchild.id, True)
    assert "parent_id" in exc.value.errors
    with pytest.raises(kb.InvalidKbData):
        kb.update_category(top.id, "Top", top.id, True)
    with pytest.raises(kb.InvalidKbData):
        kb.create_category("", 1)
    with pytest.raises(kb.InvalidKbData):
        kb.delete_category(1, kb.DELETE_MOVE)
    second = kb.create_category("Second")
    kb.move_category(second.id, -1)
    assert [c.name for c in kb.catalogue().subcategories(1, kb.MANAGERS)] == ["Second", "Top"]
    assert [c.name for c in kb.catalogue().walk()] == ["Knowledgebase", "Second", "Top", "Child", "Grandchild"]


def test_deleting_a_category_moves_or_deletes_its_articles(app_ctx):
    top = kb.create_category("Top")
    child = kb.create_category("Child", top.id)
    sub = kb.create_category("Sub", child.id)
    kept = kb.create_article(title="Kept", content="x", category_id=child.id)
    assert kb.delete_category(child.id, kb.DELETE_MOVE) == 1
    db.session.expire_all()
    assert db.session.get(KbArticle, kept.id).category_id == top.id
    assert db.session.get(KbCategory, sub.id).parent_id == top.id  # subcategories move up too
    gone = kb.create_article(title="Gone", content="x", category_id=sub.id)
    assert kb.delete_category(sub.id, kb.DELETE_ARTICLES) == 1
    assert db.session.get(KbArticle, gone.id) is None
    assert db.session.get(KbCategory, sub.id) is None


def test_article_counts_per_category_and_type(world):
    counts = kb.article_counts()
    assert counts[world["public_cat"]] == {"published": 1, "private": 1, "draft": 1}
    assert counts[world["private_cat"]] == {"published": 1}
    assert kb.article_counts(kb.CUSTOMERS) == {world["public_cat"]: {"published": 1}}


def test_draft_from_ticket(app_ctx, make_ticket):
    from hesk_py.models import Ticket

    trackid = make_ticket(subject="Printer on fire", message="Smoke comes out of it.")
    ticket = db.session.scalar(select(Ticket).where(Ticket.trackid == trackid))
    draft = kb.draft_from_ticket(ticket)
    assert draft["title"] == "Printer on fire"
    assert "Smoke comes out of it." in draft["content"]
    assert "casey@example.com" not in draft["content"] and "Casey Customer" not in draft["content"]


# --- attachments --------------------------------------------------------------------------------------

def test_attachments_are_checked_and_stored_outside_static(app_ctx):
    article = kb.create_article(title="With a picture", content="See the picture.",
                                files=[Upload("screen shot.png", PNG)])
    att = db.session.scalar(select(KbAttachment).where(KbAttachment.article_id == article.id))
    path = kb.attachment_path(att)
    assert att.real_name == "screen shot.png" and att.size == len(PNG)
    assert path.read_bytes() == PNG
    assert "static" not in path.parts and att.saved_name not in ("screen shot.png",)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert kb.get_attachment(att.id, kb.CUSTOMERS).id == att.id
    kb.update_article(article.id, title=article.title, content=article.content, type=kb.ARTICLE_PRIVATE,
                      category_id=1)
    with pytest.raises(kb.ArticleNotFound):
        kb.get_attachment(att.id, kb.CUSTOMERS)
    kb.update_article(article.id, title=article.title, content=article.content, type=kb.ARTICLE_PRIVATE,
                      category_id=1, remove_attachment_ids=[att.id])
    assert not path.exists()


@pytest.mark.parametrize("name,data", [
    ("page.png", b"<html><script>alert(1)</script></html>"),
    ("notes.html", b"<p>hi</p>"),
    ("run.php", b"<?php echo 1;"),
    ("empty.txt", b""),
])
def test_refused_attachments_store_nothing(app_ctx, tmp_path, name, data):
    with pytest.raises(kb.InvalidKbData) as exc:
        kb.create_article(title="Refused", content="x", files=[Upload(name, data)])
    assert "attachments" in exc.value.errors
    assert db.session.scalar(select(func.count()).select_from(KbArticle)) == 0
    folder = kb.attachment_path(KbAttachment(id=0, saved_name="0" * 48)).parent
    assert not folder.exists() or not [p for p in folder.iterdir() if not p.name.startswith(".")]


def test_attachment_size_limit_and_turning_attachments_off(app_ctx):
    settings.save({"attachments.max_size": 1})
    with pytest.raises(kb.InvalidKbData):
        kb.create_article(title="Big", content="x", files=[Upload("big.png", PNG + b"\0" * 2048)])
    settings.save({"attachments.use": False})
    with pytest.raises(kb.InvalidKbData):
        kb.create_article(title="Off", content="x", files=[Upload("a.png", PNG)])


def test_deleting_an_article_removes_its_files_and_history(app_ctx):
    article = kb.create_article(title="Doomed", content="x", files=[Upload("a.png", PNG)])
    path = kb.attachment_path(article.attachments[0])
    kb.vote(article.id, kb.visitor_id("c", "192.0.2.9"), True)
    kb.delete_article(article.id)
    assert not path.exists()
    for model in (KbAttachment, KbArticleRevision, KbVote):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


# --- word counts and search planning -------------------------------------------------------------------

def _counts():
    from hesk_py.models import KbTerm

    return dict(db.session.execute(select(KbTerm.term, KbTerm.docs)).all())


def test_word_counts_follow_every_change(app_ctx):
    a = kb.create_article(title="Printer jam", content="Open the printer tray.", keywords="Lietotāja")
    b = kb.create_article(title="Printer toner", content="Swap the toner.")
    counts = _counts()
    assert counts[""] == 2 and counts["printer"] == 2 and counts["toner"] == 1 and counts["tray"] == 1
    assert counts["lietotaja"] == 1  # accents folded, as the full-text index does
    assert "the" not in counts and "jam" in counts
    kb.update_article(a.id, title="Scanner jam", content="Open the scanner lid.", type=kb.ARTICLE_PUBLISHED,
                      category_id=1)
    counts = _counts()
    assert counts["printer"] == 1 and counts["scanner"] == 1 and "tray" not in counts and "lietotaja" not in counts
    kb.delete_article(b.id)
    counts = _counts()
    assert counts[""] == 1 and "printer" not in counts and "toner" not in counts
    incremental = _counts()
    assert kb.rebuild_term_counts() == 1
    assert _counts() == incremental


def test_restore_and_category_delete_keep_the_counts(app_ctx):
    cat = kb.create_category("Doomed")
    article = kb.create_article(title="Alpha words", content="alpha", category_id=cat.id)
    kb.update_article(article.id, title="Beta words", content="beta", type=kb.ARTICLE_PUBLISHED, category_id=cat.id)
    kb.restore_revision(article.id, kb.revisions(article.id)[-1].id)
    counts = _counts()
    assert counts.get("alpha") == 1 and "beta" not in counts
    kb.delete_category(cat.id, kb.DELETE_ARTICLES)
    assert _counts() == {}


def test_planning_leaves_out_common_words_and_keeps_the_rarest(app_ctx):
    from hesk_py.models import KbTerm

    db.session.add_all([KbTerm(term="", docs=1000), KbTerm(term="click", docs=900), KbTerm(term="settings", docs=600),
                        KbTerm(term="nelora", docs=5), KbTerm(term="printer", docs=80)])
    db.session.commit()
    plan = kb.plan_query(kb.parse_query("click the settings of the nelora printer"))
    assert plan.terms == ["nelora", "printer"]
    assert {"click", "settings", "the", "of"} <= set(plan.ignored)
    # only common words: they are searched all the same
    assert kb.plan_query(kb.parse_query("click settings")).terms == ["click", "settings"]
    # a ticket's whole text: the rarest words, at most MAX_SEARCH_TERMS
    words = [f"word{i:02d}" for i in range(20)]
    db.session.add_all([KbTerm(term=w, docs=10 + i) for i, w in enumerate(words)])
    db.session.commit()
    plan = kb.plan_query(kb.parse_query(" ".join(reversed(words))))
    assert sorted(plan.terms) == words[:kb.MAX_SEARCH_TERMS]


def test_small_knowledgebases_are_searched_as_typed(app_ctx):
    kb.create_article(title="Printer paper", content="paper paper")
    kb.create_article(title="Printer toner", content="toner")
    plan = kb.plan_query(kb.parse_query("printer paper"))
    assert plan.terms == ["printer", "paper"]


def test_common_words_do_not_hide_the_answer(app_ctx):
    """A realistic mix: 'settings' in most articles, 'nelora' in one; the answer still comes first."""
    for i in range(kb.MIN_ARTICLES_TO_PRUNE):
        kb.create_article(title=f"Settings page {i}", content="Open the settings and click save.")
    target = kb.create_article(title="Nelora settings", content="Nelora needs the settings page.")
    result = kb.search("nelora settings", 10)
    assert result.hits[0].article.id == target.id
    assert "settings" in result.ignored and result.terms == ["nelora"]
    assert [h.article.id for h in kb.suggest("my nelora does not open the settings page, click", 10)] == [target.id]
