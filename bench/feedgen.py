"""Realistic generated RSS feeds about a fictional business, for the demo and the benchmarks.

`python -m bench.feedgen --demo` rewrites the recorded demo feeds in data/demo/feeds/ (the
same seed gives the same files). The benchmarks call `generate_feed` directly.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the newest item of the recorded feeds

BRANDS = ["Nimbus Notes", "Nimbus Notes", "NimbusNotes", "Nimbus Sync"]
RIVALS = ["Quillpad", "PaperTrail app"]

POSITIVE = [
    "I switched to {b} last month and honestly it's been great.",
    "{b} is the best note-taking tool I've used in years. Love the new editor!",
    "Huge thanks to the {b} support team, they fixed my issue in ten minutes.",
    "The offline mode in {b} is brilliant and it just works.",
    "Really impressed with how fast {b} has become after the update.",
    "Recommended {b} to my whole team and everyone is happy with it.",
    "{b} keeps getting better, the search is excellent now.",
    "Tried {r} and {b}; {b} wins easily for me, much cleaner.",
]
NEGATIVE = [
    "{b} lost my notes again after the sync update. This is unacceptable.",
    "Is {b} down? Sync has been broken all morning and support is not answering.",
    "I'm cancelling my {b} subscription, the price hike is ridiculous.",
    "Really disappointed with {b} lately, the app is slow and buggy.",
    "{b} charged me twice and nobody replies to my emails. Terrible service.",
    "Thinking of switching from {b} to {r}, the mobile app keeps crashing.",
    "Why does {b} not support markdown tables yet? Frustrating.",
    "The new {b} interface is awful, I can't find anything.",
]
NEUTRAL = [
    "{b} announced a new pricing tier for small teams on Tuesday.",
    "Does anyone know if {b} can export to PDF?",
    "{b} released version 4.2 with changes to sharing and templates.",
    "Comparing {b} and {r} for our company wiki, any experiences?",
    "{b} will host a webinar about team knowledge bases next week.",
    "How do I move my notebooks from {r} to {b}?",
]
OUTAGE = [
    "{b} sync outage: notes are not syncing across devices and users are angry.",
    "Another {b} outage today. Lost an hour of work, this is a disaster.",
    "{b} status page says degraded performance; sync failing for many users.",
    "Still no word from {b} on the sync failure. Very poor communication.",
]
PERSON = [
    "Interview: Nimbus Notes CEO Dana Whitfield on building a calm, profitable company.",
    "Dana Whitfield says the sync problems are fixed and apologises to customers.",
    "Great keynote by Dana Whitfield today, inspiring and honest.",
    "Dana Whitfield dodged every question about the price increase. Not impressed.",
]
RIVAL_ONLY = [
    "{r} launched a redesigned mobile app with faster search.",
    "{r} raised prices again, users are not happy about it.",
    "Is {r} worth it for a small team? Looking for honest opinions.",
    "{r} added AI summaries to every note, and reviews are mixed.",
]
OFF_TOPIC = [
    "The city council approved the new bike lane plan after a long debate.",
    "Researchers published a study on sleep and productivity in remote teams.",
    "A new open-source database promises faster analytics on a laptop.",
    "Five tips for keeping your inbox under control this winter.",
    "The quarterly jobs report shows steady growth in the tech sector.",
    "Review: a mechanical keyboard that is quiet enough for the office.",
    "Why small businesses are moving their bookkeeping to the cloud.",
    "The best podcasts about design and typography, picked by our editors.",
]
FILLER = [
    "The company, founded in 2019, serves around 40,000 teams worldwide.",
    "Prices start at &pound;6 per user per month, with a free plan for individuals.",
    'More details are on the <a href="https://example.com/blog">official blog</a>.',
    "Several readers wrote in to share similar experiences &mdash; thank you.",
    "<em>Update:</em> this post was edited to add a response from the company.",
    "The discussion thread has more than 120 replies so far.",
    "<strong>Disclosure:</strong> the author pays for the product with their own money.",
]
AUTHORS = ["Priya S.", "Tom Becker", "Ana Lima", "jdoe", "M. Okafor", "Lena", "Chris P.", "kai_r"]


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    link: str
    description_html: str
    author: str
    published: datetime


def _sentence(rng: random.Random, outage: bool, on_topic: float) -> tuple[str, str]:
    roll = rng.random()
    b, r = rng.choice(BRANDS), rng.choice(RIVALS)
    if outage and roll < 0.6:
        pool = OUTAGE
    elif roll < on_topic * 0.35:
        pool = POSITIVE
    elif roll < on_topic * 0.6:
        pool = NEGATIVE
    elif roll < on_topic * 0.8:
        pool = NEUTRAL
    elif roll < on_topic * 0.87:
        pool = PERSON
    elif roll < on_topic:
        pool = RIVAL_ONLY
    else:
        pool = OFF_TOPIC
    s = rng.choice(pool).format(b=b, r=r)
    return s, s.split(".")[0].split("?")[0][:90]


def generate_items(
    n: int, seed: int, site: str, end: datetime = ANCHOR, days: int = 30, on_topic: float = 0.7
) -> list[Item]:
    rng = random.Random(seed)
    items = []
    outage_day = end - timedelta(days=5)
    spike = n // 6 if days >= 10 else 0  # extra items around the outage day
    for i in range(n + spike):
        if i < n:
            published = end - timedelta(seconds=rng.randrange(days * 86400))
        else:
            published = outage_day + timedelta(seconds=rng.randrange(-43200, 43200))
        outage = abs((published - outage_day).total_seconds()) < 86400 and rng.random() < 0.8
        lead, title = _sentence(rng, outage, on_topic)
        paragraphs = [escape(lead)] + [rng.choice(FILLER) for _ in range(rng.randint(1, 3))]
        html = "".join(f"<p>{p}</p>" for p in paragraphs)
        items.append(
            Item(
                guid=f"https://{site}/post/{seed}-{i}",
                title=title,
                link=f"https://{site}/post/{seed}-{i}",
                description_html=html,
                author=rng.choice(AUTHORS),
                published=published.replace(microsecond=0),
            )
        )
    items.sort(key=lambda it: it.published, reverse=True)
    return items


def render_rss(items: list[Item], title: str, site: str) -> bytes:
    entries = "".join(
        f"<item><title>{escape(it.title)}</title><link>{escape(it.link)}</link>"
        f'<guid isPermaLink="true">{escape(it.guid)}</guid>'
        f"<dc:creator>{escape(it.author)}</dc:creator>"
        f"<pubDate>{format_datetime(it.published)}</pubDate>"
        f"<description>{escape(it.description_html)}</description></item>\n"
        for it in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>https://{site}/</link>"
        f"<description>{escape(title)}</description>\n{entries}</channel></rss>\n"
    ).encode()


DEMO_FEEDS = {
    # file stem: (title, site, items, share of items about the business or its rivals)
    "technews": ("Tech Daily", "techdaily.example", 140, 0.35),
    "productivity-blog": ("The Productive Week", "productiveweek.example", 90, 0.8),
    "app-reviews": ("App Review Digest", "appreviews.example", 120, 0.95),
    "community-forum": ("Notes Users Forum", "forum.notesusers.example", 160, 0.9),
    "nimbus-blog": ("Nimbus Notes Blog", "blog.nimbusnotes.example", 40, 1.0),
    "startup-news": ("Startup Wire", "startupwire.example", 110, 0.4),
}


def write_demo_feeds(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (stem, (title, site, n, on_topic)) in enumerate(DEMO_FEEDS.items(), 1):
        items = generate_items(n, seed, site, on_topic=on_topic)
        (folder / f"{stem}.xml").write_bytes(render_rss(items, title, site))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", type=Path, default=Path("data/demo/feeds"))
    write_demo_feeds(parser.parse_args().demo)
