"""The session rules as functions of plain data.

This module imports nothing from Odoo on purpose: the models gather the facts
of a batch of sessions in a few queries, build the dataclasses below and ask
these functions what blocks a transition. The same functions are unit- and
property-tested without a database (``tests_pure/``).

Every function returns *problems*: small tuples ``(code, params)`` that the
models turn into one translated message. An empty list means "allowed".
"""

from dataclasses import dataclass, field, replace
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
# Rule 7: the health intake.
NO_INTAKE = "no_intake"
INTAKE_EXPIRED = "intake_expired"
INTAKE_BLOCKED = "intake_blocked"

STEP_NOT_IN_PROGRESS = "step_not_in_progress"
STEP_NOT_TODO = "step_not_todo"
STEP_OUT_OF_ORDER = "step_out_of_order"
STEP_NOT_QUALIFIED = "step_not_qualified"
STEP_NEEDS_POSITIONING = "step_needs_positioning"
STEP_NEEDS_ADJUSTMENT = "step_needs_adjustment"
STEP_MANDATORY = "step_mandatory"
STEP_NEEDS_REASON = "step_needs_reason"
STEP_SENSITIVE_REGION = "step_sensitive_region"

# Rule 8: the consent methods that can cover a sensitive region.
WRITTEN_METHODS = frozenset({"written", "signature"})

# The appointment's consent badge (``calendar.event.spa_consent_status``).
BADGE_VALID = "valid"
BADGE_MISSING = "missing"
BADGE_EXPIRED = "expired"
BADGE_WITHDRAWN = "withdrawn"
BADGE_RECONSENT = "reconsent"

# The appointment's intake badge (``calendar.event.spa_intake_status``).
INTAKE_VALID = "valid"
INTAKE_CAUTION = "caution"
INTAKE_MISSING = "missing"
INTAKE_EXPIRED_BADGE = "expired"
INTAKE_BLOCKED_BADGE = "blocked"

CAUTION = "caution"
BLOCK = "block"

STARTED_STATES = frozenset({"in_progress", "done", "stopped"})


def weighs_record(state):
    """Whether the compliance columns (``required_checkins``,
    ``relied_consent_valid``) weigh what a session in ``state`` recorded (its
    lines, check-ins and consent): only once it started; before, its state
    alone answers."""
    return state in STARTED_STATES


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
    company_id: int | None = None
    method: str | None = None  # verbal | written | signature
    # the sensitive body regions the client agreed to (rule 8)
    region_ids: frozenset = frozenset()


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
    # the sensitive body regions the line touches (rule 8)
    sensitive_region_ids: frozenset = frozenset()


@dataclass(frozen=True)
class CheckinFacts:
    id: int
    step_id: int | None
    pain_level: int
    stop_requested: bool


@dataclass(frozen=True)
class IntakeAnswerFacts:
    """An answer of an intake that its survey marks as a contraindication."""

    question: str
    answer: str
    contraindication: str  # caution | block


@dataclass(frozen=True)
class IntakeFacts:
    """A client's answers to a health intake (``survey.user_input``)."""

    id: int
    partner_id: int | None
    survey_id: int
    state: str  # new | in_progress | done
    finished_at: datetime | None = None
    # the company's day it was finished on (the session's company)
    finished_on: date | None = None
    answers: tuple = ()  # IntakeAnswerFacts of the flagged answers
    cleared: bool = False


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
    company_id: int | None = None
    date_done: datetime | None = None
    partner_id: int | None = None
    # Rule 7: the protocol's intake survey (None: no intake needed), how many
    # days an intake stays valid, and the intake a started session relied on.
    intake_survey_id: int | None = None
    intake_validity_days: int = 30
    intake: IntakeFacts | None = None


def ordered_steps(steps):
    return sorted(steps, key=lambda s: (s.sequence, s.id))


def is_valid_on(date_from, date_to, on_day):
    """Whether a period (a certification's, a consent's) covers ``on_day``.

    ``date_from`` empty: no start; ``date_to`` empty: no end.
    """
    return (date_from is None or date_from <= on_day) and (
        date_to is None or date_to >= on_day
    )


