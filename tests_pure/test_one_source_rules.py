"""The rules every surface asks (badge, compliance column, check-in counts,
stop levels, skipping, validity periods), without Odoo."""

from datetime import date, datetime, timedelta

import spa_session_rules as R
from hypothesis import given
from hypothesis import strategies as st

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 10, 0)
PROTOCOL = 1
COMPANY = 1


def consent(**kw):
    vals = {
        "id": 1,
        "state": "given",
        "given_at": NOW - timedelta(hours=1),
        "valid_until": TODAY + timedelta(days=30),
        "protocol_ids": frozenset({PROTOCOL}),
        "company_id": COMPANY,
    }
    vals.update(kw)
    return R.ConsentFacts(**vals)


def session(**kw):
    vals = {
        "id": 1,
        "protocol_id": PROTOCOL,
        "state": "draft",
        "min_checkin_count": 2,
        "pain_stop_threshold": 7,
        "company_id": COMPANY,
    }
    vals.update(kw)
    return R.SessionFacts(**vals)


def step(id_, state="todo", mandatory=False, checkin=False):
    return R.StepFacts(
        id=id_,
        name=f"Step {id_}",
        sequence=id_,
        is_mandatory=mandatory,
        requires_checkin=checkin,
        state=state,
    )


def checkin(id_, step_id=None, pain=2, stop=False):
    return R.CheckinFacts(id=id_, step_id=step_id, pain_level=pain, stop_requested=stop)


def codes(problems):
    return [code for code, __ in problems]


# ----------------------------------------------------------------------
# Validity periods and the consent's own validity
# ----------------------------------------------------------------------


def test_is_valid_on_bounds_are_inclusive():
    assert R.is_valid_on(TODAY, TODAY, TODAY)
    assert R.is_valid_on(None, None, TODAY)
    assert not R.is_valid_on(TODAY + timedelta(days=1), None, TODAY)
    assert not R.is_valid_on(None, TODAY - timedelta(days=1), TODAY)


def test_consent_valid_on():
    assert R.consent_valid_on(consent(valid_until=TODAY), TODAY)
    assert not R.consent_valid_on(consent(valid_until=TODAY), TODAY + timedelta(1))
    assert not R.consent_valid_on(consent(state="withdrawn"), TODAY)
    assert not R.consent_valid_on(consent(valid_until=None), TODAY)
    assert not R.consent_valid_on(None, TODAY)


# ----------------------------------------------------------------------
# The badge: what the start (or completion) would decide now
# ----------------------------------------------------------------------


def test_badge_agrees_with_start_for_each_situation():
    situations = {
        "valid": ([consent()], R.BADGE_VALID),
        "no consent": ([], R.BADGE_MISSING),
        "expired": ([consent(valid_until=TODAY - timedelta(days=1))], R.BADGE_EXPIRED),
        "withdrawn": (
            [consent(state="withdrawn", withdrawn_at=NOW - timedelta(minutes=5))],
            R.BADGE_WITHDRAWN,
        ),
        "other company": ([consent(company_id=2)], R.BADGE_MISSING),
        "text changed": (
            [consent(text_versions={PROTOCOL: "v1"})],
            R.BADGE_RECONSENT,
        ),
        "other protocol": ([consent(protocol_ids=frozenset({2}))], R.BADGE_MISSING),
    }
    planned = session(protocol_text_version="v2")
    for label, (consents, badge) in situations.items():
        if label != "text changed":
            planned_here = session()
        else:
            planned_here = planned
        status = R.badge_status(planned_here, consents, TODAY, NOW)
        problems, chosen = R.start_problems(planned_here, consents, TODAY, NOW)
        assert status == badge, label
        assert (status == R.BADGE_VALID) == (not problems), label
        assert (chosen is not None) == (not problems), label


def test_badge_of_started_session_is_the_completion_consent_rule():
    relied = consent(text_versions={PROTOCOL: "v1"})
    started = session(
        state="in_progress",
        date_start=NOW,
        consent=relied,
        protocol_text_version="v2",  # the text changed after the start
    )
    # a new text needs a new consent to start, not to complete
    assert R.badge_status(started, [], TODAY, NOW) == R.BADGE_VALID
    assert not R.session_consent_problems(started, TODAY)
    later = TODAY + timedelta(days=31)
    assert R.badge_status(started, [], later, NOW) == R.BADGE_EXPIRED
    assert codes(R.session_consent_problems(started, later)) == [R.CONSENT_EXPIRED]


