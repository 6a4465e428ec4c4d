#!/usr/bin/env python3
"""Fill the installed help desk's database with N realistic tickets, fast (a benchmark data generator).

Usage (from the project folder)::

    .venv/bin/python bench/seed.py --tickets 100000 [--replies-per-ticket 2.5] [--staff 12]
        [--categories 8] [--years 3] [--seed 42] [--batch 2000] [--safe]

Like every command it works on the installed help desk's database: ``create_app()`` reads the bootstrap
config (``HESK_PY_CONFIG`` or ``instance/config.ini``). It refuses to run when the help desk is not
installed or its schema is not at the newest revision, and it only ever adds rows: ids continue after
the existing ones and nothing is deleted. The built-in statuses, priorities and the General category are
inserted when missing (``seed_defaults``), as the installer would.

What it writes:

* categories (``--categories``, counting the existing ones) and staff accounts ``bench_admin`` plus
  ``bench_staff_NNN`` with category access and permission features, all with one known password
  (``BENCH_PASSWORD``, printed when they are created). Existing accounts and categories are reused.
  Replies, notes and assignments are only ever attributed to these bench accounts, never to real staff;
* customers, about half of them filing more than one ticket;
* tickets created over the last ``--years`` years, ids in creation order, with a HESK-like mix of
  statuses that depends on their age (old tickets are almost all resolved, recent ones often open),
  priorities, categories, owners (some unassigned, most auto-assigned), channels (web, email, staff),
  text in English, Ukrainian, Russian, Bulgarian and Latvian;
* replies alternating between staff and customer, private notes, and the history rows (``created``,
  ``assigned``, ``replied``, ``status``, ``note``) the ticket service would have written.

It does NOT go through the ticket service (``hesk_py/services/tickets.py``): the service is the one door
for real channels and does several queries, a flush and a commit per change, which would take hours for
a million tickets. This script writes the same tables directly with bulk inserts, one transaction per
batch (never the ORM per object), and replays the service's rules itself so that the counters agree with
the rows: ``reply_count``, ``staff_reply_count``, ``last_replier``/``last_replier_id``,
``first_reply_at``/``first_reply_by_id``, ``resolved_at``/``closed_by``, ``reopened_count`` and
``updated_at``. It writes no outbox rows (nobody should be mailed about invented tickets).

Tracking IDs have the service's format and alphabet (``TRACKID_ALPHABET``, ``XXX-XXX-XXXX``) but come
from a seeded ``random.Random`` so that ``--seed`` reproduces a run; each batch is checked against the
database and against the batches still in flight, so they are unique across the run and against existing
rows. Customer e-mail addresses (unique in the schema) are checked the same way.

Speed on MySQL/MariaDB (see bench/README.md for measured rates):

* multi-row INSERT statements of about 1 MB: the head names the row's columns, quoted by the dialect's
  identifier preparer, the values are literals rendered here (``_multirow_inserts``). Measured, SQLAlchemy's
  executemany (``conn.execute(insert(table), list_of_dicts)``, used on SQLite and with ``--core``) costs
  about twice the Python CPU per row, and Python CPU is what limits a million tickets on two cores;
* a separate connection without a pool, so its session settings end with it;
* ``SET SESSION foreign_key_checks=0, unique_checks=0`` on that connection (``--safe`` keeps them on).
  This is safe here because every reference is to a row that exists before the batch (categories,
  statuses, priorities, staff) or is inserted in the same transaction (customers, tickets, replies,
  notes), and the two unique secondary keys (tracking ID, customer e-mail) are checked by the script as
  described above. Without the checks InnoDB skips one lookup per foreign key and per unique key on
  every row;
* a pipeline: the main thread builds batch N+1 while a second thread inserts batch N, so Python and the
  database server work at the same time.

IDs are reserved at the start (``MAX(id) + 1`` of each table): run it on a quiet help desk. If something
else inserts a ticket meanwhile, the batch that collides fails with a duplicate-key error and the run
stops; batches committed before it stay (each batch is whole or absent).

The core is ``seed(app, tickets=N, ...)`` (tests call it); ``main()`` wraps it for the command line.
"""
from __future__ import annotations

import argparse
import json
import operator
import os
import queue
import random
import secrets
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

if __name__ == "__main__":
    # Run as a script, sys.path[0] is bench/; the project root holds hesk_py when it is not pip-installed.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.pool import NullPool

BENCH_PASSWORD = "Bench-seed-2024"
BENCH_USER_PREFIX = "bench_"
DEFAULT_BATCH = 2000
POOL_SIZE = 100_000  # returning customers are drawn from this many recent ones
DAY = 86400
EPOCH = datetime(1970, 1, 1)


class SeedError(Exception):
    """The seed cannot run (not installed, schema out of date, bad option). The message says why."""


@dataclass
class SeedResult:
    seed: int
    tickets: int = 0
    replies: int = 0
    notes: int = 0
    events: int = 0
    customers: int = 0
    staff_created: int = 0
    categories_created: int = 0
    first_ticket_id: int | None = None
    last_ticket_id: int | None = None
    seconds: float = 0.0
    password: str | None = None  # set when staff accounts were created in this run
    staff_usernames: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.tickets + self.replies + self.notes + self.events + self.customers

    @property
    def rate(self) -> float:
        """Tickets per second over the whole run."""
        return self.tickets / self.seconds if self.seconds > 0 else 0.0


# --- text ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Lang:
    code: str
    names: tuple[tuple[str, str], ...]  # (display name, ASCII e-mail local part)
    subjects: tuple[str, ...]
    openers: tuple[str, ...]
    body: tuple[str, ...]
    closers: tuple[str, ...]
    staff_greeting: str  # "{name}"
    staff_body: tuple[str, ...]
    staff_closing: str
    followups: tuple[str, ...]
    notes: tuple[str, ...]


def _cross(firsts, lasts):
    return tuple((f"{f} {l}", f"{fa}.{la}") for f, fa in firsts for l, la in lasts)