def consent_valid_on(consent, on_day):
    """Whether ``consent`` is given and still valid on ``on_day`` (whatever
    it covers): the consent's own "valid today"."""
    return (
        consent is not None
        and consent.state == "given"
        and consent.valid_until is not None
        and is_valid_on(None, consent.valid_until, on_day)
    )


def consent_as_of(consent, moment):
    """``consent`` as it stood at ``moment``: a withdrawal stamped at or
    after that moment had not happened yet (the transition that checked it
    ran first)."""
    if (
        consent is not None
        and consent.state == "withdrawn"
        and consent.withdrawn_at is not None
        and consent.given_at is not None
        and consent.withdrawn_at >= moment
    ):
        return replace(consent, state="given", withdrawn_at=None)
    return consent


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
    if not consent_valid_on(consent, on_day):
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


def start_problems(session, consents, on_day, at, intakes=()):
    """Problems that block starting ``session`` at ``at`` (a datetime).

    ``consents`` are the candidate consents of the session's client,
    ``intakes`` their health intakes (rule 7, ``start_intake``).
    Returns ``(problems, consent)``: the consent the start relies on.
    """
    problems = []
    if not session.has_therapist:
        problems.append((NO_THERAPIST, {}))
    consents = same_company(consents, session.company_id)
    consent = best_consent(
        consents, session.protocol_id, on_day, at, session.protocol_text_version
    )
    if consent is None:
        problems.extend(_explain_missing_consent(consents, session, on_day, at))
    problems.extend(start_intake(session, intakes, on_day)[0])
    return problems, consent


def intake_blocking_answers(intake):
    """``(question, answer)`` of the answers of ``intake`` that block a
    session, unless a manager cleared the intake."""
    if intake is None or intake.cleared:
        return []
    return [
        (a.question, a.answer) for a in intake.answers if a.contraindication == BLOCK
    ]


def intake_cautions(intake):
    """``(question, answer)`` of the answers of ``intake`` the therapist must
    know (``caution``; also ``block`` answers a manager cleared)."""
    if intake is None:
        return []
    return [
        (a.question, a.answer)
        for a in intake.answers
        if a.contraindication == CAUTION
        or (intake.cleared and a.contraindication == BLOCK)
    ]


def intake_problems(intake, session, on_day):
    """Problems of ``intake`` as the intake ``session`` starts with on
    ``on_day`` (rule 7): completed, of the session's client, for the
    protocol's survey, finished no more than ``intake_validity_days`` before
    that day, without an uncleared ``block`` answer."""
    if not _answered_by(intake, session, on_day):
        return [(NO_INTAKE, {})]
    problems = []
    age = (on_day - intake.finished_on).days
    if age > session.intake_validity_days:
        problems.append(
            (
                INTAKE_EXPIRED,
                {
                    "finished_on": intake.finished_on,
                    "validity_days": session.intake_validity_days,
                },
            )
        )
    blocking = intake_blocking_answers(intake)
    if blocking:
        problems.append((INTAKE_BLOCKED, {"answers": blocking}))
    return problems


def _answered_by(intake, session, on_day):
    """Whether ``intake`` is a completed intake of the session's client for
    its protocol's survey, finished by ``on_day`` (one finished later did not
    exist yet)."""
    return (
        intake is not None
        and intake.state == "done"
        and intake.survey_id == session.intake_survey_id
        and (session.partner_id is None or intake.partner_id == session.partner_id)
        and intake.finished_on is not None
        and intake.finished_on <= on_day
    )


def best_intake(intakes, session, on_day):
    """The intake ``session`` starts with on ``on_day``, or None: the most
    recently finished one without problems."""
    usable = [i for i in intakes if not intake_problems(i, session, on_day)]
    if not usable:
        return None
    return max(usable, key=lambda i: (i.finished_at or datetime.min, i.id))


def start_intake(session, intakes, on_day):
    """``(problems, intake)``: rule 7 for starting ``session`` on ``on_day``
    with the client's ``intakes``; no intake is needed when its protocol has
    no intake survey."""
    if not session.intake_survey_id:
        return [], None
    intake = best_intake(intakes, session, on_day)
    if intake is not None:
        return [], intake
    return _explain_missing_intake(intakes, session, on_day), None