def test_badge_with_undated_withdrawn_consent_does_not_crash():
    undated = consent(id=2, state="withdrawn", given_at=None)
    expired = consent(id=3, valid_until=TODAY - timedelta(days=1))
    status = R.badge_status(session(), [undated, expired], TODAY, NOW)
    assert status == R.BADGE_EXPIRED


# ----------------------------------------------------------------------
# The compliance analysis' consent column
# ----------------------------------------------------------------------


def test_relied_consent_valid_at_start_and_completion():
    start, done = NOW, NOW + timedelta(hours=1)
    ok = session(state="done", date_start=start, date_done=done, consent=consent())
    assert R.relied_consent_valid(ok, TODAY, TODAY)
    # expired between start and completion: done is not compliant
    short = consent(valid_until=TODAY)
    assert not R.relied_consent_valid(
        session(state="done", date_start=start, date_done=done, consent=short),
        TODAY,
        TODAY + timedelta(days=1),
    )
    # planned or cancelled sessions rest on nothing yet
    assert not R.relied_consent_valid(session(consent=consent()), TODAY)
    assert not R.relied_consent_valid(
        session(state="cancelled", consent=consent()), TODAY
    )


def test_withdrawal_mid_session_keeps_a_stopped_session_compliant():
    withdrawn = consent(state="withdrawn", withdrawn_at=NOW + timedelta(minutes=10))
    stopped = session(
        state="stopped",
        date_start=NOW,
        date_done=NOW + timedelta(minutes=20),
        consent=withdrawn,
    )
    assert R.relied_consent_valid(stopped, TODAY)
    done = session(
        state="done",
        date_start=NOW,
        date_done=NOW + timedelta(minutes=20),
        consent=withdrawn,
    )
    assert not R.relied_consent_valid(done, TODAY, TODAY)
    before = consent(state="withdrawn", withdrawn_at=NOW - timedelta(minutes=1))
    assert not R.relied_consent_valid(
        session(state="stopped", date_start=NOW, consent=before), TODAY
    )


def test_consent_given_after_start_never_counts():
    late = consent(given_at=NOW + timedelta(minutes=1))
    started = session(state="stopped", date_start=NOW, consent=late)
    assert not R.relied_consent_valid(started, TODAY)


# ----------------------------------------------------------------------
# Check-in counts, stop levels, skipping
# ----------------------------------------------------------------------


def test_required_checkins_by_state():
    steps = (step(1, "done", checkin=True), step(2, "done", checkin=True))
    checkins = (checkin(1, step_id=1),)
    running = session(state="in_progress", steps=steps, checkins=checkins)
    assert R.required_checkins(running) == (2, 1)
    assert R.required_checkins(running)[1] == R.missing_checkins(running)[0]
    stopped = session(state="stopped", steps=steps, checkins=checkins)
    assert R.required_checkins(stopped) == (2, 1)
    assert R.required_checkins(session(steps=steps)) == (0, 0)
    few = session(state="done", min_checkin_count=3, steps=steps, checkins=checkins)
    assert R.required_checkins(few) == (3, 2)


@given(st.integers(0, 10), st.integers(0, 10), st.booleans())
def test_property_stop_levels_are_the_stop_rule(threshold, pain, stop):
    levels = R.stop_pain_levels(threshold)
    triggered = R.triggers_stop(checkin(1, pain=pain, stop=stop), threshold)
    assert triggered == (stop or pain in levels)


def test_skip_problems():
    running = session(state="in_progress")
    assert R.skip_problems(running, step(1), "Not needed") == []
    assert codes(R.skip_problems(running, step(1), "  ")) == [R.STEP_NEEDS_REASON]
    assert codes(R.skip_problems(running, step(1, mandatory=True), "x")) == [
        R.STEP_MANDATORY
    ]
    assert codes(R.skip_problems(session(), step(1, state="done"), "x")) == [
        R.STEP_NOT_IN_PROGRESS,
        R.STEP_NOT_TODO,
    ]


def test_stop_rule_says_what_triggered_it():
    def stop_params(*checkins):
        running = session(state="in_progress", checkins=checkins)
        [(code, params)] = [
            p for p in R.completion_problems(running, TODAY) if p[0] == R.STOP_RULE
        ]
        return params

    asked = stop_params(checkin(1, pain=3, stop=True))
    assert asked["stop_requested"] and not asked["pain_triggered"]
    severe = stop_params(checkin(1, pain=3), checkin(2, pain=8))
    assert severe["pain_triggered"] and not severe["stop_requested"]
    assert severe["max_pain"] == 8
