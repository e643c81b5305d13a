"""Unit and property tests of the completion rules, without Odoo."""

from datetime import date, datetime, timedelta

import spa_session_rules as R
from hypothesis import given
from hypothesis import strategies as st

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 10, 0)
PROTOCOL = 1


def consent(
    state="given",
    given_at=NOW - timedelta(hours=1),
    valid_until=TODAY + timedelta(days=30),
    **kw,
):
    return R.ConsentFacts(
        id=kw.pop("id", 1),
        state=state,
        given_at=given_at,
        valid_until=valid_until,
        protocol_ids=kw.pop("protocol_ids", frozenset({PROTOCOL})),
        **kw,
    )


def step(id_, name, seq, mandatory=True, checkin=False, state="todo", **kw):
    return R.StepFacts(
        id=id_,
        name=name,
        sequence=seq,
        is_mandatory=mandatory,
        requires_checkin=checkin,
        state=state,
        **kw,
    )


def session(steps=(), checkins=(), consent_facts=None, **kw):
    defaults = {
        "id": 1,
        "protocol_id": PROTOCOL,
        "state": "in_progress",
        "min_checkin_count": 2,
        "pain_stop_threshold": 7,
        "date_start": NOW,
        "steps": tuple(steps),
        "checkins": tuple(checkins),
        "consent": consent_facts,
    }
    defaults.update(kw)
    return R.SessionFacts(**defaults)


def codes(problems):
    return [code for code, __ in problems]


# ----------------------------------------------------------------------
# Consent
# ----------------------------------------------------------------------


def test_no_consent():
    assert codes(R.consent_problems(None, PROTOCOL, TODAY)) == [R.NO_CONSENT]


def test_valid_consent():
    assert R.consent_problems(consent(), PROTOCOL, TODAY, started_at=NOW) == []


def test_consent_valid_until_today_is_still_valid():
    assert R.consent_problems(consent(valid_until=TODAY), PROTOCOL, TODAY) == []
    assert codes(
        R.consent_problems(
            consent(valid_until=TODAY), PROTOCOL, TODAY + timedelta(days=1)
        )
    ) == [R.CONSENT_EXPIRED]


def test_withdrawn_and_draft_consents():
    assert codes(R.consent_problems(consent(state="withdrawn"), PROTOCOL, TODAY)) == [
        R.CONSENT_WITHDRAWN
    ]
    assert codes(R.consent_problems(consent(state="draft"), PROTOCOL, TODAY)) == [
        R.CONSENT_NOT_GIVEN
    ]


def test_consent_of_other_protocol():
    c = consent(protocol_ids=frozenset({2}))
    assert codes(R.consent_problems(c, PROTOCOL, TODAY)) == [R.CONSENT_NOT_COVERING]


def test_consent_given_after_start_does_not_count():
    c = consent(given_at=NOW + timedelta(minutes=5))
    assert codes(R.consent_problems(c, PROTOCOL, TODAY, started_at=NOW)) == [
        R.CONSENT_AFTER_START
    ]


def test_consent_text_changed():
    c = consent(text_versions={PROTOCOL: "v1"})
    assert R.consent_problems(c, PROTOCOL, TODAY, text_version="v1") == []
    assert codes(R.consent_problems(c, PROTOCOL, TODAY, text_version="v2")) == [
        R.CONSENT_TEXT_CHANGED
    ]


def test_best_consent_prefers_longest_validity():
    short = consent(id=1, valid_until=TODAY + timedelta(days=5))
    long_ = consent(id=2, valid_until=TODAY + timedelta(days=50))
    withdrawn = consent(
        id=3, state="withdrawn", valid_until=TODAY + timedelta(days=500)
    )
    assert R.best_consent([short, long_, withdrawn], PROTOCOL, TODAY, NOW).id == 2
    assert R.best_consent([withdrawn], PROTOCOL, TODAY, NOW) is None


def test_start_problems_explain_withdrawal():
    s = session(state="draft", date_start=None)
    problems, chosen = R.start_problems(s, [consent(state="withdrawn")], TODAY, NOW)
    assert chosen is None
    assert codes(problems) == [R.CONSENT_WITHDRAWN]
    problems, chosen = R.start_problems(s, [consent()], TODAY, NOW)
    assert problems == [] and chosen.id == 1