EN = _Lang(
    "en",
    _cross(
        [("Alice", "alice"), ("Bob", "bob"), ("Carol", "carol"), ("David", "david"), ("Emma", "emma"),
         ("Frank", "frank"), ("Grace", "grace"), ("Henry", "henry"), ("Isla", "isla"), ("Jack", "jack"),
         ("Karen", "karen"), ("Liam", "liam"), ("Maria", "maria"), ("Noah", "noah"), ("Olivia", "olivia"),
         ("Peter", "peter"), ("Rachel", "rachel"), ("Sam", "sam"), ("Tina", "tina"), ("Victor", "victor")],
        [("Smith", "smith"), ("Johnson", "johnson"), ("Brown", "brown"), ("Taylor", "taylor"),
         ("Wilson", "wilson"), ("Davies", "davies"), ("Evans", "evans"), ("Thomas", "thomas"),
         ("Roberts", "roberts"), ("Walker", "walker"), ("Wright", "wright"), ("Hughes", "hughes"),
         ("O'Neill", "oneill"), ("Clarke", "clarke"), ("Hall", "hall"), ("Wood", "wood")],
    ),
    (
        "Cannot log in to my account", "Payment failed at checkout", "Where is my order?",
        "Invoice shows the wrong amount", "Printer stopped printing after the update",
        "How do I reset my password?", "Request for a refund", "The website is very slow today",
        "Confirmation email never arrived", "Please cancel my subscription", "App crashes on startup",
        "Two-factor code not accepted", "Change of billing address", "Received a damaged item",
        "Question about the warranty", "VPN disconnects every few minutes", "Error 500 when saving my profile",
        "Need a copy of last month's invoice", "Upgrade my plan", "Parcel sent to the wrong address",
        "CSV export is missing columns", "Cannot attach files larger than 2 MB", "Licence key not working",
        "Account locked after failed logins", "Charged twice on my card", "Feature request: dark mode",
        "Your emails land in my spam folder", "Unable to add a new user", "Shipping cost seems too high",
        "Mobile app does not sync",
    ),
    ("Hello,", "Hi,", "Good morning,", "Dear support team,", "Hi there,"),
    (
        "Since yesterday I get an error message whenever I try this.",
        "I have already tried restarting the computer and clearing the browser cache.",
        "My order number is in the subject line.", "It worked fine until last week.",
        "The problem happens on both my phone and my laptop.", "Could you please look into it as soon as possible?",
        "I attached a screenshot of the error.", "Several colleagues in my team see the same thing.",
        "I paid by credit card and the amount was taken from my account.",
        "The tracking page has not changed for five days.", "I would like to know what my options are.",
        "This is the second time this happens this month.", "We are on the business plan.",
        "The message says the session has expired, but I only just logged in.",
        "I use the latest version of Firefox on Windows 11.",
        "Please let me know if you need any more information.", "Nothing has changed on our side.",
        "It is quite urgent because we have a deadline on Friday.",
    ),
    ("Thanks,", "Thank you,", "Best regards,", "Kind regards,", "Cheers,"),
    "Hello {name},",
    (
        "Thank you for contacting us.", "I have checked your account and corrected the problem.",
        "Please clear your browser cache and try to log in again.",
        "Your order has been handed over to the courier today.",
        "The refund has been issued and should reach your account within five working days.",
        "We have reset your password; you will receive a link by email.",
        "Our engineers are aware of the issue and are working on a fix.",
        "Could you send us a screenshot of the error message?",
        "I have forwarded your request to our billing department.",
        "The update released this morning fixes this problem.",
        "If the problem comes back, simply reply to this message.",
        "I have attached the corrected invoice.", "Your licence has been reactivated.",
    ),
    "Best regards,",
    (
        "Thank you, it works now!", "Unfortunately the problem is still there.",
        "I tried that, but I get the same error.", "When can I expect the delivery?",
        "Thanks for the quick answer.", "Here is the screenshot you asked for.",
        "Sorry, one more question: does this also apply to my second account?",
        "That solved it, you can close the ticket.",
    ),
    (
        "Customer called, waiting for the logs.", "Escalated to second-level support.",
        "Refund approved by finance.", "Known issue, see the release notes of 3.2.",
        "Check again on Monday.", "Possible duplicate of an earlier ticket from the same customer.",
    ),
)

UK = _Lang(
    "uk",
    _cross(
        [("Олена", "olena"), ("Андрій", "andrii"), ("Тарас", "taras"), ("Оксана", "oksana"),
         ("Ірина", "iryna"), ("Дмитро", "dmytro"), ("Наталія", "nataliia"), ("Богдан", "bohdan"),
         ("Юлія", "yuliia"), ("Сергій", "serhii")],
        [("Шевченко", "shevchenko"), ("Коваленко", "kovalenko"), ("Бондаренко", "bondarenko"),
         ("Ткаченко", "tkachenko"), ("Мельник", "melnyk"), ("Кравчук", "kravchuk"), ("Олійник", "oliinyk"),
         ("Лисенко", "lysenko")],
    ),
    (
        "Не можу увійти в обліковий запис", "Помилка під час оплати", "Замовлення досі не доставлено",
        "Питання щодо рахунку", "Не працює принтер", "Як змінити пароль?", "Повернення товару",
        "Сайт повільно завантажується", "Не приходить лист підтвердження", "Прошу скасувати підписку",
        "Застосунок не синхронізується", "Двічі списали кошти з картки",
    ),
    ("Доброго дня!", "Вітаю!", "Добрий вечір!", "Шановна службо підтримки!"),
    (
        "Вчора я оформив замовлення, але досі не отримав підтвердження.",
        "Під час оплати з'являється повідомлення про помилку.",
        "Я вже кілька разів намагався змінити пароль, але нічого не виходить.",
        "Будь ласка, перевірте мій рахунок.", "Номер замовлення вказано в темі листа.",
        "Проблема виникає і на телефоні, і на комп'ютері.", "Прикладаю знімок екрана з помилкою.",
        "До минулого тижня все працювало без проблем.", "Питання досить термінове.",
        "Гроші з картки вже списано, а замовлення не створено.",
    ),
    ("Дякую.", "З повагою,", "Заздалегідь дякую,"),
    "Вітаю, {name}!",
    (
        "Дякуємо за звернення.", "Ми перевірили ваш рахунок і виправили помилку.",
        "Спробуйте, будь ласка, очистити кеш браузера та увійти знову.",
        "Ваше замовлення сьогодні передано до служби доставки.",
        "Кошти повернуто, вони надійдуть протягом п'яти робочих днів.",
        "Надішліть, будь ласка, знімок екрана з помилкою.",
        "Якщо проблема повториться, просто дайте відповідь на цей лист.",
    ),
    "З повагою,",
    (
        "Дякую, тепер усе працює!", "На жаль, проблема залишилася.", "Я спробував, але помилка та сама.",
        "Коли чекати на доставку?", "Дякую за швидку відповідь.",
    ),
    ("Клієнт телефонував, чекаємо на журнали.", "Передано на другу лінію підтримки.",
     "Повернення коштів погоджено."),
)

RU = _Lang(
    "ru",
    (
        ("Алексей Иванов", "aleksei.ivanov"), ("Мария Смирнова", "maria.smirnova"),
        ("Сергей Кузнецов", "sergei.kuznetsov"), ("Анна Попова", "anna.popova"),
        ("Ольга Соколова", "olga.sokolova"), ("Иван Лебедев", "ivan.lebedev"),
        ("Екатерина Новикова", "ekaterina.novikova"), ("Дмитрий Морозов", "dmitrii.morozov"),
        ("Наталья Волкова", "natalia.volkova"), ("Михаил Фёдоров", "mikhail.fedorov"),
        ("Татьяна Павлова", "tatiana.pavlova"), ("Андрей Егоров", "andrei.egorov"),
    ),
    (
        "Не могу войти в личный кабинет", "Ошибка при оплате заказа", "Где мой заказ?", "Вопрос по счёту",
        "Не работает синхронизация", "Как сменить пароль?", "Возврат товара", "Сайт не открывается",
        "Не приходит письмо с подтверждением", "Прошу удалить мой аккаунт",
    ),
    ("Здравствуйте!", "Добрый день!", "Уважаемая служба поддержки!"),
    (
        "Вчера оформил заказ, но подтверждение так и не пришло.", "При оплате картой выдаётся ошибка.",
        "Пароль не подходит, хотя я его не менял.", "Пожалуйста, проверьте мой счёт.",
        "Проблема появляется и в браузере, и в приложении.", "Номер заказа указан в теме письма.",
        "Прилагаю снимок экрана.", "Ещё на прошлой неделе всё работало.", "Вопрос срочный.",
    ),
    ("Заранее спасибо.", "С уважением,", "Спасибо,"),
    "Здравствуйте, {name}!",
    (
        "Спасибо за обращение.", "Мы проверили ваш заказ, он уже в пути.",
        "Попробуйте, пожалуйста, очистить кэш браузера и войти снова.",
        "Деньги будут возвращены в течение пяти рабочих дней.",
        "Пришлите, пожалуйста, снимок экрана с ошибкой.", "Если проблема повторится, напишите нам.",
    ),
    "С уважением,",
    ("Спасибо, всё заработало!", "К сожалению, ошибка осталась.", "Когда ожидать доставку?",
     "Попробовал, не помогло."),
    ("Клиент звонил, ждём логи.", "Передано во второй уровень поддержки."),
)

