"""A network's reversal rule: how a chargeback is recognised and how it names the conversion it takes back, as data."""

KEYS = {
    "flag": "a parameter whose 1, true or yes marks a reversal (ayeT-Studios' is_chargeback)",
    "original": "the reversal's parameter naming its original (Wannads' uuid, BitLabs' ref)",
    "strip": "a prefix of that value to remove (ayeT-Studios' r-)",
    "matches": "the original's parameter that held the value (default: the same parameter)",
}
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
NAME_LIMIT = 100


class RuleError(ValueError):
    """A rule that cannot be used: the message names the key."""


def validate(rule):
    """The rule with `matches` filled in, or RuleError; {} is no rule."""
    if not isinstance(rule, dict):
        raise RuleError('a reversal rule is a JSON object such as {"original": "uuid"}')
    unknown = sorted(set(rule) - set(KEYS))
    if unknown:
        raise RuleError(f"{', '.join(map(repr, unknown))} is not a reversal key; use {', '.join(KEYS)}")
    for key, value in rule.items():
        if not isinstance(value, str) or not value or len(value) > NAME_LIMIT:
            raise RuleError(f"{key}: {KEYS[key]}, a text of 1 to {NAME_LIMIT} characters")
    if ("strip" in rule or "matches" in rule) and "original" not in rule:
        raise RuleError("strip and matches apply to original: name the parameter that names the original")
    clean = dict(rule)
    if "original" in clean:
        clean.setdefault("matches", clean["original"])
    return clean


def is_true(value):
    return str(value).strip().casefold() in TRUE_WORDS


def flagged(rule, params):
    """Whether the rule's flag parameter says this postback is a reversal."""
    return "flag" in rule and is_true(params.get(rule["flag"], ""))


def names_original(rule, params):
    """The value the reversal names its original by (prefix stripped), or "" when the rule names none."""
    if "original" not in rule:
        return ""
    value = str(params.get(rule["original"], "")).strip()
    prefix = rule.get("strip", "")
    return value[len(prefix) :] if prefix and value.startswith(prefix) else value


def reference(rule, params):
    """What a new conversion is stored with so that a later reversal finds it: the `matches` parameter's value."""
    return str(params.get(rule["matches"], "")).strip()[:200] if "matches" in rule else ""
