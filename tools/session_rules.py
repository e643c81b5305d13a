"""The session rules as functions of plain data.

This module imports nothing from Odoo on purpose: the models gather the facts
of a batch of sessions in a few queries, build the dataclasses below and ask
these functions what blocks a transition. The same functions are unit- and
property-tested without a database (``tests_pure/``).

Every function returns *problems*: small tuples ``(code, params)`` that the
models turn into one translated message. An empty list means "allowed".
"""

from dataclasses import dataclass, field
from datetime import date, datetime

# Problem codes (the models translate them).
NO_CONSENT = "no_consent"
CONSENT_WITHDRAWN = "consent_withdrawn"
CONSENT_EXPIRED = "consent_expired"
CONSENT_NOT_COVERING = "consent_not_covering"
CONSENT_AFTER_START = "consent_after_start"
CONSENT_NOT_GIVEN = "consent_not_given"
CONSENT_TEXT_CHANGED = "consent_text_changed"
STEPS_MISSING = "steps_missing"
CHECKINS_MISSING = "checkins_missing"
STOP_RULE = "stop_rule"
NO_THERAPIST = "no_therapist"

STEP_NOT_IN_PROGRESS = "step_not_in_progress"
STEP_NOT_TODO = "step_not_todo"
STEP_OUT_OF_ORDER = "step_out_of_order"
STEP_NOT_QUALIFIED = "step_not_qualified"
STEP_NEEDS_POSITIONING = "step_needs_positioning"
STEP_NEEDS_ADJUSTMENT = "step_needs_adjustment"


@dataclass(frozen=True)
class ConsentFacts:
    """What a consent proves, as plain values."""

    id: int
    state: str  # draft | given | withdrawn
    given_at: datetime | None
    valid_until: date | None
    protocol_ids: frozenset = frozenset()
    withdrawn_at: datetime | None = None
    # protocol id -> fingerprint of the consent text agreed to (None: no text)
    text_versions: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepFacts:
    id: int
    name: str
    sequence: int
    is_mandatory: bool
    requires_checkin: bool
    state: str  # todo | done | skipped
    qualification_id: int | None = None
    record_kind: str = "none"  # none | positioning | adjustment


@dataclass(frozen=True)
class CheckinFacts:
    id: int
    step_id: int | None
    pain_level: int
    stop_requested: bool


@dataclass(frozen=True)
class SessionFacts:
    id: int
    protocol_id: int
    state: str
    min_checkin_count: int
    pain_stop_threshold: int
    date_start: datetime | None = None
    steps: tuple = ()
    checkins: tuple = ()
    consent: ConsentFacts | None = None
    # fingerprint of the protocol's current consent text (None: no text)
    protocol_text_version: str | None = None
    has_therapist: bool = True


def ordered_steps(steps):
    return sorted(steps, key=lambda s: (s.sequence, s.id))


def consent_problems(consent, protocol_id, on_day, started_at=None, text_version=None):
    """Problems of ``consent`` as the consent a session relies on.

    :param on_day: the day the check is made (validity is checked on the day
        of each transition)
    :param started_at: when set, the consent must have been given no later
        than this moment (the session start)
    :param text_version: the protocol's current consent text fingerprint;
        a consent agreed to another text does not cover the protocol
    """
    if consent is None:
        return [(NO_CONSENT, {})]
    if consent.state == "withdrawn":
        return [(CONSENT_WITHDRAWN, {"withdrawn_at": consent.withdrawn_at})]
    if consent.state != "given":
        return [(CONSENT_NOT_GIVEN, {})]
    problems = []
    if protocol_id not in consent.protocol_ids:
        problems.append((CONSENT_NOT_COVERING, {}))
    elif (
        text_version is not None
        and consent.text_versions.get(protocol_id) != text_version
    ):
        problems.append((CONSENT_TEXT_CHANGED, {}))
    if consent.valid_until is None or consent.valid_until < on_day:
        problems.append((CONSENT_EXPIRED, {"valid_until": consent.valid_until}))
    if started_at is not None and (
        consent.given_at is None or consent.given_at > started_at
    ):
        problems.append((CONSENT_AFTER_START, {}))
    return problems


def best_consent(consents, protocol_id, on_day, at, text_version=None):
    """The consent a session starting at ``at`` relies on, or None.

    Among the consents without problems, the one valid longest wins (then the
    most recent one).
    """
    usable = [
        c
        for c in consents
        if not consent_problems(
            c, protocol_id, on_day, started_at=at, text_version=text_version
        )
    ]
    if not usable:
        return None
    return max(usable, key=lambda c: (c.valid_until, c.given_at, c.id))