BG = _Lang(
    "bg",
    (
        ("Георги Иванов", "georgi.ivanov"), ("Мария Петрова", "maria.petrova"),
        ("Димитър Георгиев", "dimitar.georgiev"), ("Елена Николова", "elena.nikolova"),
        ("Иван Димитров", "ivan.dimitrov"), ("Десислава Стоянова", "desislava.stoyanova"),
        ("Николай Христов", "nikolay.hristov"), ("Радостина Тодорова", "radostina.todorova"),
    ),
    (
        "Не мога да вляза в профила си", "Грешка при плащане", "Поръчката ми не е доставена",
        "Въпрос за фактура", "Как да сменя паролата си?", "Връщане на продукт", "Сайтът се зарежда бавно",
        "Не получавам имейл за потвърждение",
    ),
    ("Здравейте!", "Добър ден!"),
    (
        "Вчера направих поръчка, но все още нямам потвърждение.",
        "При плащане с карта излиза съобщение за грешка.", "Моля, проверете сметката ми.",
        "Проблемът се появява и на телефона, и на компютъра.", "Номерът на поръчката е в темата.",
        "Прилагам снимка на екрана.",
    ),
    ("Благодаря предварително.", "Поздрави,"),
    "Здравейте, {name}!",
    (
        "Благодарим ви, че се свързахте с нас.", "Проверихме поръчката ви и тя вече е изпратена.",
        "Моля, опитайте да изчистите кеша на браузъра.", "Сумата ще бъде възстановена до пет работни дни.",
    ),
    "Поздрави,",
    ("Благодаря, вече работи!", "За съжаление проблемът остава.", "Кога да очаквам доставката?"),
    ("Клиентът се обади по телефона.",),
)

LV = _Lang(
    "lv",
    (
        ("Jānis Bērziņš", "janis.berzins"), ("Anna Kalniņa", "anna.kalnina"),
        ("Pēteris Ozoliņš", "peteris.ozolins"), ("Līga Liepiņa", "liga.liepina"),
        ("Andris Krūmiņš", "andris.krumins"), ("Ilze Zariņa", "ilze.zarina"),
        ("Mārtiņš Vītols", "martins.vitols"), ("Kristīne Jansone", "kristine.jansone"),
        ("Edgars Kļaviņš", "edgars.klavins"), ("Inese Šteinberga", "inese.steinberga"),
    ),
    (
        "Nevaru pieslēgties savam kontam", "Kļūda apmaksas laikā", "Pasūtījums vēl nav piegādāts",
        "Jautājums par rēķinu", "Kā nomainīt paroli?", "Preces atgriešana", "Vietne ielādējas lēni",
        "Nesaņemu apstiprinājuma e-pastu", "Lietotne nesinhronizējas",
    ),
    ("Labdien!", "Sveiki!", "Labvakar!"),
    (
        "Vakar veicu pasūtījumu, bet apstiprinājumu joprojām neesmu saņēmis.",
        "Maksājot ar karti, parādās kļūdas paziņojums.", "Lūdzu, pārbaudiet manu kontu.",
        "Problēma ir gan telefonā, gan datorā.", "Pasūtījuma numurs ir norādīts tēmā.",
        "Pielikumā ekrānuzņēmums ar kļūdu.", "Līdz pagājušajai nedēļai viss strādāja.",
    ),
    ("Paldies jau iepriekš.", "Ar cieņu,"),
    "Labdien, {name}!",
    (
        "Paldies, ka sazinājāties ar mums.", "Pārbaudījām jūsu pasūtījumu, tas jau ir ceļā.",
        "Lūdzu, mēģiniet notīrīt pārlūkprogrammas kešatmiņu.", "Nauda tiks atmaksāta piecu darba dienu laikā.",
        "Ja problēma atkārtojas, vienkārši atbildiet uz šo vēstuli.",
    ),
    "Ar cieņu,",
    ("Paldies, tagad viss strādā!", "Diemžēl problēma joprojām pastāv.", "Kad varu gaidīt piegādi?"),
    ("Klients zvanīja, gaidām žurnālus.",),
)

LANGUAGES = {lang.code: lang for lang in (EN, UK, RU, BG, LV)}
# Share of customers writing in each language.
LANGUAGE_WEIGHTS = (("en", 70), ("uk", 9), ("ru", 8), ("bg", 5), ("lv", 8))
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "shop.example.org")

CATEGORY_NAMES = (
    "Technical support", "Billing", "Sales", "Shipping", "Returns and refunds", "Accounts and login",
    "Hardware", "Software", "Network", "Feature requests", "Підтримка українською", "Atbalsts latviski",
    "Поддръжка на български", "Website", "Mobile app", "Licensing", "Partners", "Security", "Training",
    "Other",
)
STAFF_NAMES = (
    "Emily Carter", "Oleh Petrenko", "Laura Ozola", "James Miller", "Олена Гнатюк", "Sofia Rossi",
    "Марко Стефанов", "Daniel Novak", "Zane Kalēja", "Chloe Martin", "Ігор Савчук", "Lucas Weber",
    "Hannah Scott", "Nikolai Orlov", "Ieva Siliņa", "Tom Fischer",
)
EXTRA_FEATURES = (
    "can_del_tickets", "can_edit_tickets", "can_merge_tickets", "can_assign_others", "can_view_ass_others",
    "can_run_reports", "can_export", "can_due_date", "can_del_notes", "can_man_canned", "can_add_archive",
)


def _sentences(pool: tuple[str, ...], where: float, k: int) -> str:
    """``k`` different sentences in a row from ``pool``, starting at a random place (cheaper than sample())."""
    i = int(where * len(pool))
    part = pool[i:i + k]
    if len(part) < k:
        part += pool[:k - len(part)]
    return " ".join(part)


def _table(weights) -> tuple:
    """A lookup table for weighted picks with one random(): table[int(random() * len(table))]."""
    out = []
    for value, weight in weights:
        out.extend([value] * weight)
    return tuple(out)


# Statuses by ticket age: what a real help desk's list looks like (HESK ids 1 new .. 6 on hold).
STATUS_OLD = _table(((4, 960), (3, 12), (6, 10), (5, 8), (2, 5), (1, 5)))  # older than 30 days
STATUS_MID = _table(((4, 80), (3, 8), (2, 4), (5, 4), (6, 2), (1, 2)))  # 7 to 30 days
STATUS_NEW = _table(((4, 40), (1, 18), (3, 15), (2, 12), (5, 10), (6, 5)))  # last 7 days
PRIORITIES = _table(((4, 45), (3, 35), (2, 15), (1, 5)))
LANG_TABLE = _table(LANGUAGE_WEIGHTS)


# --- set-up: checks, lookups, categories, staff -------------------------------------------------

def _check_installed(app) -> None:
    from hesk_py.extensions import db
    from hesk_py.services import schema

    if not app.config.get("HESK_INSTALLED"):
        raise SeedError(
            "The help desk is not installed: no database is configured in "
            f"{app.config.get('HESK_CONFIG_FILE')}. Install it first (open /install/ or run "
            "\"hesk-py install\"), or point HESK_PY_CONFIG at an installed help desk's config.ini."
        )
    try:
        current = schema.current_revision(db.engine)
    except Exception as exc:  # unreachable server, wrong password, missing database ...
        raise SeedError(f"Cannot reach the help desk's database: {type(exc).__name__}: {exc}") from exc
    if current is None:
        raise SeedError("The database has no hesk_py tables. Install the help desk first "
                        "(open /install/ or run \"hesk-py install\"), or run \"hesk-py upgrade\".")
    if schema.pending_revisions(db.engine):
        raise SeedError(f"The database schema is out of date (revision {current}). Run \"hesk-py upgrade\" first.")


def _ensure_lookups() -> None:
    from hesk_py.extensions import db
    from hesk_py.models import Priority, Status
    from hesk_py.services.defaults import BUILTIN_PRIORITIES, BUILTIN_STATUSES, seed_defaults

    seed_defaults()
    statuses = set(db.session.scalars(select(Status.id)))
    priorities = set(db.session.scalars(select(Priority.id)))
    missing = ({s[0] for s in BUILTIN_STATUSES} - statuses) | ({p[0] for p in BUILTIN_PRIORITIES} - priorities)
    if missing:
        raise SeedError("The built-in statuses or priorities are incomplete; the seed needs ids "
                        "1-6 (statuses) and 1-4 (priorities).")


