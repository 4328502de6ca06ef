"""Realistic generated RSS feeds about a fictional business, for the demo and the benchmarks.

`python -m bench.feedgen --demo` rewrites the recorded demo feeds in data/demo/recorded/ (the
same seed gives the same files). The benchmarks call `generate_feed` directly.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the newest item of the recorded feeds

BRANDS = ["Nimbus Notes", "Nimbus Notes", "NimbusNotes", "Nimbus Sync"]
RIVALS = ["Quillpad", "PaperTrail app"]

# --- customers: first-person posts on forums, review sites and social networks ---------------
# (the benchmarks score these pools too)

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
# A customer's praise, whichever brand and rival it names (tests: never read as a complaint).
PRAISED = re.compile(
    "|".join(re.escape(p).replace(r"\{b\}", ".+?").replace(r"\{r\}", ".+?") for p in POSITIVE)
)
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
CHATTER = [
    "Off topic, but what is everyone reading this month?",
    "Does anyone here use a standing desk at home? Worth it after {m} months?",
    "Happy Friday, everyone. Any plans for the weekend?",
    "Looking for a good weekly planner template, paper or digital.",
    "My cat walked across the keyboard and sent half an email to my landlord.",
    "Which fountain pen do you use for handwritten notes?",
]


@dataclass(frozen=True)
class Voice:
    """How one kind of site writes. `leads`: per topic, (headline, first sentence); an empty
    headline is the sentence's first clause, as people title their posts. Then, per item, an
    opener matching the lead's tone (people only), one or two sentences of the voice's own
    (`about` names the company the item is about, `{co}`; `general` fits any item), and the
    site's closing paragraphs. Without this variety two items of one template would be
    word-for-word copies, which the near-duplicate grouping rightly counts as one story."""

    leads: dict[str, list[tuple[str, str]]]
    about: list[str]
    general: list[str]
    closing: list[str]
    authors: list[str]
    openers: dict[str, list[str]] = field(default_factory=dict)
    brands: list[str] = field(default_factory=lambda: ["Nimbus Notes"])  # as it writes the name
    follow: tuple[int, int] = (2, 2)  # how many of its own sentences follow a lead


def _plain(pool: list[str]) -> list[tuple[str, str]]:
    return [("", s) for s in pool]


CUSTOMER = Voice(
    leads={
        "positive": _plain(POSITIVE),
        "negative": _plain(NEGATIVE),
        "neutral": _plain(NEUTRAL),
        "outage": _plain(OUTAGE),
        "person": _plain(PERSON),
        "rival": _plain(RIVAL_ONLY),
        "off": _plain(CHATTER),
    },
    openers={  # matching the lead's tone
        "positive": ["", "", "", "Happy customer here.", "Shout-out time.", "Day {n} with it."],
        "negative": ["", "", "", "Small rant.", "Ugh.", "Day {n} of this.", "Not happy."],
        "neutral": ["", "", "", "Hi all.", "Quick one.", "Long-time lurker here."],
    },
    about=[
        "I keep about {n} notebooks in it, {m} of them shared with my team.",
        "Running it on my {d} and my {e}, both up to date.",
        "We have {m} seats on the business plan since {y}.",
        "Ticket #{t} if anyone from the company reads this.",
        "My setup: {d}, roughly {n}00 notes, daily use since {y}.",
        "Our team of {m} moved over from spreadsheets back in {y}.",
        "Been a paying customer since {y}, mostly for meeting notes and recipes.",
        "Tried it again this morning on my {d} before writing this.",
        "Our {m} person studio in {c} relies on it for client briefs.",
    ],
    general=["Posting from {c}, where it is {m} degrees and raining.", "Sent from my {d}."],
    closing=[
        "Edit: fixed a typo.",
        "Thanks for reading.",
        "Sorry for the long post.",
        "<em>Edit:</em> added my setup above.",
        "Thanks in advance for any pointers.",
        "(Cross-posted from the help forum.)",
    ],
    brands=BRANDS,
    follow=(1, 2),
    authors=[
        "Priya S.",
        "Tom Becker",
        "Ana Lima",
        "jdoe",
        "M. Okafor",
        "Lena",
        "Chris P.",
        "kai_r",
        "notes_nerd",
        "Rui F.",
    ],
)

# --- news sites: third person, headlines, attributions --------------------------------------

NEWS = Voice(
    leads={
        "positive": [
            (
                "{b} passes {n},000 paying teams",
                "{b} said on {day} that more than {n},000 teams now pay for it, up from {k},000 a "
                "year ago, crediting its offline mode and faster search.",
            ),
            (
                "Reviewers warm to {feature} in {b}",
                "Early reviews of {feature} in {b}, shipped in {month}, are largely positive: {m} of "
                "{k}0 testers praised its speed on the {d}.",
            ),
            (
                "{b} support ranked best in class by {firm}",
                "{b} answered support requests faster than any of {n} rival apps in a survey by "
                "{firm}, with a median reply within {m} minutes.",
            ),
        ],
        "negative": [
            (
                "{b} raises prices of its {plan} plan by {p} percent",
                "Subscribers to the {plan} plan of {b} will pay more from {month}, the company "
                "said, a rise several customers in {c} called unfair.",
            ),
            (
                "{b} customers report double charges in {month}",
                "A number of {b} customers on the {plan} plan say they were charged twice in "
                "{month} and waited {m} days for a refund.",
            ),
            (
                "{b} update draws complaints from {d} users",
                "The latest {b} update for the {d} has drawn {n}0 one-star reviews, with users "
                "describing crashes and slow loading.",
            ),
        ],
        "neutral": [
            (
                "{b} releases version 4.{v}",
                "{b} released version 4.{v} on {day}, with changes to {feature} and to sharing.",
            ),
            (
                "{b} adds a plan for teams of up to {m}",
                "{b} introduced a pricing tier for teams of up to {m} people on {day}, priced "
                "between its free and {plan} plans.",
            ),
            (
                "{b} opens an office in {c}",
                "{b} will open an office in {c} in {month} and plans to hire about {m} people "
                "there, the company said.",
            ),
        ],
        "outage": [
            (
                "{b} users report a sync outage on {day}",
                "Users of {b} in {c} and elsewhere reported on {day} that notes had stopped "
                "syncing between devices, and the status page showed degraded performance.",
            ),
            (
                "{b} sync failure angers customers",
                "Customers of {b} vented their anger online after a sync failure left notes "
                "missing on the {d} and the {e} for much of {day}.",
            ),
            (
                "{b} hit by a second outage in a week",
                "{b} suffered its second outage in a week on {day}, from {hour}:00 UK time, and "
                "users complained that the company was slow to explain what went wrong.",
            ),
        ],
        "person": [
            (
                "Interview: Dana Whitfield on building a calm company",
                "Nimbus Notes chief executive Dana Whitfield talks about growing a profitable "
                "company without venture capital and about the year ahead.",
            ),
            (
                "Dana Whitfield apologises for sync problems",
                "Dana Whitfield, chief executive of Nimbus Notes, apologised to customers on "
                "{day} and said the sync problems had been fixed.",
            ),
            (
                "Dana Whitfield declines to discuss price rise",
                "Dana Whitfield declined to answer questions about the latest Nimbus Notes price "
                "increase at a conference in {c} on {day}.",
            ),
        ],
        "rival": [
            (
                "{r} launches a redesigned mobile app",
                "{r} released a redesigned mobile app on {day}, promising faster search and a "
                "simpler editor.",
            ),
            (
                "{r} raises prices by {p} percent",
                "{r} is raising its prices from {month}, its second increase in {m} months, and "
                "users are not happy about it.",
            ),
            (
                "{r} adds AI summaries to every note",
                "{r} now writes an AI summary of every note, a feature reviewers have greeted "
                "with mixed feelings.",
            ),
        ],
        "off": [
            (
                "{c} approves a new bike lane plan",
                "The city council in {c} approved a {n}-kilometre network of bike lanes on {day} "
                "after a long debate, with work due to start in {month}.",
            ),
            (
                "Jobs report: {c} adds {jobs} tech jobs",
                "The quarterly jobs report for {c}, published on {day}, shows its tech sector "
                "added {jobs} jobs, {growth} percent more than in the previous quarter.",
            ),
            (
                "Small businesses in {c} move their bookkeeping to the cloud",
                "More small businesses in {c} now keep their bookkeeping in cloud software than "
                "on paper, a survey of {n}0 owners by {firm} found.",
            ),
            (
                "A new open-source database promises faster analytics",
                "Version {v}.0 of an open-source analytics database, released on {day}, runs "
                "queries over a billion rows on an ordinary laptop, its authors say.",
            ),
            (
                "Crypto payments remain rare among small businesses",
                "Only {p} percent of small businesses in {c} accept crypto payments, according "
                "to {firm}, and most of those receive fewer than {m} a month.",
            ),
            (
                "{c} airport adds {m} new routes",
                "The airport in {c} will add {m} new routes in {month}, most of them to cities "
                "within two hours' flight.",
            ),
            (
                "Electric scooters return to {c}",
                "Rental electric scooters are back on the streets of {c} after a ban of {m} "
                "months, with a speed limit of {n} kilometres an hour.",
            ),
        ],
    },
    about=[
        "{co} did not respond to a request for comment by {hour}:00 on {day}.",
        "A spokesperson for {co} said more details would follow in the coming weeks.",
        "{co} says it serves about {n},000 teams and employs {m}0 people, most of them in {c}.",
        "Prices at {co} start at {price} per user per month, with a free plan for individuals.",
        "In a statement, {co} said it was listening closely to its customers.",
    ],
    general=[
        "Additional reporting by {reporter}.",
        "{firm}, a research firm in {c}, contributed figures to this report.",
        "Our correspondent {reporter} contributed from {c}.",
        "This article was updated on {day} to add {what}.",
        "The story was first reported by our colleagues in {c}.",
    ],
    closing=[
        "<em>Sign up</em> for our morning briefing.",
        "Have a tip? Write to the newsdesk.",
        "Read more of our coverage on the front page.",
        "<strong>Corrections:</strong> write to the editors.",
    ],
    authors=["Priya Shah", "Tom Becker", "Ana Lima", "Marcus Okafor", "Lena Vogel", "Chris Park"],
)

# --- blogs: one writer's first person, about tools and how they work ----------------------

BLOG = Voice(
    leads={
        "positive": [
            (
                "Why I moved my team's notes to {b}",
                "After {n} weeks of testing, I moved my team's notes to {b}, and {feature} alone "
                "made it worth it.",
            ),
            (
                "{b}'s {feature} is excellent",
                "I leaned on {feature} in {b} all {month} across {n}00 notes, and it never once let "
                "me down.",
            ),
            (
                "Three things {b} gets right",
                "{b} is the calmest note-taking tool I have used: quick to open, quiet, and easy to "
                "share with a team of {m}.",
            ),
            (
                "{b} beats {r} for a small team",
                "I used {r} and {b} side by side for {m} weeks; {b} won easily, with a cleaner editor "
                "and better {feature}.",
            ),
            (
                "A month of meeting notes in {b}",
                "I took every meeting note in {b} for a month, {n} meetings in all, and I am "
                "keeping the habit.",
            ),
        ],
        "negative": [
            (
                "{b}'s price rise made me look elsewhere",
                "The new {b} prices would cost my team {p} percent more a year, so I spent this week "
                "looking at alternatives.",
            ),
            (
                "What the new {b} interface gets wrong",
                "The redesigned {b} interface hides {feature}, and after {m} days I still have to "
                "hunt for it.",
            ),
            (
                "{b} still has no markdown tables",
                "Markdown tables are what readers ask me about most, and {b} still does not support "
                "them after {m} releases. Frustrating.",
            ),
            (
                "I was charged twice by {b}",
                "{b} charged my card twice in {month}, and it took {m} emails to get one of the "
                "payments back.",
            ),
        ],
        "neutral": [
            (
                "How to export {b} notebooks to PDF",
                "Exporting a notebook from {b} to PDF takes {m} clicks once you know where to look; "
                "here is the path.",
            ),
            (
                "{b} or {r} for a company wiki?",
                "Readers keep asking whether {b} or {r} makes a better company wiki, so I compared "
                "them on {m} criteria.",
            ),
            (
                "Moving your notebooks from {r} to {b}",
                "Moving {n}0 notebooks from {r} to {b} took me an evening; these are the steps that "
                "worked.",
            ),
            (
                "Setting up {feature} in {b}",
                "A reader asked how I set up {feature} in {b}, so here is my configuration, step "
                "by step.",
            ),
        ],
        "outage": [
            (
                "What the {b} sync outage taught me about backups",
                "The {b} sync outage cost me an afternoon of work and reminded me to keep a local "
                "backup of everything.",
            ),
            (
                "{b} is down again, and I lost an hour",
                "{b} stopped syncing again this morning and I lost an hour of edits. This is "
                "getting hard to defend.",
            ),
            (
                "Notes that would not sync: a day with {b}",
                "For most of today {b} refused to sync between my {d} and my {e}, and its status "
                "page admitted as much.",
            ),
        ],
        "person": [
            (
                "Notes from Dana Whitfield's keynote",
                "Dana Whitfield's keynote in {c} was honest about what went wrong this year and "
                "inspiring about what comes next.",
            ),
            (
                "Dana Whitfield dodged the pricing question",
                "I asked Dana Whitfield about the price increase at the keynote in {c} and got no "
                "answer. Not impressed.",
            ),
        ],
        "rival": [
            (
                "I tried {r} for a month",
                "{r} has a redesigned mobile app with faster search, so I used it for {m} weeks; "
                "its AI summaries left me unconvinced.",
            ),
            (
                "Is {r} worth it for a small team?",
                "Readers ask whether {r} is worth paying for in a team of {m}; my honest answer "
                "after {n} days of use.",
            ),
        ],
        "off": [
            (
                "{m} tips for keeping your inbox under control",
                "Inbox zero is a myth, but these {m} habits keep mine under a hundred messages, "
                "even in {month}.",
            ),
            (
                "The best podcasts about design and typography, {season} edition",
                "Our editors picked {m} podcasts about design and typography worth your commute "
                "this {season}.",
            ),
            (
                "Review: a mechanical keyboard quiet enough for the office",
                "After {m} weeks of typing on it, this mechanical keyboard is the first I would "
                "bring into a shared office.",
            ),
            (
                "What a study on sleep says about productivity in remote teams",
                "Researchers followed {n}00 people in remote teams for {m} months and found that "
                "sleep, not hours worked, predicted their output.",
            ),
            (
                "A weekly review in {m} steps",
                "Every {day} afternoon I spend {n} minutes on a weekly review; here are the {m} "
                "steps.",
            ),
        ],
    },
    about=[
        "I paid for my own {co} subscription; nobody sponsored this post.",
        "Screenshots were taken with {co} on a {d}.",
        "I have used {co} for {m} months, across {n} projects.",
        "My team of {m} tried it with me, and their verdicts are at the end.",
        "I last wrote about {co} in {month}, and a lot has changed since.",
    ],
    general=[
        "Part {m} of our series on the tools we actually use.",
        "This post first went to the {n},000 readers of our newsletter.",
        "Updated on {day} after readers pointed out a missing step.",
        "My thanks to the {m} readers who sent their own experiences.",
        "I wrote most of this on a train to {c}.",
        "Reading time: {m} minutes.",
    ],
    closing=[
        "Comments are open below, and I read every one.",
        'If this was useful, <a href="https://example.com/newsletter">the newsletter</a> '
        "has one post like it a week.",
        "<em>Next week:</em> a reader's question.",
    ],
    authors=["Jess Moreno", "Jess Moreno", "Sam Kline"],
)

# --- the company's own blog: "we", announcements and incident updates ---------------------

COMPANY = Voice(
    leads={
        "positive": [
            (
                "Introducing {feature} in Nimbus Notes",
                "Today we're introducing {feature}, the feature {m} percent of you asked for in "
                "{month}, on every plan.",
            ),
            (
                "Nimbus Notes now opens {p} percent faster",
                "The latest Nimbus Notes opens {p} percent faster on the {d} and the {e}, after {m} "
                "months of work on start-up time.",
            ),
            (
                "Thank you: {n},000 teams now use Nimbus Notes",
                "This {day} the {n},000th team signed up for Nimbus Notes, {k} times as many as "
                "three years ago, and we want to thank every one of you.",
            ),
            (
                "Customer story: a team of {m} in {c}",
                "A team of {m} people in {c} runs every client brief through Nimbus Notes and "
                "shares {n}0 notebooks; they told us how.",
            ),
        ],
        "negative": [
            (
                "Known issue: some customers were charged twice in {month}",
                "Some customers on the {plan} plan were charged twice in {month}. Refunds reach "
                "them within {m} days, and we are sorry for the trouble.",
            ),
            (
                "Changes to the {plan} plan",
                "From {month}, the {plan} plan costs {p} percent more for teams of more than {m} "
                "people; here is what changes and why.",
            ),
            (
                "Known issue: {feature} on the {d}",
                "On the {d}, {feature} fails to load after the 4.{v} update; a fix ships within "
                "{m} days.",
            ),
            (
                "We are retiring the old {feature}",
                "On {day} {m} {month} the old {feature} goes away for good, {k} years after it "
                "first shipped.",
            ),
        ],
        "neutral": [
            (
                "Nimbus Notes 4.{v} release notes",
                "Nimbus Notes 4.{v} is rolling out this week, with changes to {feature} and to "
                "sharing on the {plan} plan.",
            ),
            (
                "Join our webinar on {feature}",
                "Next {day} we host a webinar on {feature} in Nimbus Notes, with {m} customers "
                "from {c} sharing how they work.",
            ),
            (
                "Nimbus Sync for teams of {m} or more",
                "Nimbus Sync keeps every device of a team up to date; this post explains how, "
                "step by step, for teams of {m} or more on the {plan} plan.",
            ),
            (
                "We are opening an office in {c}",
                "Nimbus Notes is opening an office in {c} this {season}, and we are hiring {m} "
                "people there, {k} of them in support.",
            ),
            (
                "Planned maintenance on {day}",
                "On {day} at {hour}:00 UK time Nimbus Sync pauses for about {m} minutes while we "
                "upgrade its servers.",
            ),
        ],
        "outage": [
            (
                "Incident update: sync delays",
                "We are investigating reports that Nimbus Notes is not syncing notes between "
                "devices. Updates follow here every {m} minutes.",
            ),
            (
                "Sync outage: what we know so far",
                "Since this morning Nimbus Sync has failed for part of our customers. No notes are "
                "lost, and we are working on a fix.",
            ),
            (
                "Incident update {m}: sync still degraded",
                "Nimbus Sync is still failing for some customers on the {d} and the {e}; our "
                "engineers have found the cause.",
            ),
        ],
        "person": [
            (
                "A note from our CEO, Dana Whitfield",
                "Dana Whitfield writes about the {m} months behind us at Nimbus Notes, what went "
                "wrong in {month} and what we will do better.",
            ),
            (
                "Dana Whitfield answers your questions",
                "Dana Whitfield answered {m} of your questions in a live session on {day}; the "
                "recording and a summary are below.",
            ),
            (
                "Dana Whitfield on her visit to {c}",
                "Dana Whitfield spent a week with Nimbus Notes customers in {c}; here is what she "
                "heard.",
            ),
        ],
        "rival": [
            (
                "Coming from {r}? Import your notebooks in minutes",
                "Nimbus Notes now imports notebooks from {r} directly, with their tags and "
                "attachments, in about {m} minutes for most accounts.",
            ),
            (
                "Moving a team of {m} from {r}",
                "A team of {m} in {c} moved {n}0 notebooks from {r} to Nimbus Notes in one "
                "afternoon; this is their checklist.",
            ),
        ],
        "off": [],
    },
    about=[
        "Questions? Our support team answers within {m} hours.",
        "There is more in the help centre.",
        "Tell us what you think in the community forum.",
        "The in-app chat reaches {m} of us at any hour.",
        "Our thanks to the {n} customers who wrote to us about it.",
    ],
    general=["Written with the team in {c}.", "Posted at {hour}:00 UK time.", "Published {day}."],
    closing=["— The Nimbus Notes team", "Questions? Reply here or write to support."],
    authors=["The Nimbus Notes team", "Dana Whitfield", "Sam Ortiz"],
)

VOICES = {"customer": CUSTOMER, "news": NEWS, "blog": BLOG, "company": COMPANY}
TONES = {"positive": "positive", "negative": "negative", "outage": "negative"}

DEVICES = ["Pixel 8", "ThinkPad", "iPad Air", "MacBook Pro", "Galaxy S23", "Surface Go",
           "Chromebook", "iPhone 15", "Linux desktop", "Windows 11 laptop"]  # fmt: skip
CITIES = ["Leeds", "Porto", "Austin", "Lyon", "Dublin", "Pune", "Malmo", "Ghent", "Quito"]
FEATURES = ["templates", "offline mode", "shared notebooks", "search", "the web clipper",
            "reminders", "version history", "handwriting search", "the dark theme"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = ["January", "March", "April", "June", "September", "October"]
FIRMS = ["Hartley Research", "Brightline Analytics", "Okafor & Lund", "Meridian Insight"]
REPORTERS = ["Priya Shah", "Tom Becker", "Ana Lima", "Marcus Okafor", "Lena Vogel", "Sam Ortiz"]
# One news story that several sites publish, lightly edited: syndication the dashboard should
# count once ("also on N sites").
SYNDICATED = (
    "Nimbus Notes has published a post-mortem of last week's sync outage. The company says a "
    "faulty database migration left notes unsynced for up to nine hours for about a fifth of "
    "its users, that no notes were permanently lost, and that affected customers on paid plans "
    "will receive a month of service for free. Chief executive Dana Whitfield apologised and "
    "promised a public status page and staged roll-outs of future updates."
)


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    link: str
    description_html: str
    author: str
    published: datetime


def _topic(rng: random.Random, outage: bool, on_topic: float, voice: Voice) -> str:
    roll = rng.random()
    if outage and roll < 0.6:
        topic = "outage"
    elif roll < on_topic * 0.35:
        topic = "positive"
    elif roll < on_topic * 0.6:
        topic = "negative"
    elif roll < on_topic * 0.8:
        topic = "neutral"
    elif roll < on_topic * 0.87:
        topic = "person"
    elif roll < on_topic:
        topic = "rival"
    else:
        topic = "off"
    return topic if voice.leads[topic] else "neutral"


def _slots(rng: random.Random, voice: Voice) -> dict[str, object]:
    city = rng.choice(CITIES)
    facts = random.Random(f"jobs in {city}")  # one city, one jobs report, whoever reports it
    return {
        "jobs": f"{facts.randint(5, 60) * 100:,}", "growth": facts.randint(2, 20),
        "b": rng.choice(voice.brands), "r": rng.choice(RIVALS), "n": rng.randint(3, 60),
        "m": rng.randint(2, 25), "k": rng.randint(2, 30), "p": rng.randint(5, 40),
        "v": rng.randint(2, 9), "y": rng.randint(2019, 2025), "t": rng.randint(10000, 99999),
        "d": rng.choice(DEVICES[5:]), "e": rng.choice(DEVICES[:5]), "c": city,
        "day": rng.choice(DAYS), "month": rng.choice(MONTHS), "firm": rng.choice(FIRMS),
        "reporter": rng.choice(REPORTERS), "hour": rng.randint(9, 18),
        "season": rng.choice(["spring", "summer", "autumn", "winter"]),
        "price": f"£{rng.randint(4, 12)}",
        "what": rng.choice(["a statement", "new figures", "a correction", "a chart"]),
        "feature": rng.choice(FEATURES),
        "plan": rng.choice(["Team", "Business", "Studio", "Education"]),
    }  # fmt: skip


def _writing(rng: random.Random, topic: str, voice: Voice) -> tuple[str, str, list[str]]:
    """(headline, first paragraph, closing paragraphs as HTML) of one item in `voice`."""
    slots = _slots(rng, voice)
    slots["co"] = slots["r"] if topic == "rival" else slots["b"]
    headline, lead = rng.choice(voice.leads[topic])
    lead = lead.format(**slots)
    title = headline.format(**slots) if headline else lead.split(".")[0].split("?")[0][:90]
    opener = rng.choice(voice.openers.get(TONES.get(topic, "neutral"), [""]))
    pool = voice.general + (voice.about if topic != "off" else [])
    follow = rng.sample(pool, min(len(pool), rng.randint(*voice.follow)))
    first = " ".join(
        x for x in [opener.format(**slots), lead, *(s.format(**slots) for s in follow)] if x
    )
    closing = [rng.choice(voice.closing) for _ in range(rng.randint(0, 2))]
    return title, first, list(dict.fromkeys(closing))


def generate_items(
    n: int,
    seed: int,
    site: str,
    end: datetime = ANCHOR,
    days: int = 30,
    on_topic: float = 0.7,
    voice: Voice = CUSTOMER,
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
        title, first, closing = _writing(rng, _topic(rng, outage, on_topic, voice), voice)
        html = "".join(f"<p>{p}</p>" for p in [escape(first), *closing])
        items.append(
            Item(
                guid=f"https://{site}/post/{seed}-{i}",
                title=title,
                link=f"https://{site}/post/{seed}-{i}",
                description_html=html,
                author=rng.choice(voice.authors),
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
    # file stem: (title, site, items, share of items about the business or its rivals, voice)
    "technews": ("Tech Daily", "techdaily.example", 140, 0.35, NEWS),
    "productivity-blog": ("The Productive Week", "productiveweek.example", 90, 0.8, BLOG),
    "app-reviews": ("App Review Digest", "appreviews.example", 120, 0.95, CUSTOMER),
    "community-forum": ("Notes Users Forum", "forum.notesusers.example", 160, 0.9, CUSTOMER),
    "nimbus-blog": ("Nimbus Notes Blog", "blog.nimbusnotes.example", 40, 1.0, COMPANY),
    "startup-news": ("Startup Wire", "startupwire.example", 110, 0.4, NEWS),
}


SYNDICATED_ON = {  # feed stem: its own first words for the syndicated story
    "technews": "From our partners:",
    "startup-news": "Reported by Startup Wire staff.",
    "productivity-blog": "Worth a read for anyone who lost work last week.",
}


def write_demo_feeds(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (stem, (title, site, n, on_topic, voice)) in enumerate(DEMO_FEEDS.items(), 1):
        items = generate_items(n, seed, site, on_topic=on_topic, voice=voice)
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
# What people write when they share the post-mortem: after it was published, about it.
SHARES = [
    "Clear and honest post-mortem from Nimbus Notes on what broke sync last week: worth a read.",
    "The Nimbus Notes post-mortem of the sync outage is out, and it is refreshingly honest.",
    "Good on Nimbus Notes for publishing a full post-mortem of last week's outage.",
    "Nine-hour Nimbus Notes outage: no notes lost, says the post-mortem.",
    "Nimbus Notes post-mortem: a month free for paid plans and staged roll-outs from now on.",
]
POST_MORTEM_AT = ANCHOR - timedelta(days=3)


def _sharing(it: Item, i: int) -> Item:
    """The item as a post that shares the post-mortem's link."""
    text = SHARES[i % len(SHARES)]
    when = POST_MORTEM_AT + timedelta(hours=1 + (i * 7) % 60)
    return replace(it, title=text.rstrip("."), published=when,
                   description_html=f"<p>{escape(text)}</p>")  # fmt: skip


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _text(it: Item) -> str:
    return re.sub(r"<[^>]+>", " ", it.description_html.split("</p>", 1)[0]).strip()


def hackernews_answer(items: list[Item]) -> dict:
    hits = []
    for i, it in enumerate(items):
        it = _sharing(it, i) if i % 9 == 0 else it
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
        it = _sharing(it, i) if i % 8 == 0 else it
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
        it = _sharing(it, i) if i % 10 == 0 else it
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
        it = _sharing(it, i) if i % 7 == 0 else it
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

    def items(seed: int, n: int, voice: Voice = CUSTOMER) -> list[Item]:
        return generate_items(n, 100 + seed, "social.example", on_topic=0.95, voice=voice)

    files = {
        "hn/api/v1/search_by_date": json.dumps(hackernews_answer(items(1, 45))),
        "reddit/search.json": json.dumps(reddit_answer(items(2, 45))),
        "mastodon/api/v1/timelines/tag/nimbusnotes": json.dumps(mastodon_answer(items(3, 35))),
        "bsky/xrpc/app.bsky.feed.searchPosts": json.dumps(bluesky_answer(items(4, 35))),
        "news/rss/search": news_search_rss(items(5, 25, NEWS)).decode(),
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