def start_problems(session, consents, on_day, at):
    """Problems that block starting ``session`` at ``at`` (a datetime).

    ``consents`` are the candidate consents of the session's client.
    Returns ``(problems, consent)``: the consent the start relies on.
    """
    problems = []
    if not session.has_therapist:
        problems.append((NO_THERAPIST, {}))
    consent = best_consent(
        consents, session.protocol_id, on_day, at, session.protocol_text_version
    )
    if consent is None:
        problems.extend(_explain_missing_consent(consents, session, on_day, at))
    return problems, consent


def _explain_missing_consent(consents, session, on_day, at):
    """One consent problem that says best why no consent can be used."""
    relevant = [c for c in consents if session.protocol_id in c.protocol_ids]
    if not relevant:
        return [(NO_CONSENT, {})]
    # Show the problems of the most recent relevant consent.
    latest = max(relevant, key=lambda c: (c.given_at or datetime.min, c.id))
    problems = consent_problems(
        latest,
        session.protocol_id,
        on_day,
        started_at=at,
        text_version=session.protocol_text_version,
    )
    return problems or [(NO_CONSENT, {})]


def missing_checkins(session):
    """``(count, step_names)``: how many check-ins are still missing at least,
    and the names of the done steps that still lack their check-in."""
    steps_with_checkin = {c.step_id for c in session.checkins if c.step_id}
    lacking = [
        s.name
        for s in ordered_steps(session.steps)
        if s.state == "done" and s.requires_checkin and s.id not in steps_with_checkin
    ]
    shortfall = max(0, session.min_checkin_count - len(session.checkins))
    return max(len(lacking), shortfall), lacking


def stop_triggers(session):
    """The check-ins that trigger the stop rule."""
    return [
        c for c in session.checkins if triggers_stop(c, session.pain_stop_threshold)
    ]


def triggers_stop(checkin, threshold):
    return checkin.stop_requested or checkin.pain_level >= threshold


def completion_problems(session, on_day):
    """Every problem that blocks completing ``session`` (state ``done``)."""
    problems = []
    problems.extend(
        consent_problems(
            session.consent, session.protocol_id, on_day, started_at=session.date_start
        )
    )
    missing_steps = [
        s.name
        for s in ordered_steps(session.steps)
        if s.is_mandatory and s.state != "done"
    ]
    if missing_steps:
        problems.append((STEPS_MISSING, {"names": missing_steps}))
    count, lacking = missing_checkins(session)
    if count:
        problems.append((CHECKINS_MISSING, {"count": count, "names": lacking}))
    problems.extend(_stop_rule_problems(session))
    return problems


def _stop_rule_problems(session):
    triggers = stop_triggers(session)
    if not triggers:
        return []
    return [
        (
            STOP_RULE,
            {
                "max_pain": max(c.pain_level for c in triggers),
                "stop_requested": any(c.stop_requested for c in triggers),
                "threshold": session.pain_stop_threshold,
            },
        )
    ]


def tick_problems(
    session, step, qualified=True, positioning=None, has_adjustment=False
):
    """Problems that block ticking ``step`` of ``session`` as done now.

    Mandatory steps are ticked in order: every mandatory step before a
    mandatory step must be done first. Optional steps may be ticked at any
    point of the session. Once a check-in triggered the stop rule, no further
    step is performed: the session can only be stopped.
    """
    problems = []
    if session.state != "in_progress":
        problems.append((STEP_NOT_IN_PROGRESS, {"state": session.state}))
    problems.extend(_stop_rule_problems(session))
    if step.state != "todo":
        problems.append((STEP_NOT_TODO, {"state": step.state}))
    if step.is_mandatory:
        before = [
            s.name
            for s in ordered_steps(session.steps)
            if s.is_mandatory
            and s.state != "done"
            and (s.sequence, s.id) < (step.sequence, step.id)
        ]
        if before:
            problems.append((STEP_OUT_OF_ORDER, {"names": before}))
    if step.qualification_id and not qualified:
        problems.append((STEP_NOT_QUALIFIED, {}))
    if step.record_kind == "positioning" and not positioning:
        problems.append((STEP_NEEDS_POSITIONING, {}))
    if step.record_kind == "adjustment" and not has_adjustment:
        problems.append((STEP_NEEDS_ADJUSTMENT, {}))
    return problems


CONSENT_CODES = frozenset(
    {
        NO_CONSENT,
        CONSENT_WITHDRAWN,
        CONSENT_EXPIRED,
        CONSENT_NOT_COVERING,
        CONSENT_AFTER_START,
        CONSENT_NOT_GIVEN,
        CONSENT_TEXT_CHANGED,
    }
)
