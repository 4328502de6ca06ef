"""Realistic generated RSS feeds about a fictional business, for the demo and the benchmarks.

`python -m bench.feedgen --demo` rewrites the recorded demo feeds in data/demo/recorded/ (the
same seed gives the same files). The benchmarks call `generate_feed` directly.
"""

from __future__ import annotations

import argparse
import json
import random
import re
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
# What makes one person's post their own: without these, two posts from the same template would
# be word-for-word copies, which the near-duplicate grouping rightly counts as one story.
OPENERS = ["", "", "", "Honest take:", "Quick update.", "Day {n} with it.", "PSA:", "Small rant.",
           "Just noticed:", "FWIW,", "Okay so", "Update from our office:"]  # fmt: skip
DETAILS = [
    "I keep about {n} notebooks in it, {m} of them shared with my team.",
    "Running it on a {d} and a {e}, both on the latest version.",
    "We have {m} seats on the business plan since {y}.",
    "Ticket #{t} if anyone from the company reads this.",
    "My setup: {d}, roughly {n}00 notes, daily use since {y}.",
    "Our team of {m} moved over from spreadsheets back in {y}.",
    "Been a paying customer for {m} years, mostly for meeting notes and recipes.",
    "Tried it again this morning on my {d} before writing this.",
    "Our {m} person studio in {c} relies on it for client briefs.",
    "Posting from {c}, where it is {n} degrees and raining.",
]
DEVICES = ["Pixel 8", "ThinkPad", "iPad Air", "MacBook Pro", "Galaxy S23", "Surface Go",
           "Chromebook", "iPhone 15", "Linux desktop", "Windows 11 laptop"]  # fmt: skip
CITIES = ["Leeds", "Porto", "Austin", "Lyon", "Dublin", "Pune", "Malmo", "Ghent", "Quito"]
# One news story that several sites publish, lightly edited: syndication the dashboard should
# count once ("also on N sites").
SYNDICATED = (
    "Nimbus Notes has published a post-mortem of last week's sync outage. The company says a "
    "faulty database migration left notes unsynced for up to nine hours for about a fifth of "
    "its users, that no notes were permanently lost, and that affected customers on paid plans "
    "will receive a month of service for free. Chief executive Dana Whitfield apologised and "
    "promised a public status page and staged roll-outs of future updates."
)
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
    title = s.split(".")[0].split("?")[0][:90]
    opener = rng.choice(OPENERS).format(n=rng.randint(2, 90))
    details = [
        rng.choice(DETAILS).format(
            n=rng.randint(3, 60), m=rng.randint(2, 25), y=rng.randint(2015, 2025),
            t=rng.randint(10000, 99999), d=rng.choice(DEVICES), e=rng.choice(DEVICES),
            c=rng.choice(CITIES),
        )
        for _ in range(rng.randint(1, 2))
    ]  # fmt: skip
    return " ".join(x for x in [opener, s, *details] if x), title


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


SYNDICATED_ON = {  # feed stem: its own first words for the syndicated story
    "technews": "From our partners:",
    "startup-news": "Reported by Startup Wire staff.",
    "productivity-blog": "Worth a read for anyone who lost work last week.",
}