def test_start_needs_therapist():
    s = session(state="draft", has_therapist=False)
    problems, __ = R.start_problems(s, [consent()], TODAY, NOW)
    assert codes(problems) == [R.NO_THERAPIST]


# ----------------------------------------------------------------------
# Completion
# ----------------------------------------------------------------------

STEPS = (
    step(1, "Prepare", 10, state="done"),
    step(2, "Apply pressure", 20, checkin=True, state="done"),
    step(3, "Pressing motions", 30, checkin=True, state="done"),
    step(4, "Advanced", 40, mandatory=False, checkin=True, state="skipped"),
)


def test_compliant_session_has_no_problem():
    checkins = (R.CheckinFacts(1, 2, 2, False), R.CheckinFacts(2, 3, 3, False))
    assert R.completion_problems(session(STEPS, checkins, consent()), TODAY) == []


def test_every_missing_item_is_named():
    steps = (step(1, "Prepare", 10, state="todo"),) + STEPS[1:]
    problems = R.completion_problems(session(steps, (), None), TODAY)
    assert codes(problems) == [R.NO_CONSENT, R.STEPS_MISSING, R.CHECKINS_MISSING]
    params = dict(problems)
    assert params[R.STEPS_MISSING]["names"] == ["Prepare"]
    assert params[R.CHECKINS_MISSING] == {
        "count": 2,
        "names": ["Apply pressure", "Pressing motions"],
    }


def test_min_checkins_beyond_required_steps():
    steps = (step(1, "Prepare", 10, state="done"),)
    problems = R.completion_problems(
        session(steps, (), consent(), min_checkin_count=3), TODAY
    )
    assert dict(problems)[R.CHECKINS_MISSING] == {"count": 3, "names": []}


def test_stop_rule_threshold_boundary():
    base = (R.CheckinFacts(1, 2, 2, False), R.CheckinFacts(2, 3, 3, False))
    six = session(STEPS, base + (R.CheckinFacts(3, None, 6, False),), consent())
    seven = session(STEPS, base + (R.CheckinFacts(3, None, 7, False),), consent())
    assert R.completion_problems(six, TODAY) == []
    assert codes(R.completion_problems(seven, TODAY)) == [R.STOP_RULE]


def test_stop_requested_blocks_completion():
    checkins = (R.CheckinFacts(1, 2, 0, True), R.CheckinFacts(2, 3, 0, False))
    problems = R.completion_problems(session(STEPS, checkins, consent()), TODAY)
    assert codes(problems) == [R.STOP_RULE]
    assert dict(problems)[R.STOP_RULE]["stop_requested"] is True


# ----------------------------------------------------------------------
# Ticking
# ----------------------------------------------------------------------


def test_mandatory_steps_in_order_optional_free():
    steps = (
        step(1, "A", 10),
        step(2, "B", 20),
        step(3, "Opt", 30, mandatory=False),
        step(4, "C", 40),
    )
    s = session(steps)
    assert codes(R.tick_problems(s, steps[1])) == [R.STEP_OUT_OF_ORDER]
    assert dict(R.tick_problems(s, steps[3]))[R.STEP_OUT_OF_ORDER]["names"] == [
        "A",
        "B",
    ]
    assert R.tick_problems(s, steps[2]) == []
    assert R.tick_problems(s, steps[0]) == []


def test_tick_needs_in_progress_qualification_and_records():
    adv = step(1, "Advanced", 10, mandatory=False, qualification_id=5)
    pos = step(2, "Positioning", 20, mandatory=False, record_kind="positioning")
    adj = step(3, "Adjust", 30, mandatory=False, record_kind="adjustment")
    s = session((adv, pos, adj))
    assert codes(R.tick_problems(s, adv, qualified=False)) == [R.STEP_NOT_QUALIFIED]
    assert R.tick_problems(s, adv, qualified=True) == []
    assert codes(R.tick_problems(s, pos)) == [R.STEP_NEEDS_POSITIONING]
    assert R.tick_problems(s, pos, positioning="seated") == []
    assert codes(R.tick_problems(s, adj)) == [R.STEP_NEEDS_ADJUSTMENT]
    assert codes(R.tick_problems(session((adv,), state="draft"), adv)) == [
        R.STEP_NOT_IN_PROGRESS
    ]
    assert codes(R.tick_problems(session((adv,), state="done"), adv)) == [
        R.STEP_NOT_IN_PROGRESS
    ]