def _explain_missing_intake(intakes, session, on_day):
    """The problems of the client's latest completed intake for the survey
    (or "no intake")."""
    relevant = [i for i in intakes if _answered_by(i, session, on_day)]
    if not relevant:
        return [(NO_INTAKE, {})]
    latest = max(relevant, key=lambda i: (i.finished_at or datetime.min, i.id))
    return intake_problems(latest, session, on_day) or [(NO_INTAKE, {})]


def intake_status(session, intakes, on_day):
    """``(badge, intake)``: the appointment's intake badge, what the start
    would decide now (``False`` when the protocol needs no intake), and the
    intake it would rely on (a started session: the one it relied on)."""
    if not session.intake_survey_id:
        return False, None
    if session.state in STARTED_STATES:
        intake = session.intake
        if intake is None:
            return INTAKE_MISSING, None
        return (INTAKE_CAUTION if intake_cautions(intake) else INTAKE_VALID), intake
    problems, intake = start_intake(session, intakes, on_day)
    if intake is not None:
        return (INTAKE_CAUTION if intake_cautions(intake) else INTAKE_VALID), intake
    found = {code for code, __ in problems}
    if INTAKE_BLOCKED in found:
        return INTAKE_BLOCKED_BADGE, None
    if INTAKE_EXPIRED in found:
        return INTAKE_EXPIRED_BADGE, None
    return INTAKE_MISSING, None


def same_company(consents, company_id):
    """The consents a session of ``company_id`` may rely on: a consent is
    recorded in one company and counts there only."""
    if company_id is None:
        return list(consents)
    return [c for c in consents if c.company_id in (None, company_id)]


def session_consent_problems(session, on_day):
    """Problems of the consent a started session relies on, checked on
    ``on_day`` (completing it): the completion's consent rule."""
    return consent_problems(
        session.consent, session.protocol_id, on_day, started_at=session.date_start
    )


def relied_consent_valid(session, start_day, done_day=None):
    """Whether a started session rested on a consent valid when it started
    (on ``start_day``, the company's day of its start) and, for a ``done``
    one, at completion (on ``done_day``): the compliance analysis' consent
    column. A consent withdrawn after the start (mid-session) was valid when
    the session started: the session could only be stopped, which is
    compliant."""
    if not weighs_record(session.state) or session.date_start is None:
        return False
    at_start = consent_as_of(session.consent, session.date_start)
    if consent_problems(
        at_start, session.protocol_id, start_day, started_at=session.date_start
    ):
        return False
    if session.state != "done":
        return True
    if session.date_done is None or done_day is None:
        return False
    at_done = consent_as_of(session.consent, session.date_done)
    return not consent_problems(
        at_done, session.protocol_id, done_day, started_at=session.date_start
    )


def badge_status(session, consents, on_day, at):
    """The appointment's consent badge: what the server would decide now.

    A session not started yet (or none, or cancelled): the start's consent
    rule over the client's ``consents``; a started one: the completion's
    consent rule over the consent it relied on.
    """
    if session.state in STARTED_STATES and session.consent is not None:
        problems = session_consent_problems(session, on_day)
    else:
        consents = same_company(consents, session.company_id)
        consent = best_consent(
            consents, session.protocol_id, on_day, at, session.protocol_text_version
        )
        if consent is not None:
            return BADGE_VALID
        problems = _explain_missing_consent(consents, session, on_day, at)
    found = {code for code, __ in problems}
    if not found:
        return BADGE_VALID
    if CONSENT_WITHDRAWN in found:
        return BADGE_WITHDRAWN
    if CONSENT_TEXT_CHANGED in found:
        return BADGE_RECONSENT
    if CONSENT_EXPIRED in found:
        return BADGE_EXPIRED
    return BADGE_MISSING


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


