import base64
import io
from datetime import timedelta

from PIL import Image, ImageDraw, ImageFont

from odoo import Command, fields
from odoo.tests import TransactionCase, new_test_user
from odoo.tests.common import ChromeBrowser
from odoo.tools.misc import file_path

# Odoo's "Auto" signature mode draws the typed name in one of these fonts.
AUTO_FONT = "web/static/fonts/sign/LaBelleAurore-Regular.ttf"
# The pad of a phone: the page's width, 200 px high.
PAD_SIZE = (330, 200)


def png(draw=None, size=PAD_SIZE):
    """A transparent PNG as the pad exports it, with ``draw(ImageDraw)``."""
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    if draw:
        draw(ImageDraw.Draw(picture))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def zigzag(left=20, top=100, steps=9):
    """A stroke as a finger draws it: [x, y] points in the pad's pixels."""
    return [[left + i * 25, top + (15 if i % 2 else -15)] for i in range(steps)]


def ink(points):
    """The pad's picture of ``points`` drawn with its pen."""
    return lambda draw: draw.line(
        [tuple(p) for p in points], fill=(0, 0, 0, 255), width=2
    )


def drawn_signature():
    """What a signature pad (the consent page's, the tablet's) posts for a
    signature drawn with a finger: the pad's picture (base64 PNG) and the
    strokes that drew it."""
    stroke = zigzag()
    return png(ink(stroke)), [stroke]


def typed_name(name):
    """The picture the "Auto" mode makes: the name set in a signature font."""
    font = ImageFont.truetype(file_path(AUTO_FONT), 60)
    return lambda draw: draw.text((20, 60), name, fill=(0, 0, 0, 255), font=font)


def shoot_tour(case, url, tour, login=None, browser=None):
    """Run ``tour`` on ``url`` in Chromium (a tour that ends on the screen to
    capture), then capture the screen: the PNG's bytes. ``case`` is the
    running ``HttpCase``; ``browser`` a browser already set up and logged in
    (a phone's, for one), else one is opened for ``login``."""
    if browser is None:
        browser = ChromeBrowser(case, success_signal="tour succeeded")
        case.authenticate(login, login, browser=browser)
        case.cr.flush()
        case.cr.clear()
    try:
        browser.navigate_to(f"{case.base_url()}{url}", wait_stop=False)
        case.assertTrue(browser._wait_ready(f"odoo.isTourReady({tour!r})"))
        browser._wait_code_ok(f"odoo.startTour({tour!r}, {{}})", 120)
        shot = browser._websocket_send("Page.captureScreenshot", with_future=True)
        return base64.b64decode(shot.result(timeout=30)["data"])
    finally:
        browser.stop()
        case._wait_remaining_requests()