def test_no_tick_after_stop_trigger():
    a = step(1, "A", 10)
    s = session((a,), (R.CheckinFacts(1, None, 9, False),))
    assert codes(R.tick_problems(s, a)) == [R.STOP_RULE]


GLUTEAL, CHEST = 7, 8


def test_sensitive_region_needs_a_written_consent_naming_it():
    """Rule 8: verbal is never enough; written or signed must name it."""
    press = step(1, "Press", 10, sensitive_region_ids=frozenset({GLUTEAL}))
    plain = step(2, "Warm-up", 20, mandatory=False)
    verbal = consent(method="verbal", region_ids=frozenset({GLUTEAL}))
    written = consent(method="written", region_ids=frozenset({GLUTEAL}))
    signed = consent(method="signature", region_ids=frozenset({GLUTEAL, CHEST}))
    other = consent(method="written", region_ids=frozenset({CHEST}))
    for facts in (verbal, other, None):
        problems = R.tick_problems(session((press,), consent_facts=facts), press)
        assert problems == [
            (
                R.STEP_SENSITIVE_REGION,
                {
                    "region_ids": [GLUTEAL],
                    "written": facts is not None and facts.method != "verbal",
                },
            )
        ]
    for facts in (written, signed):
        assert R.tick_problems(session((press,), consent_facts=facts), press) == []
    # a line touching no sensitive region needs nothing more
    assert R.tick_problems(session((plain,), consent_facts=verbal), plain) == []


def test_technique_adapted_needs_no_sensitive_consent():
    adapted = step(1, "Press", 10, sensitive_region_ids=frozenset())
    verbal = consent(method="verbal")
    assert R.tick_problems(session((adapted,), consent_facts=verbal), adapted) == []


@given(
    st.sampled_from(["verbal", "written", "signature", None]),
    st.frozensets(st.integers(1, 6)),
    st.frozensets(st.integers(1, 6)),
)
def test_property_uncovered_regions(method, agreed, touched):
    facts = consent(method=method, region_ids=agreed)
    missing = R.uncovered_sensitive_regions(facts, touched)
    assert missing <= touched
    if method in ("written", "signature"):
        assert missing == touched - agreed
    else:
        assert missing == touched


# ----------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------

step_states = st.sampled_from(["todo", "done", "skipped"])


@st.composite
def sessions(draw):
    n = draw(st.integers(min_value=0, max_value=12))
    steps = tuple(
        step(
            i + 1,
            f"S{i + 1}",
            draw(st.integers(0, 100)),
            mandatory=draw(st.booleans()),
            checkin=draw(st.booleans()),
            state=draw(step_states),
        )
        for i in range(n)
    )
    step_ids = [s.id for s in steps] + [None]
    checkins = tuple(
        R.CheckinFacts(
            i + 1,
            draw(st.sampled_from(step_ids)),
            draw(st.integers(0, 10)),
            draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 8)))
    )
    c = draw(
        st.one_of(
            st.none(),
            st.builds(
                consent,
                state=st.sampled_from(["draft", "given", "withdrawn"]),
                valid_until=st.dates(
                    TODAY - timedelta(days=5), TODAY + timedelta(days=5)
                ),
                given_at=st.datetimes(NOW - timedelta(days=2), NOW + timedelta(days=1)),
            ),
        )
    )
    return session(
        steps,
        checkins,
        c,
        min_checkin_count=draw(st.integers(0, 5)),
        pain_stop_threshold=draw(st.integers(0, 10)),
    )


@given(sessions())
def test_property_no_problem_means_every_rule_holds(s):
    """Whenever completion is allowed, every rule of the contract holds."""
    if R.completion_problems(s, TODAY):
        return
    c = s.consent
    assert c is not None and c.state == "given" and PROTOCOL in c.protocol_ids
    assert c.valid_until >= TODAY and c.given_at <= s.date_start
    assert all(st_.state == "done" for st_ in s.steps if st_.is_mandatory)
    assert len(s.checkins) >= s.min_checkin_count
    logged_after = {ck.step_id for ck in s.checkins}
    assert all(
        st_.id in logged_after
        for st_ in s.steps
        if st_.state == "done" and st_.requires_checkin
    )
    assert all(
        ck.pain_level < s.pain_stop_threshold and not ck.stop_requested
        for ck in s.checkins
    )