def required_checkins(session):
    """``(required, missing)``: the check-ins the protocol asks for what was
    done, and how many of them are missing (the compliance analysis):

    - not started (planned, cancelled): nothing required yet;
    - in progress, done: at least ``min_checkin_count`` and one after each
      done step that requires a check-in; missing is the completion rule's
      shortfall (``missing_checkins``);
    - stopped: the session ended early, the minimum no longer applies: one
      after each done step that requires a check-in.
    """
    if not weighs_record(session.state):
        return 0, 0
    required_steps = [
        s for s in session.steps if s.state == "done" and s.requires_checkin
    ]
    if session.state == "stopped":
        with_checkin = {c.step_id for c in session.checkins if c.step_id}
        lacking = [s for s in required_steps if s.id not in with_checkin]
        return len(required_steps), len(lacking)
    count, __ = missing_checkins(session)
    return max(session.min_checkin_count, len(required_steps)), count


def checklist_progress(session):
    """Progress at a glance: ``{steps_done, steps_total, checkins_done,
    checkins_required}``: the mandatory steps done out of the session's
    mandatory steps, and the check-ins the rules count as logged out of those
    they require (``required_checkins``; before the start, the protocol's
    minimum, none logged)."""
    mandatory = [s for s in session.steps if s.is_mandatory]
    if session.state in STARTED_STATES:
        required, missing = required_checkins(session)
    else:
        required = missing = session.min_checkin_count
    return {
        "steps_done": sum(1 for s in mandatory if s.state == "done"),
        "steps_total": len(mandatory),
        "checkins_done": max(0, required - missing),
        "checkins_required": required,
    }


def device_time_plausible(device_at, started_at, received_at, drift):
    """Whether a device's clock reading ``device_at`` lies between the
    session's start (``started_at``; ``received_at`` when not started) and
    the moment the server received it, give or take ``drift`` (DESIGN
    "Device time"): check-ins and ticks alike."""
    start = started_at or received_at
    return start - drift <= device_at <= received_at + drift


def stop_pain_levels(threshold):
    """The pain levels (0-10) whose check-in triggers the stop rule."""
    return [
        level
        for level in range(11)
        if triggers_stop(
            CheckinFacts(id=0, step_id=None, pain_level=level, stop_requested=False),
            threshold,
        )
    ]


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
    problems.extend(session_consent_problems(session, on_day))
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
    threshold = session.pain_stop_threshold
    # the check-ins that trigger it by their pain alone
    by_pain = [c for c in triggers if triggers_stop(_pain_only(c), threshold)]
    return [
        (
            STOP_RULE,
            {
                "max_pain": max(c.pain_level for c in triggers),
                "stop_requested": any(c.stop_requested for c in triggers),
                "pain_triggered": bool(by_pain),
                "threshold": threshold,
            },
        )
    ]


def _pain_only(checkin):
    return replace(checkin, stop_requested=False)


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
    problems.extend(sensitive_region_problems(session.consent, step))
    return problems


def uncovered_sensitive_regions(consent, region_ids):
    """Rule 8: the sensitive regions among ``region_ids`` that ``consent``
    does not cover: all of them unless the consent is written or signed,
    else those it does not name."""
    region_ids = frozenset(region_ids)
    if consent is None or consent.method not in WRITTEN_METHODS:
        return region_ids
    return region_ids - consent.region_ids


def sensitive_region_problems(consent, step):
    """Rule 8 for one line: every sensitive region it touches is named by a
    written or signed consent (the one the session relies on)."""
    missing = uncovered_sensitive_regions(consent, step.sensitive_region_ids)
    if not missing:
        return []
    return [
        (
            STEP_SENSITIVE_REGION,
            {
                "region_ids": sorted(missing),
                "written": consent is not None and consent.method in WRITTEN_METHODS,
            },
        )
    ]


def skip_problems(session, step, reason):
    """Problems that block skipping ``step`` of ``session`` now, with
    ``reason`` (the reason given, or already recorded)."""
    problems = []
    if session.state != "in_progress":
        problems.append((STEP_NOT_IN_PROGRESS, {"state": session.state}))
    if step.state != "todo":
        problems.append((STEP_NOT_TODO, {"state": step.state}))
    if step.is_mandatory:
        problems.append((STEP_MANDATORY, {}))
    if not (reason or "").strip():
        problems.append((STEP_NEEDS_REASON, {}))
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

INTAKE_CODES = frozenset({NO_INTAKE, INTAKE_EXPIRED, INTAKE_BLOCKED})
