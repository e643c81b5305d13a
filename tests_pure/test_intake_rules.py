"""Rule 7 (the health intake) as plain functions, without Odoo."""

from datetime import date, datetime, timedelta

import spa_session_rules as R
from hypothesis import given
from hypothesis import strategies as st

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 10, 0)
SURVEY = 7
CLIENT = 3


def session(**kw):
    values = {
        "id": 1,
        "protocol_id": 1,
        "state": "draft",
        "min_checkin_count": 2,
        "pain_stop_threshold": 7,
        "partner_id": CLIENT,
        "intake_survey_id": SURVEY,
        "intake_validity_days": 30,
    }
    values.update(kw)
    return R.SessionFacts(**values)


def intake(days_ago=0, answers=(), cleared=False, **kw):
    values = {
        "id": 1,
        "partner_id": CLIENT,
        "survey_id": SURVEY,
        "state": "done",
        "finished_at": NOW - timedelta(days=days_ago),
        "finished_on": TODAY - timedelta(days=days_ago),
        "answers": tuple(answers),
        "cleared": cleared,
    }
    values.update(kw)
    return R.IntakeFacts(**values)


BLOCK = R.IntakeAnswerFacts("Recent surgery?", "Yes", "block")
CAUTION = R.IntakeAnswerFacts("Allergic to oils?", "Yes", "caution")


def codes(problems):
    return [code for code, __ in problems]


def test_no_intake_needed_without_a_survey():
    assert R.start_intake(session(intake_survey_id=None), [], TODAY) == ([], None)
    assert R.intake_status(session(intake_survey_id=None), [], TODAY) == (False, None)


def test_missing_pending_other_client_other_survey():
    for intakes in (
        [],
        [intake(state="in_progress")],
        [intake(partner_id=99)],
        [intake(survey_id=99)],
    ):
        problems, chosen = R.start_intake(session(), intakes, TODAY)
        assert codes(problems) == [R.NO_INTAKE]
        assert chosen is None


def test_validity_in_days_on_the_company_day():
    assert R.start_intake(session(), [intake(days_ago=30)], TODAY)[1] is not None
    problems, chosen = R.start_intake(session(), [intake(days_ago=31)], TODAY)
    assert codes(problems) == [R.INTAKE_EXPIRED]
    assert chosen is None
    assert R.intake_status(session(), [intake(days_ago=31)], TODAY)[0] == "expired"


def test_block_names_question_and_answer_until_cleared():
    problems, chosen = R.start_intake(session(), [intake(answers=[BLOCK])], TODAY)
    assert problems == [(R.INTAKE_BLOCKED, {"answers": [("Recent surgery?", "Yes")]})]
    assert chosen is None
    cleared = intake(answers=[BLOCK], cleared=True)
    assert R.start_intake(session(), [cleared], TODAY) == ([], cleared)
    # The cleared answer is still shown to the therapist.
    assert R.intake_cautions(cleared) == [("Recent surgery?", "Yes")]


def test_caution_does_not_block_and_shows():
    with_caution = intake(answers=[CAUTION])
    assert R.start_intake(session(), [with_caution], TODAY) == ([], with_caution)
    assert R.intake_status(session(), [with_caution], TODAY) == (
        "caution",
        with_caution,
    )


def test_the_newest_usable_intake_wins():
    old = intake(id=1, days_ago=10)
    new = intake(id=2, days_ago=1)
    blocked = intake(id=3, days_ago=0, answers=[BLOCK])
    assert R.start_intake(session(), [old, new, blocked], TODAY)[1] == new


def test_start_problems_include_rule_7():
    problems, __ = R.start_problems(session(), [], TODAY, NOW, intakes=[])
    assert R.NO_INTAKE in codes(problems)


def test_started_session_shows_the_intake_it_relied_on():
    relied = intake(answers=[CAUTION])
    started = session(state="in_progress", intake=relied)
    assert R.intake_status(started, [], TODAY) == ("caution", relied)


@given(
    days_ago=st.integers(min_value=0, max_value=400),
    validity=st.integers(min_value=0, max_value=365),
    flags=st.lists(st.sampled_from(["caution", "block"]), max_size=3),
    cleared=st.booleans(),
)
def test_badge_agrees_with_the_start(days_ago, validity, flags, cleared):
    answers = [R.IntakeAnswerFacts(f"Q{i}", "Yes", f) for i, f in enumerate(flags)]
    facts = session(intake_validity_days=validity)
    candidates = [intake(days_ago=days_ago, answers=answers, cleared=cleared)]
    problems, chosen = R.start_intake(facts, candidates, TODAY)
    status, __ = R.intake_status(facts, candidates, TODAY)
    assert (status in ("valid", "caution")) == (not problems)
    assert (chosen is not None) == (not problems)
    assert (days_ago <= validity) == (R.INTAKE_EXPIRED not in codes(problems))