def _ensure_categories(wanted: int) -> tuple[list[int], int]:
    """Ids of the categories tickets go to (existing ones first), creating named ones up to ``wanted``."""
    from hesk_py.extensions import db
    from hesk_py.models import Category

    existing = db.session.execute(select(Category.id, Category.name).order_by(Category.id)).all()
    ids = [row.id for row in existing][:wanted]
    names = {row.name for row in existing}
    created = 0
    sort_base = (db.session.scalar(select(func.max(Category.sort_order))) or 0) + 10
    for name in CATEGORY_NAMES:
        if len(ids) >= wanted:
            break
        if name in names:
            continue
        category = Category(name=name, sort_order=sort_base + 10 * created, is_public=name != "Partners",
                            default_priority_id=4 if name != "Security" else 2)
        db.session.add(category)
        db.session.flush()
        ids.append(category.id)
        created += 1
    n = len(ids)
    while n < wanted:  # more than the named ones were asked for
        category = Category(name=f"Category {n + 1}", sort_order=sort_base + 10 * created)
        db.session.add(category)
        db.session.flush()
        ids.append(category.id)
        created += 1
        n += 1
    db.session.commit()
    return ids, created


@dataclass(frozen=True)
class _Staff:
    id: int
    name: str
    is_admin: bool
    categories: frozenset[int]


def _ensure_staff(wanted: int, category_ids: list[int], rng: random.Random, password: str
                  ) -> tuple[list[_Staff], list[str]]:
    """``bench_admin`` plus ``bench_staff_NNN`` up to ``wanted`` accounts; returns them and the new usernames."""
    from hesk_py.extensions import db
    from hesk_py.models import User, UserCategory, UserFeature
    from hesk_py.services.accounts import hash_password
    from hesk_py.services.permissions import DEFAULT_FEATURES

    usernames = [f"{BENCH_USER_PREFIX}admin"] + [f"{BENCH_USER_PREFIX}staff_{i:03d}" for i in range(1, wanted)]
    existing = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(usernames)))}
    created: list[str] = []
    password_hash = None
    for index, username in enumerate(usernames):
        if username in existing:
            continue
        if password_hash is None:
            password_hash = hash_password(password)  # scrypt is slow on purpose: hash once for all of them
        is_admin = index == 0
        name = "Bench Admin" if is_admin else STAFF_NAMES[(index - 1) % len(STAFF_NAMES)]
        if not is_admin and index > len(STAFF_NAMES):
            name = f"{name} {index // len(STAFF_NAMES) + 1}"
        user = User(username=username, email=f"{username}@staff.example.com", name=name,
                    password_hash=password_hash, is_admin=is_admin, language=None)
        if not is_admin:
            cats = set(rng.sample(category_ids, min(len(category_ids), rng.randint(1, 4))))
            cats.add(category_ids[(index - 1) % len(category_ids)])  # every category gets somebody
            user.categories = [UserCategory(category_id=c) for c in sorted(cats)]
            feats = set(DEFAULT_FEATURES) | {f for f in EXTRA_FEATURES if rng.random() < 0.3}
            user.features = [UserFeature(feature=f) for f in sorted(feats)]
        db.session.add(user)
        existing[username] = user
        created.append(username)
    db.session.commit()
    staff = []
    for username in usernames:
        user = existing[username]
        if not user.active:
            continue
        features = user.feature_keys
        if not user.is_admin and not {"can_view_tickets", "can_reply_tickets"} <= features:
            continue
        staff.append(_Staff(user.id, user.name, user.is_admin, frozenset(user.category_ids)))
    if not staff:
        raise SeedError("No active bench staff account can answer tickets (all bench_* accounts are disabled).")
    return staff, created


# --- the generator --------------------------------------------------------------------------------

