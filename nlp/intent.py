"""Intent, multi-label, with a confidence each: what the author wants or is doing.

Complaint, question and compliment (and any intent corrections have taught) are read by the
learned model (nlp.model): calibrated confidences, each with its own threshold chosen on
development data. The others (recommendation, purchase intent, churn risk, job post, spam)
have no labelled data yet: cue phrases (regular expressions over the lower-cased text) and
the sentiment combine into a confidence in [0, 1], present from THRESHOLD."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from nlp.needed import Joined, needed_strings, quick_count

INTENTS = (
    "complaint", "compliment", "question", "recommendation", "purchase_intent", "churn_risk",
    "job_post", "spam",
)  # fmt: skip
THRESHOLD = 0.5  # the confidence from which an intent counts as present

_CUES = {
    "complaint": r"not working|doesn'?t work|does not work|broken|\bbug(gy|s)?\b|crash|"
    r"lost (my|all)|charged (me )?twice|refund|unacceptable|terrible|awful|worst|disappoint|"
    r"frustrat|"
    r"still (no|not|waiting)|no (reply|answer|response)|(is|was|went) down\b|outage|useless|"
    r"ridiculous|"
    r"keeps? (crashing|failing|freezing)|can'?t (log ?in|sync|open|find)",
    "compliment": r"\blove\b|\bgreat\b|awesome|amazing|brilliant|excellent|wonderful|superb|"
    r"perfect|delight|thank(s| you)|kudos|"
    r"best .{0,20}(ever|used|tool|app)|impressed|fantastic|well done|happy with",
    "question": r"\?|^(how|what|why|when|where|which|who|does|do|is|are|can|could|should|will|has|"
    r"have)\b|anyone (know|tried|using)|any (idea|advice|tips)",
    "recommendation": r"recommend|you should (try|use)|check out|worth (it|a try)|go with|"
    r"switched to .{0,30} and|highly suggest|give .{0,15} a try",
    "purchase_intent": r"looking for (a|an)? ?(tool|app|solution|alternative)|want to buy|"
    r"thinking (of|about) (buying|getting|trying)|pricing|how much (is|does)|free trial|"
    r"\bdemo\b|\bquote\b|upgrade to|sign(ing)? up|worth (paying|buying)",
    "churn_risk": r"cancel(l)?(ing|ed)?\b|switching (to|from)|switch(ed)? (to|from)|"
    r"moving (to|away|from)|leaving|alternatives? to|done with|not renewing|unsubscrib|"
    r"migrat(e|ing) (to|away)",
    "job_post": r"\bhiring\b|job (opening|offer|posting)|we'?re looking for (a|an)|"
    r"apply (now|here|at)|"
    r"\bposition\b|\bsalary\b|full[- ]time|part[- ]time|remote role",
    "spam": r"promo code|discount|% off|click here|limited time|buy now|dm me|free money|"
    r"giveaway|crypto|earn \$|follow (me|back)|act now|order now|call now|special offer|"
    r"exclusive (deal|offer)|risk[- ]free|100% free|no cost|lowest price|make money|"
    r"work from home|congratulations.{0,20}(won|winner|selected)|claim your|save big|"
    r"free (gift|shipping)|guaranteed",
}
# Patterns are lower-case and run on lower-cased text: re.IGNORECASE makes them ~3x slower.
_COMPILED = {intent: re.compile(pattern, re.M) for intent, pattern in _CUES.items()}
# Each pattern's count of matches, 0 without the search where the text holds none of the
# strings its matches need (nlp.needed): most posts hold none of most intents' cues.
_COUNTS = {intent: quick_count(pattern) for intent, pattern in _COMPILED.items()}
_NEEDED = {pattern: needed_strings(pattern) for pattern in _COMPILED.values()}
needed_strings_of = _NEEDED.__getitem__
_LINK = re.compile(r"https?://")


def cue_counts(
    texts: Sequence[str],
    learned: Collection[str] = (),
    lows: Sequence[str] | None = None,
    holding: Callable[[re.Pattern[str]], Iterable[int]] | None = None,
) -> list[dict[str, int]]:
    """For each text, how many matches of each intent's cues intents() counts in it (the
    `learned` intents left out), the strings the cues need searched for in all texts at once.
    `lows` are the texts lower-cased, and `holding` gives the texts that may match a cue
    pattern (at least all that do: nlp.needed.Needles), when known."""
    if lows is None:
        lows = [text.lower() for text in texts]
    if holding is None:
        joined = Joined(lows)

        def holding(pattern: re.Pattern[str]) -> Iterable[int]:
            needed = needed_strings_of(pattern)
            return range(len(lows)) if needed is None else joined.holding(needed)

    out: list[dict[str, int]] = [{} for _ in texts]
    for intent, pattern in _COMPILED.items():
        if intent in learned:
            continue
        for t in holding(pattern):
            out[t][intent] = len(pattern.findall(lows[t]))
    return out


def intents(
    text: str,
    sentiment: float,
    learned: Mapping[str, float] | None = None,
    counts: Mapping[str, int] | None = None,
) -> dict[str, float]:
    """A confidence in [0, 1] for every intent: the learned model's where it has one, else
    the cue rules'. `counts`, when given, are the text's cue_counts."""
    learned = learned or {}
    out = {}
    low = text.lower() if counts is None else ""
    for intent, count in _COUNTS.items():
        if intent in learned:
            out[intent] = round(learned[intent], 3)
            continue
        hits = count(low) if counts is None else counts.get(intent, 0)
        confidence = 1 - 0.45**hits if hits else 0.0
        if intent == "complaint":
            confidence = (
                confidence * (0.6 if sentiment > 0.3 else 1.0) + max(0.0, -sentiment) * 0.35
            )
        elif intent == "compliment":
            confidence = confidence * (0.5 if sentiment < 0 else 1.0) + max(0.0, sentiment) * 0.35
        elif intent == "churn_risk" and sentiment > 0.3:
            # "I switched to X and it's been great" is a customer won, not one lost.
            confidence *= 0.3
        elif intent == "spam":
            links = (len(_LINK.findall(text)) if "://" in text else 0) + text.count("#")
            if "?" in text and not links:
                # "Do you have a student discount?" asks about an offer; spam makes one.
                confidence *= 0.3
            confidence += 0.1 * max(0, links - 2)
        # (No cue, no feeling: 0.0, as rounded, without rounding; most intents of most posts.)
        out[intent] = round(min(1.0, max(0.0, confidence)), 3) if confidence else 0.0
    return out


def present(
    confidences: Mapping[str, float], thresholds: Mapping[str, float] | None = None
) -> tuple[str, ...]:
    """The intents whose confidence reaches their threshold (the model's, else THRESHOLD)."""
    thresholds = thresholds or {}
    return tuple(i for i in INTENTS if confidences.get(i, 0.0) >= thresholds.get(i, THRESHOLD))