@given(sessions())
def test_property_problems_are_monotonic_in_checkins(s):
    """A harmless check-in never adds a problem other than the stop rule,
    and a check-in at or above the threshold always blocks completion."""
    before = set(codes(R.completion_problems(s, TODAY)))
    harmless = R.CheckinFacts(99, None, 0, False)
    after = set(
        codes(
            R.completion_problems(
                R.SessionFacts(**{**s.__dict__, "checkins": s.checkins + (harmless,)}),
                TODAY,
            )
        )
    )
    assert (
        after <= before | {R.STOP_RULE}
        if s.pain_stop_threshold == 0
        else after <= before
    )
    severe = R.CheckinFacts(100, None, 10, False)
    blocked = R.completion_problems(
        R.SessionFacts(**{**s.__dict__, "checkins": s.checkins + (severe,)}), TODAY
    )
    assert R.STOP_RULE in codes(blocked)


@given(sessions())
def test_property_missing_checkins_count_is_tight(s):
    count, names = R.missing_checkins(s)
    assert count >= len(names)
    assert count >= s.min_checkin_count - len(s.checkins)
    assert count == max(len(names), max(0, s.min_checkin_count - len(s.checkins)))


# ----------------------------------------------------------------------
# Progress at a glance, device time
# ----------------------------------------------------------------------


def _checkin(id_, step_id=None, pain=2, stop=False):
    return R.CheckinFacts(id=id_, step_id=step_id, pain_level=pain, stop_requested=stop)


def test_progress_counts_mandatory_steps_and_the_checkins_the_rules_count():
    steps = [
        step(1, "Prepare", 10, state="done"),
        step(2, "Press", 20, checkin=True, state="done"),
        step(3, "Finish", 30),
        step(4, "Extra", 40, mandatory=False, state="done"),
    ]
    progress = R.checklist_progress(session(steps, [_checkin(1)]))
    assert progress == {
        "steps_done": 2,
        "steps_total": 3,
        "checkins_done": 1,
        "checkins_required": 2,
    }
    # The check-in after "Press" is the one the rules wanted.
    progress = R.checklist_progress(session(steps, [_checkin(1, 2), _checkin(2)]))
    assert (progress["checkins_done"], progress["checkins_required"]) == (2, 2)
    # Before the start, the protocol's minimum, none logged.
    progress = R.checklist_progress(session(steps, state="draft"))
    assert (progress["checkins_done"], progress["checkins_required"]) == (0, 2)


@given(
    st.lists(st.tuples(st.booleans(), st.sampled_from(["todo", "done", "skipped"]))),
    st.integers(0, 5),
    st.integers(0, 4),
)
def test_progress_is_complete_exactly_when_nothing_but_the_rest_blocks(
    lines, min_checkins, logged
):
    steps = [
        step(i + 1, f"S{i}", i * 10, mandatory=m, state=s)
        for i, (m, s) in enumerate(lines)
        if not (m and s == "skipped")
    ]
    facts = session(
        steps,
        [_checkin(i + 1) for i in range(logged)],
        min_checkin_count=min_checkins,
    )
    progress = R.checklist_progress(facts)
    problems = codes(R.completion_problems(facts, TODAY))
    steps_complete = progress["steps_done"] == progress["steps_total"]
    checkins_complete = progress["checkins_done"] == progress["checkins_required"]
    assert steps_complete == (R.STEPS_MISSING not in problems)
    assert checkins_complete == (R.CHECKINS_MISSING not in problems)


def test_device_time_plausible_within_the_drift():
    drift = timedelta(minutes=5)
    start = NOW - timedelta(hours=1)
    assert R.device_time_plausible(start - drift, start, NOW, drift)
    assert R.device_time_plausible(NOW + drift, start, NOW, drift)
    assert not R.device_time_plausible(
        start - drift - timedelta(seconds=1), start, NOW, drift
    )
    assert not R.device_time_plausible(
        NOW + drift + timedelta(seconds=1), start, NOW, drift
    )
    # Not started: around the moment received only.
    assert not R.device_time_plausible(NOW - timedelta(minutes=6), None, NOW, drift)
