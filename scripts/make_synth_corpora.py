"""Regenerate the bundled corpora with Faker (a one-off dev tool; Faker is not a runtime need).

Run from the repository root:
    .venv/bin/pip install faker
    .venv/bin/python scripts/make_synth_corpora.py
The output is deterministic for a given Faker version (seeded); the files are committed.
"""

from __future__ import annotations

import random
import re
import unicodedata
from pathlib import Path

from faker import Faker  # type: ignore[import-not-found,unused-ignore]

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE", "pt_BR")
HERE = Path(__file__).resolve().parent.parent / "src" / "shieldx" / "camouflage" / "synth" / "data"
NAME_RE = re.compile(r"[a-z][a-z'-]*[a-z]")
USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]*[a-z0-9]")
MERCHANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 &',.-]*[A-Za-z0-9.]")

# fmt: off
CATEGORIES = (
    "Cafe", "Coffee Co.", "Bakery", "Pharmacy", "Grocery", "Market", "Hardware", "Books",
    "Auto Repair", "Dental", "Fitness", "Pizza", "Deli", "Florist", "Pet Supply", "Liquors",
    "Tavern", "Bistro", "Electronics", "Outfitters", "Salon", "Barbershop", "Cleaners",
    "Garden Center", "Boutique", "Jewelers", "Optical", "Travel", "Motors", "Tire & Auto",
    "Sushi", "Taqueria", "Grill", "Diner", "Brewing Co.", "Supply Co.", "Trading Co.",
    "Furniture", "Home Goods", "Sporting Goods", "Wine Bar", "Noodle House", "Burger Bar",
    "Kitchen", "Fuel", "Gas & Go", "Car Wash", "Laundromat", "Vet Clinic", "Toys",
)
PLACES = (
    "Oak", "Maple", "River", "Riverside", "Harbor", "Summit", "Golden", "Blue", "Red Rock",
    "Green Valley", "Sunset", "Lakeside", "Hillside", "Main Street", "Union", "Liberty",
    "Pioneer", "Northside", "Eastside", "Westgate", "Bayview", "Cedar", "Pine", "Silver",
    "Copper", "Urban", "Village", "Corner", "Metro", "Central", "Parkway", "Midtown",
)
# fmt: on
SUFFIXES = ("Inc.", "LLC", "Ltd", "& Co.", "Group", "Store", "Shop", "Express", "Direct")


def ascii_fold(text: str) -> str:
    """Strip accents so the corpora stay ASCII (é -> e, ß -> ss)."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def person_names(fakers: list[Faker], attribute: str) -> list[str]:
    """Every first or last name the locales' person providers know, ASCII-folded."""
    names: set[str] = set()
    for fake in fakers:
        provider = fake.provider("faker.providers.person")
        for name in getattr(provider, attribute, ()):
            folded = ascii_fold(str(name)).lower()
            if NAME_RE.fullmatch(folded):
                names.add(folded)
    return sorted(names)


def usernames(
    fakers: list[Faker], first: list[str], last: list[str], rng: random.Random
) -> list[str]:
    """Faker's user names plus separator/digit variants people actually pick."""
    found: set[str] = set()
    while len(found) < 9000:
        found.add(ascii_fold(rng.choice(fakers).user_name()).lower())
    patterns = ("{f}.{l}", "{f}_{l}", "{f}{l}{n}", "{i}{l}{n}", "{f}.{l}{n}", "{l}{f}", "{f}{n}")
    while len(found) < 12000:
        parts = {"f": rng.choice(first), "l": rng.choice(last), "n": str(rng.randint(1, 99))}
        parts["i"] = parts["f"][0]
        found.add(rng.choice(patterns).format(**parts).replace("'", ""))
    return sorted(name for name in found if USERNAME_RE.fullmatch(name))


def merchants(fakers: list[Faker], rng: random.Random) -> list[str]:
    """Storefront-style merchant names: companies, family businesses and place names."""
    found: set[str] = set()
    while len(found) < 6000:
        fake = rng.choice(fakers[:2])
        shape = rng.random()
        if shape < 0.3:
            name = fake.company()
        elif shape < 0.55:
            owner = fake.last_name()
            possessive = "'" if owner.endswith("s") else "'s"
            name = f"{owner}{possessive} {rng.choice(CATEGORIES)}"
        elif shape < 0.8:
            name = f"{rng.choice(PLACES)} {rng.choice(CATEGORIES)}"
        else:
            name = f"{fake.last_name()} {rng.choice(CATEGORIES)} {rng.choice(SUFFIXES)}"
        folded = ascii_fold(name)
        if MERCHANT_RE.fullmatch(folded):
            found.add(folded)
    return sorted(found)


def main() -> None:
    """Write the four corpus files next to this script."""
    fakers = []
    for index, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(index)
        fakers.append(fake)
    rng = random.Random(20250101)
    first = person_names(fakers, "first_names")
    last = person_names(fakers, "last_names")
    corpora = {
        "first_names": first,
        "surnames": last,
        "usernames": usernames(fakers, first, last, rng),
        "merchants": merchants(fakers, rng),
    }
    for name, words in corpora.items():
        (HERE / f"{name}.txt").write_text("\n".join(words) + "\n", encoding="ascii")
        print(f"{name}: {len(words)}")


if __name__ == "__main__":
    main()