def write_demo_feeds(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (stem, (title, site, n, on_topic)) in enumerate(DEMO_FEEDS.items(), 1):
        items = generate_items(n, seed, site, on_topic=on_topic)
        if stem in SYNDICATED_ON:
            when = ANCHOR - timedelta(days=3, hours=seed)
            items.append(
                Item(
                    f"https://{site}/news/sync-post-mortem",
                    "Nimbus Notes explains the outage",
                    f"https://{site}/news/sync-post-mortem",
                    f"<p>{escape(SYNDICATED_ON[stem])} {escape(SYNDICATED)}</p>",
                    "Newsdesk",
                    when,
                )  # fmt: skip
            )
            items.sort(key=lambda it: it.published, reverse=True)
        (folder / f"{stem}.xml").write_bytes(render_rss(items, title, site))


# --- recorded answers of the social and search APIs, in their real shapes -----------------

SHARED_LINK = "https://blog.nimbusnotes.example/post-mortem"


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _text(it: Item) -> str:
    return re.sub(r"<[^>]+>", " ", it.description_html.split("</p>", 1)[0]).strip()


def hackernews_answer(items: list[Item]) -> dict:
    hits = []
    for i, it in enumerate(items):
        base = {"author": it.author.replace(" ", "_"), "created_at": _iso(it.published),
                "created_at_i": _epoch(it.published), "objectID": str(42000000 + i)}  # fmt: skip
        if i % 3:
            hits.append({**base, "_tags": ["comment"], "comment_text": f"<p>{escape(_text(it))}</p>",
                         "story_title": it.title, "points": None})  # fmt: skip
        else:
            hits.append({**base, "_tags": ["story"], "title": it.title, "points": 5 + (i * 37) % 300,
                         "url": SHARED_LINK if i % 9 == 0 else None, "num_comments": i % 40})  # fmt: skip
    return {"hits": hits, "nbHits": len(hits), "page": 0, "nbPages": 1, "hitsPerPage": 100}


def reddit_answer(items: list[Item]) -> dict:
    children = []
    for i, it in enumerate(items):
        name = f"{'t1' if i % 2 else 't3'}_demo{i}"
        data = {"name": name, "id": f"demo{i}", "author": it.author.replace(" ", "_"),
                "created_utc": float(_epoch(it.published)), "score": (i * 53) % 900,
                "subreddit": "productivity",
                "permalink": f"/r/productivity/comments/demo{i}/"}  # fmt: skip
        if i % 2:
            data |= {"body": _text(it), "link_title": it.title}
        else:
            shared = SHARED_LINK if i % 8 == 0 else None
            data |= {"title": it.title, "selftext": "" if shared else _text(it),
                     "is_self": shared is None, "url": shared or f"https://www.reddit.com{data['permalink']}"}  # fmt: skip
        children.append({"kind": name[:2], "data": data})
    return {"kind": "Listing", "data": {"after": None, "children": children}}


def mastodon_answer(items: list[Item]) -> list:
    statuses = []
    for i, it in enumerate(items):
        acct = f"{it.author.split()[0].lower().strip('.')}{i}@social.example"
        statuses.append({
            "id": str(113600000000000000 + i), "created_at": _iso(it.published),
            "uri": f"https://social.example/users/u{i}/statuses/{i}",
            "url": f"https://social.example/@u{i}/{i}", "spoiler_text": "", "reblog": None,
            "content": f"<p>{escape(_text(it))} <a href=\"https://social.example/tags/nimbusnotes\">#<span>NimbusNotes</span></a></p>",
            "account": {"acct": acct, "followers_count": (i * 97) % 4000},
            "card": {"url": SHARED_LINK} if i % 10 == 0 else None,
        })  # fmt: skip
    return sorted(statuses, key=lambda s: s["id"], reverse=True)


def bluesky_answer(items: list[Item]) -> dict:
    posts = []
    for i, it in enumerate(items):
        handle = f"{it.author.split()[0].lower().strip('.')}{i}.bsky.social"
        record = {"text": _text(it), "createdAt": _iso(it.published)}
        if i % 7 == 0:
            record["embed"] = {"external": {"uri": SHARED_LINK}}
        posts.append({"uri": f"at://did:plc:demo{i}/app.bsky.feed.post/3kdemo{i}",
                      "author": {"handle": handle}, "record": record,
                      "likeCount": (i * 13) % 200, "repostCount": i % 9})  # fmt: skip
    return {"posts": posts}


def news_search_rss(items: list[Item]) -> bytes:
    publishers = ["Tech Daily", "Startup Wire", "The Productive Week", "Business Insider-ish"]
    entries = "".join(
        f"<item><title>{escape(it.title)} - {publishers[i % 4]}</title>"
        f"<link>https://news.google.example/rss/articles/demo{i}</link>"
        f'<guid isPermaLink="false">demo{i}</guid><pubDate>{format_datetime(it.published)}</pubDate>'
        f"<description>{escape(it.title)}</description>"
        f'<source url="https://publisher{i % 4}.example">{publishers[i % 4]}</source></item>\n'
        for i, it in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Nimbus Notes - Google News</title>\n{entries}</channel></rss>\n"
    ).encode()


def reviews_page(items: list[Item]) -> bytes:
    articles = "".join(
        f'<article class="review"><h3 class="title">{escape(it.title)}</h3>'
        f'<a class="permalink" href="/reviews/{i}">link</a><span class="by">{escape(it.author)}</span>'
        f'<time datetime="{_iso(it.published)}">{it.published:%d %b %Y}</time>'
        f'<div class="body">{it.description_html}</div></article>\n'
        for i, it in enumerate(items)
    )
    return (
        "<!doctype html><html><head><title>Nimbus Notes reviews</title></head><body>"
        f'<section id="reviews">\n{articles}</section></body></html>\n'
    ).encode()


def write_demo_social(folder: Path) -> None:
    """The recorded answers `tidings demo` serves, at the paths each API uses."""

    def items(seed: int, n: int) -> list[Item]:
        return generate_items(n, 100 + seed, "social.example", on_topic=0.95)

    files = {
        "hn/api/v1/search_by_date": json.dumps(hackernews_answer(items(1, 45))),
        "reddit/search.json": json.dumps(reddit_answer(items(2, 45))),
        "mastodon/api/v1/timelines/tag/nimbusnotes": json.dumps(mastodon_answer(items(3, 35))),
        "bsky/xrpc/app.bsky.feed.searchPosts": json.dumps(bluesky_answer(items(4, 35))),
        "news/rss/search": news_search_rss(items(5, 25)).decode(),
        "reviews.html": reviews_page(items(6, 15)).decode(),
    }
    for relative, body in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", type=Path, default=Path("data/demo/recorded"))
    folder = parser.parse_args().demo
    write_demo_feeds(folder)
    write_demo_social(folder)