class _Generator:
    """Builds rows batch by batch. Deterministic for a given seed, start ids and existing rows."""

    def __init__(self, rng: random.Random, *, total: int, years: float, replies_avg: float,
                 categories: list[int], staff: list[_Staff], next_ids: dict[str, int], now: datetime):
        self.rng = rng
        self.total = total
        self.replies_avg = replies_avg
        self.now = int((now - EPOCH).total_seconds())
        span = int(years * 365 * DAY)
        self.start = self.now - span - 3600
        self.step = span / max(total, 1)
        self.ids = dict(next_ids)
        # Categories: a few busy ones, a long tail (weights ~ 1/rank).
        self.category_table = _table([(cid, max(1, 60 // (rank + 1))) for rank, cid in enumerate(categories)])
        self.eligible: dict[int, tuple[_Staff, ...]] = {}
        admins = tuple(s for s in staff if s.is_admin)
        for cid in categories:
            people = tuple(s for s in staff if not s.is_admin and cid in s.categories)
            # Admins take tickets too, but the category's own staff take most of them.
            self.eligible[cid] = people * 4 + admins if people else admins or tuple(staff)
        self.staff = tuple(staff)
        # Recent customers of this run (id, name, email, language), the ones who come back: a ring, so a
        # run of millions keeps a bounded list.
        self.pool: list[tuple[int, str, str, str]] = []
        self.pool_next = 0
        self.reservoir: deque = deque()  # new customers with checked e-mail addresses, not yet used
        self.recent_trackids: deque[set[str]] = deque(maxlen=3)  # batches possibly not committed yet

    # customers --------------------------------------------------------------------------------
    def fill_reservoir(self, n: int, existing_emails: Callable[[list[str]], set[str]]) -> None:
        """Prepare ``n`` new customers whose e-mail addresses are not in the database yet."""
        rng = self.rng
        fresh = []
        while len(self.reservoir) + len(fresh) < n:
            cid = self.ids["customer"]
            self.ids["customer"] += 1
            lang = LANGUAGES[LANG_TABLE[int(rng.random() * len(LANG_TABLE))]]
            name, local = lang.names[int(rng.random() * len(lang.names))]
            email = f"{local}.{cid}@{EMAIL_DOMAINS[cid % len(EMAIL_DOMAINS)]}"
            fresh.append([cid, name, email, lang.code])
        taken = existing_emails([c[2] for c in fresh])
        while taken:  # practically never: someone already uses name.<id>@example...
            for c in fresh:
                if c[2] in taken:
                    c[2] = f"{c[2].split('@')[0]}.{rng.randrange(10**6)}@{c[2].split('@')[1]}"
            taken = existing_emails([c[2] for c in fresh])
        self.reservoir.extend(tuple(c) for c in fresh)

    # tracking IDs ------------------------------------------------------------------------------
    def trackids(self, n: int, existing: Callable[[list[str]], set[str]]) -> list[str]:
        from hesk_py.services.tickets import TRACKID_ALPHABET

        choices = self.rng.choices
        batch: set[str] = set()
        recent = self.recent_trackids
        while len(batch) < n:
            candidates = []
            while len(candidates) < n - len(batch):
                c = "".join(choices(TRACKID_ALPHABET, k=10))
                t = f"{c[:3]}-{c[3:6]}-{c[6:]}"
                if t not in batch and not any(t in s for s in recent):
                    candidates.append(t)
            taken = existing(candidates)
            batch.update(t for t in candidates if t not in taken)
        recent.append(batch)
        out = sorted(batch)
        self.rng.shuffle(out)
        return out

    # one batch ---------------------------------------------------------------------------------
    def batch(self, first: int, n: int, trackids: list[str]) -> dict[str, list[dict]]:
        rows = {"customers": [], "tickets": [], "replies": [], "notes": [], "events": []}
        for k in range(n):
            self._ticket(first + k, trackids[k], rows)
        return rows

    def _ticket(self, index: int, trackid: str, rows: dict[str, list]) -> None:  # noqa: C901 (one story)
        rng = self.rng
        r = rng.random
        now = self.now
        created = self.start + int((index + r()) * self.step)
        age = now - created
        table = STATUS_OLD if age > 30 * DAY else STATUS_MID if age > 7 * DAY else STATUS_NEW
        final = table[int(r() * len(table))]
        # One datetime per moment, shared by the rows written at that moment (timedelta(0, s): positional
        # arguments are about twice as fast as seconds=s).
        created_dt = EPOCH + timedelta(0, created)

        # who: a returning customer about half of the time
        if self.pool and r() < 0.45:
            cid, cname, cemail, lcode = self.pool[int(r() * len(self.pool))]
        else:
            cid, cname, cemail, lcode = customer = self.reservoir.popleft()
            if len(self.pool) < POOL_SIZE:
                self.pool.append(customer)
            else:
                self.pool[self.pool_next] = customer
                self.pool_next = (self.pool_next + 1) % POOL_SIZE
            rows["customers"].append({"id": cid, "email": cemail, "name": cname, "language": lcode,
                                      "created_at": created_dt})
        lang = LANGUAGES[lcode]
        category = self.category_table[int(r() * len(self.category_table))]
        eligible = self.eligible[category]
        priority = PRIORITIES[int(r() * len(PRIORITIES))]

        tid = self.ids["ticket"]
        self.ids["ticket"] += 1
        events = rows["events"]
        ev_id = self.ids["event"]

        def event(when, actor_type, actor_id, actor_name, action, data):
            nonlocal ev_id
            events.append({"id": ev_id, "ticket_id": tid, "created_at": when,
                           "actor_type": actor_type, "actor_id": actor_id, "actor_name": actor_name,
                           "action": action, "data": data})
            ev_id += 1

        # channel: web form, e-mail, or staff filing it for a caller
        x = r()
        opened_by_id = None
        if x < 0.03:
            opener = eligible[int(r() * len(eligible))]
            opened_by, opened_by_id = "staff", opener.id
            event(created_dt, "staff", opener.id, opener.name, "created", {"channel": "staff"})
            ip = ""
        elif x < 0.18:
            opened_by = "imap" if x < 0.13 else "pipe"
            event(created_dt, "email", cid, cname, "created", {"channel": opened_by})
            ip = ""
        else:
            opened_by = "customer"
            event(created_dt, "customer", cid, cname, "created", {"channel": "customer"})
            ip = (f"{int(r() * 223) + 1}.{int(r() * 256)}.{int(r() * 256)}.{int(r() * 254) + 1}" if r() < 0.9
                  else f"2001:db8:{int(r() * 65536):x}::{int(r() * 65536):x}")

        # replies: how many, and who starts (staff answers first most of the time)
        n = int(rng.expovariate(1.0 / self.replies_avg) + 0.5) if self.replies_avg > 0 else 0
        if n > 40:
            n = 40
        customer_first = r() < 0.15
        if final == 1:
            n = 0
        elif final == 2:  # waiting reply: the customer wrote last
            if n == 0:
                n, customer_first = 1, True
            elif (n % 2 == 1) != customer_first:
                n += 1
        elif final == 3:  # replied: staff wrote last
            if n == 0:
                n, customer_first = 1, False
            elif (n % 2 == 1) == customer_first:
                n += 1

        # timeline: gaps between the events, squeezed to fit before now
        gaps = []
        for j in range(n):
            staff_turn = (j % 2 == 0) != customer_first
            gaps.append(int(rng.expovariate(1 / (6 * 3600 if staff_turn else 20 * 3600))) + 60)
        closes_later = final in (4, 5, 6)
        if closes_later:
            gaps.append(int(rng.expovariate(1 / (2 * DAY if final == 4 else 3600))) + 60)
        available = max(age - 120, 60)
        total = sum(gaps)
        if total > available:
            scale = available / total
            gaps = [max(1, int(g * scale)) for g in gaps]

        # owner: most tickets are auto-assigned on creation, some by hand, some stay unassigned
        owner = None
        autoassigned = False
        assigned_by = None
        if r() >= (0.4 if final == 1 else 0.08):
            owner = eligible[int(r() * len(eligible))]
            if r() < 0.7 or n == 0 and final == 1:
                autoassigned = True
                event(created_dt, "system", None, "", "assigned",
                      {"owner_id": owner.id, "owner_name": owner.name, "auto": True})
            else:
                assigned_by = owner if r() < 0.6 else self.staff[int(r() * len(self.staff))]
                when = created + max(1, (gaps[0] if gaps else 120) // 3)
                event(EPOCH + timedelta(0, when), "staff", assigned_by.id, assigned_by.name, "assigned",
                      {"old": None, "owner_id": owner.id, "owner_name": owner.name})

        # replay the service: each reply sets Replied/Waiting reply, counters follow the replies
        replies = rows["replies"]
        notes = rows["notes"]
        rep_id = self.ids["reply"]
        note_id = self.ids["note"]
        status = 1
        updated = created if owner is None or autoassigned else created + max(1, (gaps[0] if gaps else 120) // 3)
        resolved_at = None
        closed_by = closed_by_id = None
        reopened = 0
        staff_count = 0
        first_reply_at = first_reply_by = None
        last_replier = "staff" if opened_by == "staff" else "customer"
        last_replier_id = None
        t = created
        first_name = cname.split(" ")[0]
        for j in range(n):
            t += gaps[j]
            t_dt = EPOCH + timedelta(0, t)
            staff_turn = (j % 2 == 0) != customer_first
            if staff_turn:
                who = owner if owner is not None and r() < 0.9 else eligible[int(r() * len(eligible))]
                body = _sentences(lang.staff_body, r(), 1 + int(r() * 3))
                message = (f"{lang.staff_greeting.format(name=first_name)}\n\n{body}\n\n"
                           f"{lang.staff_closing}\n{who.name}")
                target = 3
                last = j == n - 1
                if last and final in (4, 5, 6) and r() < 0.6:
                    target, closes_later = final, False  # "reply and resolve" in one step
                elif final == 4 and not last and r() < 0.04:
                    target = 4  # resolved too early: the customer's next reply reopens it
                replies.append({"id": rep_id, "ticket_id": tid, "author_type": "staff", "staff_id": who.id,
                                "customer_id": None, "name": who.name, "message": message,
                                "created_at": t_dt,
                                "rating": (5 if r() < 0.8 else 1) if final == 4 and r() < 0.05 else None,
                                "read": final == 4 or r() < 0.5})
                staff_count += 1
                if first_reply_at is None:
                    first_reply_at, first_reply_by = t, who.id
                last_replier, last_replier_id = "staff", who.id
                actor = ("staff", who.id, who.name)
                if r() < 0.07:  # a private note right after answering
                    notes.append({"id": note_id, "ticket_id": tid, "user_id": who.id,
                                  "message": lang.notes[int(r() * len(lang.notes))] if r() < 0.5
                                  else EN.notes[int(r() * len(EN.notes))],
                                  "created_at": t_dt, "updated_at": None})
                    note_event = {"note_id": note_id}
                    note_id += 1
                else:
                    note_event = None
            else:
                if j == 0 or r() < 0.5:
                    body = _sentences(lang.body, r(), 1 + int(r() * 2))
                else:
                    body = lang.followups[int(r() * len(lang.followups))]
                replies.append({"id": rep_id, "ticket_id": tid, "author_type": "customer", "staff_id": None,
                                "customer_id": cid, "name": cname, "message": f"{body}\n\n{cname}",
                                "created_at": t_dt, "rating": None, "read": False})
                target = 2
                last_replier, last_replier_id = "customer", cid
                actor = ("customer", cid, cname)
                note_event = None
            event(t_dt, actor[0], actor[1], actor[2], "replied", {"reply_id": rep_id})
            rep_id += 1
            if target != status:
                event(t_dt, actor[0], actor[1], actor[2], "status", {"old": status, "new": target})
                if target == 4:
                    resolved_at, closed_by, closed_by_id = t, "staff", actor[1]
                elif status == 4:
                    reopened += 1
                    resolved_at = closed_by = closed_by_id = None
                status = target
            if note_event is not None:
                event(t_dt, actor[0], actor[1], actor[2], "note", note_event)
            updated = t
        if status != final:  # the last change: resolved, in progress or on hold
            t += gaps[-1] if closes_later else 60
            t_dt = EPOCH + timedelta(0, t)
            if final == 4:
                y = r()
                if y < 0.8 or owner is None:
                    who = owner or eligible[int(r() * len(eligible))]
                    actor = ("staff", who.id, who.name)
                    closed_by, closed_by_id = "staff", who.id
                elif y < 0.92 or status != 3:
                    actor = ("customer", cid, cname)
                    closed_by, closed_by_id = "customer", None
                else:
                    actor = ("system", None, "")  # auto-closed: no answer to the staff reply for days
                    closed_by, closed_by_id = "auto", None
                resolved_at = t
            else:
                who = owner or eligible[int(r() * len(eligible))]
                actor = ("staff", who.id, who.name)
            event(t_dt, actor[0], actor[1], actor[2], "status", {"old": status, "new": final})
            status = final
            updated = t
        self.ids["reply"] = rep_id
        self.ids["note"] = note_id
        self.ids["event"] = ev_id

        ts = created_dt
        rows["tickets"].append({
            "id": tid, "trackid": trackid, "customer_id": cid, "name": cname, "email": cemail,
            "category_id": category, "priority_id": priority, "status_id": status,
            "subject": lang.subjects[int(r() * len(lang.subjects))],
            "message": (f"{lang.openers[int(r() * len(lang.openers))]}\n\n"
                        f"{_sentences(lang.body, r(), 2 + int(r() * 3))}\n\n"
                        f"{lang.closers[int(r() * len(lang.closers))]}\n{cname}"),
            "owner_id": owner.id if owner else None,
            "assigned_by_id": assigned_by.id if assigned_by else None,
            "autoassigned": autoassigned, "ip": ip, "language": lcode,
            "opened_by": opened_by, "opened_by_id": opened_by_id,
            "created_at": ts, "updated_at": EPOCH + timedelta(0, min(updated, now)),
            "first_reply_at": EPOCH + timedelta(0, first_reply_at) if first_reply_at else None,
            "first_reply_by_id": first_reply_by,
            "resolved_at": EPOCH + timedelta(0, resolved_at) if resolved_at else None,
            "closed_by": closed_by if status == 4 else None,
            "closed_by_id": closed_by_id if status == 4 else None,
            "reopened_count": reopened, "reply_count": n, "staff_reply_count": staff_count,
            "last_replier": last_replier, "last_replier_id": last_replier_id,
            "due_date": ts + timedelta(days=1 + int(r() * 14)) if r() < 0.05 else None,
            "overdue_email_sent": False,
            "time_worked": int(r() * 7200) if status == 4 and r() < 0.5 else 0,
            "locked": False, "tagged": r() < 0.01,
        })


# --- the bulk load --------------------------------------------------------------------------------

def _tables():
    from hesk_py.models import Customer, Note, Reply, Ticket, TicketEvent

    # Parents before children, so the inserts also pass with foreign key checks on.
    return (("customers", Customer.__table__), ("tickets", Ticket.__table__), ("replies", Reply.__table__),
            ("notes", Note.__table__), ("events", TicketEvent.__table__))


def _next_ids(conn) -> dict[str, int]:
    from hesk_py.models import Customer, Note, Reply, Ticket, TicketEvent

    out = {}
    for key, model in (("customer", Customer), ("ticket", Ticket), ("reply", Reply), ("note", Note),
                       ("event", TicketEvent)):
        out[key] = (conn.scalar(select(func.max(model.id))) or 0) + 1
    return out


def _existing(conn, column, values: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(values), 500):
        chunk = values[i:i + 500]
        found.update(conn.scalars(select(column).where(column.in_(chunk))))
    return found


# What MySQL needs escaped in a quoted string: PyMySQL's escape table (pymysql.converters.escape_string).
# Backslash first, so the backslashes the other replacements add are not doubled again.
_MYSQL_ESCAPES = (("\\", "\\\\"), ("\0", "\\0"), ("\n", "\\n"), ("\r", "\\r"), ("\032", "\\Z"), ('"', '\\"'),
                  ("'", "\\'"))


_json = json.JSONEncoder().encode  # what json.dumps(value) returns, without its per-call set-up


def _mysql_quote(value: str) -> str:
    """``value`` as a quoted MySQL string. A ``replace`` per character that occurs: measured, about 15 times
    faster than one ``str.translate`` with the escape table on a ticket's text (translate looks every
    character up in a dict; ``in`` and ``replace`` are C loops)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "'" in value:
        value = value.replace("'", "\\'")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "\r" in value:
        value = value.replace("\r", "\\r")
    if "\0" in value:
        value = value.replace("\0", "\\0")
    if "\032" in value:
        value = value.replace("\032", "\\Z")
    return "'" + value + "'"


def _mysql_quote_no_backslash(value: str) -> str:
    """With sql_mode NO_BACKSLASH_ESCAPES a backslash is an ordinary character; only quotes double."""
    return "'" + value.replace("'", "''") + "'"


def _plain(text: str) -> bool:
    """True when ``text`` needs no escaping, neither in JSON (json.dumps, ensure_ascii) nor in a quoted MySQL
    string: printable ASCII without quotes or backslashes."""
    return text.isascii() and text.isprintable() and '"' not in text and "'" not in text and "\\" not in text


_JSON_PLAIN: dict[str, str] = {}  # plain key or string value -> its JSON text ('"reply_id"'); a bounded cache


def _json_plain(text) -> str | None:
    """``text`` in JSON (``"text"``) when it is a str that needs no escaping, else None."""
    found = _JSON_PLAIN.get(text) if type(text) is str else None
    if found is None and type(text) is str and _plain(text):
        found = f'"{text}"'
        if len(_JSON_PLAIN) < 10_000:
            _JSON_PLAIN[text] = found
    return found


def _json_literal(value, quote: Callable[[str], str]) -> str:
    """``value`` serialised as SQLAlchemy's JSON type does (json.dumps), as a MySQL literal. The history rows'
    small objects of ints and plain words (``{"reply_id": 7}``, ``{"old": 1, "new": 3}``) are written from
    their parts, byte for byte what json.dumps gives, and need no escaping; anything else goes through
    json.dumps and quote."""
    if value is None:
        return "NULL"
    if type(value) is dict:
        parts = []
        for k, v in value.items():
            key = _JSON_PLAIN.get(k) or _json_plain(k)
            if key is None:
                break
            kind = type(v)
            if kind is int:
                parts.append(f"{key}: {v}")
            elif kind is str:
                text = _JSON_PLAIN.get(v) or _json_plain(v)
                if text is None:
                    break
                parts.append(f"{key}: {text}")
            elif v is None:
                parts.append(f"{key}: null")
            elif kind is bool:
                parts.append(f"{key}: true" if v else f"{key}: false")
            else:
                break
        else:
            return "'{" + ", ".join(parts) + "}'"
    return quote(_json(value))


def _sql_literal(value, quote: Callable[[str], str]) -> str:
    """One value as a MySQL literal, for the types this generator produces (columns of other types)."""
    kind = type(value)
    if kind is str:
        return quote(value)
    if kind is int:
        return str(value)
    if value is None:
        return "NULL"
    if kind is datetime:
        return "'" + value.isoformat(" ") + "'"
    if kind is bool:
        return "1" if value else "0"
    if kind is dict or kind is list:
        return _json_literal(value, quote)
    raise TypeError(f"no SQL literal for {kind.__name__}")


def _datetime_literal(value: datetime) -> str:
    return "'" + value.isoformat(" ") + "'"


def _row_renderer(table, cols: list[str], quote: Callable[[str], str]) -> Callable[[dict], str]:
    """A function that renders one row (a dict) as ``(v1,v2,...)`` for these columns of ``table``.

    It is written for the table's column types, as one f-string (the way dataclasses and namedtuple write
    their methods): no per-value type dispatch, ints and booleans by ``format(v, "d")``, datetimes by
    ``isoformat``, strings by ``quote``, JSON by ``_json_literal``. A value of the wrong type raises (``"d"``
    refuses a str, ``isoformat`` a str or a date, ``quote`` an int) instead of being written unquoted."""
    from sqlalchemy import JSON, Boolean, DateTime, Integer, String

    fields = []
    for i, name in enumerate(cols):
        column = table.columns[name]
        kind = column.type
        v = f"v{i}"
        if isinstance(kind, (Boolean, Integer)):
            text, null_text = f"{{{v}:d}}", f"format({v}, 'd')"
        elif isinstance(kind, DateTime):
            text, null_text = f"'{{{v}.isoformat(' ')}}'", f"dt({v})"
        elif isinstance(kind, String):
            text, null_text = f"{{q({v})}}", f"q({v})"
        elif isinstance(kind, JSON):
            fields.append(f"{{js({v}, q)}}")  # None is NULL there
            continue
        else:
            fields.append(f"{{lit({v}, q)}}")
            continue
        fields.append(f"{{'NULL' if {v} is None else {null_text}}}" if column.nullable else text)
    names = ", ".join(f"v{i}" for i in range(len(cols)))
    unpack = f"{names}, = get(row)" if len(cols) > 1 else "v0 = get(row)"
    source = f'def render(row):\n    {unpack}\n    return f"({",".join(fields)})"\n'
    namespace = {"get": operator.itemgetter(*cols), "q": quote, "dt": _datetime_literal, "js": _json_literal,
                 "lit": _sql_literal}
    exec(source, namespace)  # noqa: S102 (our own source, from the table's column names and types)
    return namespace["render"]


def _insert_head(table, keys, dialect) -> tuple[str, list[str]]:
    """``INSERT INTO t (a, b, ...) VALUES `` for these keys, and the column names in that order.

    Names are quoted by the dialect's own identifier preparer (``read`` is a reserved word in MySQL). Only
    these keys: a compiled ``insert(table)`` would add the columns that have a Python-side default (such as
    ``hesk_customers.session_version``), for which the rows have no value; the database's default fills them."""
    cols = [c.name for c in table.columns if c.name in keys]
    prep = dialect.identifier_preparer
    head = f"INSERT INTO {prep.format_table(table)} ({', '.join(prep.quote(c) for c in cols)}) VALUES "
    return head, cols


def _multirow_inserts(head: str, render: Callable[[dict], str], rows: list[dict], limit: int):
    """Multi-row INSERT statements of at most ``limit`` characters for ``rows`` (dicts with the same keys)."""
    parts: list[str] = []
    size = len(head)
    for row in rows:
        text = render(row)
        if parts and size + len(text) + 1 > limit:
            yield head + ",".join(parts)
            parts, size = [], len(head)
        parts.append(text)
        size += len(text) + 1
    if parts:
        yield head + ",".join(parts)


class _Inserter:
    """Inserts batches on its own connection, in a thread (pipeline) or inline, one transaction per batch.

    On MySQL/MariaDB each table's rows go in multi-row INSERT statements rendered here (``_multirow_inserts``):
    measured, SQLAlchemy's executemany spends about twice the CPU per row (parameter processing, then PyMySQL
    escaping every parameter), and CPU is what limits a million tickets on two cores. Elsewhere (SQLite), and
    with ``core=True``, it is SQLAlchemy Core ``conn.execute(insert(table), list_of_dicts)``.
    """

    def __init__(self, engine, *, fast: bool, core: bool, threaded: bool, on_commit: Callable[[dict], None]):
        self.engine = engine
        self.fast = fast
        self.mysql = engine.dialect.name in ("mysql", "mariadb")
        self.multirow = self.mysql and not core
        self.on_commit = on_commit
        self.tables = _tables()
        self.error: BaseException | None = None
        self.conn = None
        self.limit = 1 << 20
        self.heads: dict[tuple, tuple[str, Callable[[dict], str]]] = {}  # head, row renderer
        self.quote = _mysql_quote
        self.queue: queue.Queue | None = queue.Queue(maxsize=1) if threaded else None
        self.thread = None
        if threaded:
            self.thread = threading.Thread(target=self._run, name="seed-inserter", daemon=True)
            self.thread.start()
        else:
            self._open()

    def _open(self):
        self.conn = self.engine.connect()
        if self.mysql:
            if self.fast:
                # Safe for this data: see the module docstring. Only this connection, closed at the end.
                self.conn.exec_driver_sql("SET SESSION foreign_key_checks=0, unique_checks=0")
            packet, sql_mode = self.conn.exec_driver_sql("SELECT @@max_allowed_packet, @@sql_mode").one()
            packet = int(packet)
            self.quote = _mysql_quote_no_backslash if "NO_BACKSLASH_ESCAPES" in sql_mode.upper() else _mysql_quote
            # characters per statement: up to 4 bytes each in utf8mb4, and some room for the protocol
            self.limit = max(64 * 1024, min(4 << 20, packet // 4 - 1024))
            self.conn.commit()

    def _insert(self, rows: dict[str, list[dict]]) -> None:
        conn = self.conn
        with conn.begin():
            if self.multirow:
                cursor = conn.connection.driver_connection.cursor()
                try:
                    for key, table in self.tables:
                        if not rows[key]:
                            continue
                        keys = tuple(rows[key][0])
                        if (key, keys) not in self.heads:
                            head, cols = _insert_head(table, keys, self.engine.dialect)
                            self.heads[key, keys] = head, _row_renderer(table, cols, self.quote)
                        head, render = self.heads[key, keys]
                        for sql in _multirow_inserts(head, render, rows[key], self.limit):
                            cursor.execute(sql)  # no parameters: PyMySQL sends it as it is
                finally:
                    cursor.close()
            else:
                for key, table in self.tables:
                    if rows[key]:
                        conn.execute(insert(table), rows[key])
        self.on_commit(rows)

    def _run(self):
        try:
            self._open()
            while True:
                rows = self.queue.get()
                if rows is None:
                    break
                self._insert(rows)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self._close_conn()

    def _close_conn(self) -> None:
        if self.conn is None:
            return
        try:
            if self.mysql and self.fast and not self.conn.closed and not self.conn.invalidated:
                # Back to normal, in case the connection goes back to a pool rather than being closed.
                self.conn.rollback()
                self.conn.exec_driver_sql("SET SESSION foreign_key_checks=1, unique_checks=1")
                self.conn.commit()
        finally:
            self.conn.close()
            self.conn = None

    def submit(self, rows) -> None:
        if self.queue is None:
            self._insert(rows)
            return
        while True:
            if self.error is not None or not self.thread.is_alive():
                raise self.error or RuntimeError("the insert thread stopped")
            try:
                self.queue.put(rows, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        if self.queue is None:
            self._close_conn()
            return
        if self.thread.is_alive():
            while self.thread.is_alive():
                try:
                    self.queue.put(None, timeout=0.5)
                    break
                except queue.Full:
                    continue
            self.thread.join()
        if self.error is not None:
            raise self.error


def seed(app, *, tickets: int, replies_per_ticket: float = 2.5, staff: int = 12, categories: int = 8,
         seed: int | None = None, batch: int = DEFAULT_BATCH, years: float = 3.0, fast: bool = True,
         core: bool = False, pipeline: bool | None = None, password: str = BENCH_PASSWORD,
         progress: Callable[[int, int, float], None] | None = None) -> SeedResult:
    """Add ``tickets`` realistic tickets (with customers, replies, notes, history) to ``app``'s database.

    ``app`` is a hesk_py Flask app (``create_app()``). ``seed`` makes the run reproducible for the same
    starting database (dates are relative to now). ``fast`` turns off foreign key and unique checks on the
    loading connection (MySQL/MariaDB only). ``core`` uses SQLAlchemy's executemany on MySQL/MariaDB too,
    instead of the rendered multi-row INSERTs (slower; for comparison). ``pipeline`` inserts in a second
    thread (default: on for MySQL/MariaDB, off for SQLite, which has one writer anyway).
    ``progress(done, total, seconds)`` is called after each committed batch.
    Raises SeedError when the help desk is not ready or an option is out of range.
    """
    if tickets < 0:
        raise SeedError("--tickets must be 0 or more.")
    if batch < 1:
        raise SeedError("--batch must be at least 1.")
    if staff < 1 or categories < 1:
        raise SeedError("--staff and --categories must be at least 1.")
    if replies_per_ticket < 0 or years <= 0:
        raise SeedError("--replies-per-ticket must be 0 or more and --years more than 0.")
    from hesk_py.extensions import db
    from hesk_py.models import Customer, Ticket
    from hesk_py.models.types import utcnow

    if seed is None:
        seed = secrets.randbits(32)
    rng = random.Random(seed)
    result = SeedResult(seed=seed)
    started = time.monotonic()
    with app.app_context():
        _check_installed(app)
        _ensure_lookups()
        category_ids, result.categories_created = _ensure_categories(categories)
        staff_list, created = _ensure_staff(staff, category_ids, rng, password)
        result.staff_created = len(created)
        result.staff_usernames = created
        if created:
            result.password = password
        app_engine = db.engine
        db.session.remove()

    is_mysql = app_engine.dialect.name in ("mysql", "mariadb")
    if is_mysql:
        # Its own unpooled connections: the session settings below must not leak into the app's pool.
        engine = create_engine(app_engine.url, poolclass=NullPool,
                               connect_args=dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {})))
    else:
        engine = app_engine
    if pipeline is None:
        pipeline = is_mysql

    lock = threading.Lock()

    def committed(rows: dict[str, list]) -> None:
        with lock:
            result.customers += len(rows["customers"])
            result.tickets += len(rows["tickets"])
            result.replies += len(rows["replies"])
            result.notes += len(rows["notes"])
            result.events += len(rows["events"])
            if rows["tickets"]:
                if result.first_ticket_id is None:
                    result.first_ticket_id = rows["tickets"][0]["id"]
                result.last_ticket_id = rows["tickets"][-1]["id"]
            done = result.tickets
        if progress is not None:
            progress(done, tickets, time.monotonic() - started)

    trackid_col = Ticket.__table__.c.trackid
    email_col = Customer.__table__.c.email
    try:
        with engine.connect() as check_conn:
            gen = _Generator(rng, total=tickets, years=years, replies_avg=replies_per_ticket,
                             categories=category_ids, staff=staff_list, next_ids=_next_ids(check_conn),
                             now=utcnow())
            check_conn.rollback()
            inserter = _Inserter(engine, fast=fast, core=core, threaded=pipeline, on_commit=committed)
            try:
                done = 0
                while done < tickets:
                    n = min(batch, tickets - done)
                    gen.fill_reservoir(n, lambda emails: _existing(check_conn, email_col, emails))
                    trackids = gen.trackids(n, lambda ids: _existing(check_conn, trackid_col, ids))
                    check_conn.rollback()  # see newly committed rows in the next batch's checks
                    inserter.submit(gen.batch(done, n, trackids))
                    done += n
            finally:
                inserter.close()
    finally:
        if engine is not app_engine:
            engine.dispose()
    result.seconds = time.monotonic() - started
    return result


# --- command line ---------------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _progress_printer(stream):
    state = {"last": 0.0}
    tty = stream.isatty()

    def show(done: int, total: int, elapsed: float) -> None:
        if done < total and elapsed - state["last"] < (0.5 if tty else 5.0):
            return
        state["last"] = elapsed
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        pct = 100.0 * done / total if total else 100.0
        line = (f"tickets {done:,}/{total:,} ({pct:5.1f}%)  {rate:,.0f}/s  "
                f"elapsed {_duration(elapsed)}  ETA {_duration(eta)}")
        stream.write(("\r" + line + "  ") if tty else line + "\n")
        if tty and done >= total:
            stream.write("\n")
        stream.flush()

    return show


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/seed.py",
        description="Fill the installed help desk's database (HESK_PY_CONFIG or instance/config.ini) with "
                    "realistic tickets, replies, notes and history. Adds to what is there; deletes nothing.")
    p.add_argument("--tickets", type=int, required=True, help="how many tickets to add")
    p.add_argument("--replies-per-ticket", type=float, default=2.5, help="average replies per ticket (2.5)")
    p.add_argument("--staff", type=int, default=12,
                   help="bench staff accounts: bench_admin + bench_staff_NNN (12; existing ones are reused)")
    p.add_argument("--categories", type=int, default=8,
                   help="categories to spread tickets over, counting existing ones (8)")
    p.add_argument("--years", type=float, default=3.0, help="tickets are created over the last YEARS years (3)")
    p.add_argument("--seed", type=int, default=None, help="random seed, to repeat a run (default: random, printed)")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                   help=f"tickets per transaction ({DEFAULT_BATCH})")
    p.add_argument("--safe", action="store_true",
                   help="keep foreign key and unique checks on while loading (MySQL/MariaDB; slower)")
    p.add_argument("--core", action="store_true",
                   help="MySQL/MariaDB: SQLAlchemy executemany instead of rendered multi-row INSERTs (slower)")
    p.add_argument("--no-pipeline", action="store_true", help="generate and insert in one thread")
    p.add_argument("--password", default=BENCH_PASSWORD,
                   help="password of the bench staff accounts created by this run")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    err = sys.stderr
    from hesk_py import create_app
    from hesk_py.config import ConfigError

    try:
        app = create_app()
    except (ConfigError, RuntimeError) as exc:
        err.write(f"seed: {exc}\n")
        return 1
    try:
        result = seed(app, tickets=args.tickets, replies_per_ticket=args.replies_per_ticket, staff=args.staff,
                      categories=args.categories, seed=args.seed, batch=args.batch, years=args.years,
                      fast=not args.safe, core=args.core, pipeline=False if args.no_pipeline else None,
                      password=args.password, progress=None if args.quiet else _progress_printer(err))
    except SeedError as exc:
        err.write(f"seed: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write("\nseed: interrupted; the batches committed so far stay in the database.\n")
        return 130
    finally:
        from hesk_py.extensions import db

        with app.app_context():
            db.engine.dispose()
    if result.staff_created:
        err.write(f"Created {result.staff_created} staff accounts ({', '.join(result.staff_usernames[:3])}"
                  f"{', ...' if result.staff_created > 3 else ''}); their password is: {result.password}\n")
    if result.categories_created:
        err.write(f"Created {result.categories_created} categories.\n")
    ids = (f" (ids {result.first_ticket_id}-{result.last_ticket_id})" if result.first_ticket_id else "")
    err.write(
        f"Added {result.tickets:,} tickets{ids}, {result.replies:,} replies, {result.notes:,} notes, "
        f"{result.events:,} history rows, {result.customers:,} customers in {result.seconds:.1f} s\n"
        f"Rate: {result.rate:,.0f} tickets/s ({result.rows / result.seconds if result.seconds else 0:,.0f} rows/s)"
        f"  seed={result.seed}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