class SpaCommon(TransactionCase):
    """Users of each role, a client, the built-in protocol and helpers that
    walk a session through the protocol as a therapist would."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        grp = "spa_session_protocol.group_spa_"
        cls.front_desk = new_test_user(
            cls.env, "spa_fd", groups=f"{grp}front_desk", name="Fiona Desk"
        )
        cls.therapist = cls.certified_therapist("spa_th", "Theo Therapist")
        cls.therapist2 = new_test_user(
            cls.env, "spa_th2", groups=f"{grp}therapist", name="Tara Therapist"
        )
        cls.manager = new_test_user(
            cls.env, "spa_mgr", groups=f"{grp}manager", name="Mona Manager"
        )
        cls.plain_user = new_test_user(
            cls.env, "spa_plain", groups="base.group_user", name="Paul Plain"
        )
        cls.client = cls.env["res.partner"].create({"name": "Clara Client"})
        cls.client2 = cls.env["res.partner"].create({"name": "Carl Client"})
        cls.protocol = cls.env.ref("spa_session_protocol.protocol_upper_back")
        cls.qualification = cls.env.ref(
            "spa_session_protocol.qualification_advanced_techniques"
        )
        cls.steps_by_name = {s.name: s for s in cls.protocol.step_ids}
        cls.room = cls.env["spa.room"].create({"name": "Room One"})
        # Rule 7: the built-in protocol's clients answered its health intake.
        cls.intake_survey = cls.protocol.intake_survey_id
        cls.intake = cls.give_intake(cls.client)
        cls.intake2 = cls.give_intake(cls.client2)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    @classmethod
    def certify(cls, user, days_ago=30):
        """``user`` holds the qualification the built-in protocol's advanced
        steps ask for, since ``days_ago`` days."""
        return cls.env["spa.certification"].create(
            {
                "user_id": user.id,
                "qualification_id": cls.env.ref(
                    "spa_session_protocol.qualification_advanced_techniques"
                ).id,
                "date_from": fields.Date.today() - timedelta(days=days_ago),
            }
        )

    @classmethod
    def certified_therapist(cls, login, name, **values):
        """A new therapist who holds that qualification."""
        therapist = new_test_user(
            cls.env,
            login,
            groups="spa_session_protocol.group_spa_therapist",
            name=name,
            **values,
        )
        cls.certify(therapist)
        return therapist

    @classmethod
    def share_test_cursor(cls):
        """The refusal log is written through ``registry.cursor()``: in test
        mode that cursor shares the test's transaction (as in HttpCase)."""
        if cls.registry.test_cr is None:
            cls.registry.enter_test_mode(cls.cr)
            cls.addClassCleanup(cls.registry.leave_test_mode)

    def other_company_manager(self, name="Spa B", login="spa_mgr_b"):
        """A second company and a manager who belongs to it only."""
        company = self.env["res.company"].create({"name": name})
        manager = new_test_user(
            self.env,
            login,
            groups="spa_session_protocol.group_spa_manager",
            company_id=company.id,
            company_ids=[Command.set(company.ids)],
        )
        return company, manager

    @classmethod
    def give_intake(
        cls, partner, answers=(), finished_days_ago=0, survey=None, text=None
    ):
        """A completed health intake of ``partner``, answered "no" to every
        question except those whose answer is in ``answers``
        (``survey.question.answer`` records or xml ids); the free-text
        questions answered with ``text`` when given (else skipped)."""
        survey = (survey or cls.protocol.intake_survey_id).sudo()
        chosen = cls.env["survey.question.answer"]
        for answer in answers:
            chosen |= (
                cls.env.ref(f"spa_session_protocol.{answer}")
                if isinstance(answer, str)
                else answer
            )
        user_input = survey._create_answer(partner=partner, check_attempts=False)
        for question in survey.question_ids:
            if text and question.question_type in ("char_box", "text_box"):
                user_input._save_lines(question, text)
            if question.question_type != "simple_choice":
                continue
            options = question.suggested_answer_ids
            answer = (options & chosen)[:1] or options.filtered(
                lambda a: not a.spa_contraindication
            )[:1]
            user_input._save_lines(question, answer.id)
        user_input._mark_done()
        if finished_days_ago:
            user_input.write(
                {
                    "end_datetime": fields.Datetime.now()
                    - timedelta(days=finished_days_ago)
                }
            )
        return user_input

    def new_consent(self, partner=None, protocols=None, user=None, **vals):
        """A consent created (draft, unless ``vals`` says otherwise) by
        ``user`` — the front desk by default."""
        return (
            self.env["spa.consent"]
            .with_user(user or self.front_desk)
            .create(
                {
                    "partner_id": (partner or self.client).id,
                    "protocol_ids": [Command.set((protocols or self.protocol).ids)],
                    **vals,
                }
            )
        )

    def give_consent(self, partner=None, protocols=None, user=None, **vals):
        """A given consent. By default a written one naming the sensitive
        regions of its protocols (rule 8: the built-in "Stabilise and apply
        pressure" touches the buttocks); ``method="verbal"`` names none."""
        vals.setdefault("method", "written")
        if vals["method"] != "verbal" and "body_region_ids" not in vals:
            regions = (protocols or self.protocol).sensitive_region_ids
            vals["body_region_ids"] = [Command.set(regions.ids)]
        consent = self.new_consent(partner, protocols, user, **vals)
        consent.action_give()
        return consent

    def book(
        self, partner=None, therapist=None, protocol=None, start=None, user=None, **vals
    ):
        start = start or fields.Datetime.now() + timedelta(hours=1)
        event = (
            self.env["calendar.event"]
            .with_user(user or self.front_desk)
            .create(
                {
                    "name": "Upper-back release",
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "spa_protocol_id": (protocol or self.protocol).id,
                    "spa_client_id": (partner or self.client).id,
                    "spa_therapist_id": (therapist or self.therapist).id,
                    **vals,
                }
            )
        )
        return event

    def session_of(self, event):
        return event.sudo().spa_session_ids.filtered(lambda s: s.state != "cancelled")

    def started_session(self, therapist=None, **book_vals):
        therapist = therapist or self.therapist
        self.give_consent()
        # Rule 7: the client answered the health intake (today, as the clock
        # of the test says).
        self.give_intake(book_vals.get("partner") or self.client)
        session = self.session_of(
            self.book(therapist=therapist, **book_vals)
        ).with_user(therapist)
        session.action_start()
        return session

    def step(self, session, name):
        return session.step_ids.filtered(lambda s: s.name == name)

    def tick(self, session, *names):
        for name in names:
            self.step(session, name).action_done()

    def checkin(self, session, step_name=None, pain=2, stop=False, **vals):
        return (
            self.env["spa.checkin"]
            .with_user(session.env.user)
            .create(
                {
                    "session_id": session.id,
                    "session_step_id": self.step(session, step_name).id
                    if step_name
                    else False,
                    "pain_level": pain,
                    "stop_requested": stop,
                    **vals,
                }
            )
        )

    MANDATORY = (
        "Prepare the client and get consent",
        "Positioning",
        "Warm-up",
        "Locate the target area",
        "Stabilise and apply pressure",
        "Pressing motions",
        "Feedback check-ins",
    )

    def run_mandatory_steps(self, session):
        """Every mandatory step ticked, with the check-ins they ask for."""
        session.write({"positioning": "prone_table"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=3)
        self.tick(session, "Pressing motions")
        self.checkin(session, "Pressing motions", pain=2)
        self.tick(session, "Feedback check-ins")

    def run_compliant_protocol(self, session):
        """Everything the protocol asks, short of completing."""
        self.run_mandatory_steps(session)
        self.step(session, "Adjust the technique").action_skip("Client felt relief")
        self.step(session, "Advanced techniques").action_skip("Not needed")
