"""Email typo suggestions (HESK's ``detect_typos``): "Did you mean name@gmail.com?" when the domain of an
address is a near miss of a well-known provider (``email_providers``).

HESK's measure is kept: a Levenshtein distance from the typed domain to each provider in which adding a
character costs 2, changing one 1 and removing one 3; the closest provider under 4 is suggested (so
``gmial.com``, ``gmai.com``, ``gmaill.com`` and ``yahoo.co`` are caught). One guard is added: the cost may
be at most a third of the provider's length, so a short real domain is not "corrected" into another one
(HESK would ask whether ``acme.com`` meant ``live.com``: three letters changed out of four). An exact
provider, or a domain far from all of them, gets no suggestion.
"""
from __future__ import annotations

from hesk_py import settings

INSERT, REPLACE, DELETE = 2, 1, 3  # HESK: levenshtein($domain, $provider, 2, 1, 3)
THRESHOLD = 4
MAX_ADDRESS = 255


def distance(typed: str, provider: str) -> int:
    """The cost of turning ``typed`` into ``provider`` (HESK's weights)."""
    previous = [j * INSERT for j in range(len(provider) + 1)]
    for i, a in enumerate(typed, 1):
        current = [i * DELETE]
        for j, b in enumerate(provider, 1):
            current.append(min(previous[j] + DELETE, current[j - 1] + INSERT,
                               previous[j - 1] + (0 if a == b else REPLACE)))
        previous = current
    return previous[-1]


def suggest(address: str, providers: list[str] | None = None) -> str | None:
    """The address with its domain corrected, or None (no typo found, or not an address)."""
    address = (address or "").strip()
    if len(address) > MAX_ADDRESS or address.count("@") != 1:
        return None
    local, domain = address.rsplit("@", 1)
    domain = domain.lower()
    if not local or not domain:
        return None
    known = [p.lower() for p in (providers if providers is not None else settings.get("email_providers"))]
    if domain in known:
        return None
    best, best_cost = None, THRESHOLD
    for provider in known:
        cost = distance(domain, provider)
        if cost < best_cost and cost <= len(provider) // 3:  # the first of equally close providers, like HESK
            best, best_cost = provider, cost
    return f"{local}@{best}" if best else None


def suggestion_for(address: str) -> str | None:
    """``suggest`` when typo detection is on (the setting), else None."""
    if not settings.get("detect_typos"):
        return None
    return suggest(address)
