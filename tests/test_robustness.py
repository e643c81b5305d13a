"""Issue 12, findings 7, 9 and 10: translations of the consent text, clinical
detail kept from the front desk on every read path, and what a tablet, a
tampered client or a logged-in member of staff sends that the models refuse
cleanly (device time, malformed batches, note and key types, signature
images, the consent link's token, the refusal log)."""

import base64
import io
import json
import uuid
from datetime import datetime, timedelta

from lxml import etree
from PIL import Image

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, tagged

from odoo.addons.base.models.ir_qweb import QWebException
from odoo.addons.mail.tools.discuss import Store

from .common import SpaCommon, drawn_signature

# A 1x1 transparent PNG, as the signature pad sends it (a data URL).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
PNG_B64 = base64.b64encode(PNG).decode()


def iso(moment):
    """A naive UTC datetime as the tablet sends it (ISO 8601, UTC)."""
    return moment.isoformat(timespec="milliseconds") + "Z"


@tagged("post_install", "-at_install", "spa_robustness")
class TestConsentTextTranslations(SpaCommon):
    """A consent covers the text in every language (finding 7)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")

    def assertReconsentNeeded(self, event):
        event.invalidate_recordset(["spa_consent_status"])
        self.assertEqual(event.spa_consent_status, "reconsent")
        session = self.session_of(event).with_user(self.therapist)
        with self.assertRaisesRegex(UserError, "consent text .* changed"):
            session.action_start()
        self.assertEqual(session.state, "draft")

    def translate(self, lang, text, protocol=None):
        """Translate the first term of the consent text as the translation
        dialog does (``update_field_translations``, which bypasses write())."""
        protocol = (protocol or self.protocol).with_user(self.manager)
        source = protocol.with_context(lang="en_US").consent_text
        term = protocol._fields["consent_text"].get_trans_terms(source)[0]
        protocol.update_field_translations("consent_text", {lang: {term: text}})
        self.assertIn(text, protocol.with_context(lang=lang).consent_text)
        self.assertEqual(protocol.with_context(lang="en_US").consent_text, source)

    def test_changing_only_the_french_text_needs_a_new_consent(self):
        self.give_consent()
        event = self.book()
        self.assertEqual(event.spa_consent_status, "valid")
        self.translate("fr_FR", "J'accepte une pression plus forte.")
        self.assertReconsentNeeded(event)
        # A new consent agreed to the texts as they are now covers it again.
        self.give_consent()
        event.invalidate_recordset(["spa_consent_status"])
        self.assertEqual(event.spa_consent_status, "valid")
        session = self.session_of(event).with_user(self.therapist)
        session.action_start()
        self.assertEqual(session.state, "in_progress")

    def test_version_is_stable_and_covers_each_language(self):
        protocol = self.protocol.with_user(self.manager)
        before = protocol._consent_text_version()
        # Activating a language without its own text changes nothing.
        self.env["res.lang"]._activate_lang("de_DE")
        self.assertEqual(protocol._consent_text_version(), before)
        self.translate("fr_FR", "Un")
        french_one = protocol._consent_text_version()
        self.assertNotEqual(french_one, before)
        self.translate("de_DE", "Eins")
        self.assertNotIn(
            protocol._consent_text_version(), (before, french_one), "German counts"
        )
        # The consent stores the version of every language it was agreed to.
        consent = self.give_consent()
        self.assertEqual(
            consent.consent_text_versions[str(self.protocol.id)],
            protocol._consent_text_version(),
        )


@tagged("post_install", "-at_install", "spa_robustness")
class TestClinicalDetailFrontDesk(SpaCommon):
    """The front desk never reads clinical detail, whatever the path
    (finding 9): read, search, web_read, grouping, exports, the chatter's
    tracking values, the views, the printed record."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.front_desk.groups_id += cls.env.ref("base.group_allow_export")

    def stopped_for_pain(self):
        # Tracking on: the chatter must not show the stop reason either.
        self.env = self.env(context=dict(self.env.context, tracking_disable=False))
        session = self.started_session()
        session = session.with_context(tracking_disable=False)
        # A record created in the transaction is tracked from the next one.
        self.flush_tracking()
        self.tick(session, "Prepare the client and get consent")
        self.step(session, "Advanced techniques").action_skip("Client has scoliosis")
        self.checkin(
            session,
            pain=8,
            note="Sharp pain between the shoulder blades",
            device_at=fields.Datetime.now() - timedelta(minutes=1),
        )
        session.action_stop(note="Client in pain, sent to a physiotherapist")
        self.flush_tracking()
        self.assertEqual(session.stop_reason, "pain")
        return session.with_user(self.front_desk)

    def flush_tracking(self):
        """Tracking values are written when the transaction commits."""
        self.env.flush_all()
        self.env.cr.precommit.run()

    CLINICAL = {
        "spa.session": (
            "stop_reason",
            "stop_note",
            "screening_note",
            "screening_has_pain",
            "adjustment_note",
            "adjust_angle",
            "adjust_direction",
            "adjust_lighter_pressure",
            "positioning",
        ),
        "spa.session.step": ("skip_reason",),
    }

    def test_every_read_path_refuses_clinical_fields(self):
        session = self.stopped_for_pain()
        records = {"spa.session": session, "spa.session.step": session.step_ids}
        for model, fnames in self.CLINICAL.items():
            recs = records[model].with_user(self.front_desk)
            Model = recs.browse()
            for fname in fnames:
                with self.subTest(model=model, field=fname):
                    self.assertNotIn(fname, Model.fields_get())
                    with self.assertRaises(AccessError):
                        recs.read([fname])
                    with self.assertRaises(AccessError):
                        Model.search_read([("id", "in", recs.ids)], [fname])
                    with self.assertRaises(AccessError):
                        recs.web_read({fname: {}})
                    with self.assertRaises(AccessError):
                        Model.web_search_read([("id", "in", recs.ids)], {fname: {}})
                    with self.assertRaises(AccessError):
                        Model.read_group([], [fname], [fname])
                    with self.assertRaises(AccessError):
                        Model.search([(fname, "!=", False)])
                    with self.assertRaises(AccessError):
                        recs.export_data([fname])
                    recs.invalidate_recordset()
                    with self.assertRaises(AccessError):
                        recs[:1].mapped(fname)
        # The front desk still reads what it needs of the session.
        self.assertEqual(session.state, "stopped")
        self.assertTrue(session.referral_recommended)

    def test_chatter_tracking_hides_the_stop_reason(self):
        session = self.stopped_for_pain()
        tracked = session.sudo().message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "stop_reason"
        )
        self.assertTrue(tracked, "the stop reason is tracked in the chatter")
        messages = tracked.mail_message_id
        for user, visible in ((self.front_desk, False), (self.therapist, True)):
            store = Store()
            messages.with_user(user)._to_store(store, for_current_user=True)
            shown = [
                tracking["fieldName"]
                for message in store.get_result()["mail.message"]
                for tracking in message.get("trackingValues", [])
            ]
            self.assertEqual("stop_reason" in shown, visible, (user.name, shown))

    def test_views_and_record_report_show_no_clinical_detail(self):
        session = self.stopped_for_pain()
        Session = self.env["spa.session"].with_user(self.front_desk)
        for view_type in ("form", "list"):
            arch = Session.get_views([(False, view_type)])["views"][view_type]["arch"]
            for fname in ("stop_reason", "stop_note", "skip_reason", "note"):
                self.assertNotIn(f'name="{fname}"', arch, (view_type, fname))
        report = self.env.ref("spa_session_protocol.action_report_session_record")
        # A form as the front desk opens it loads without the clinical fields.
        Form(session)
        # A fresh request (empty cache) of the front desk cannot print it.
        self.env.invalidate_all()
        with self.assertRaisesRegex(
            (AccessError, QWebException), "not have enough rights"
        ):
            report.with_user(self.front_desk)._render_qweb_html(
                report.report_name, session.ids
            )
        # The printed record shows the server's time first, the device's beside.
        html = report.with_user(self.therapist)._render_qweb_html(
            report.report_name, session.ids
        )[0]
        cell = etree.fromstring(html, etree.HTMLParser()).xpath(
            "//table[contains(@class, 'o_spa_checkins')]/tbody/tr[1]/td[1]"
        )[0]
        self.assertEqual(
            [el.get("class").split()[-1] for el in cell.xpath("./*[@class]")],
            ["o_spa_logged_at", "o_spa_device_at"],
        )

    def test_compliance_analysis_is_closed_to_the_front_desk(self):
        session = self.stopped_for_pain()
        Report = self.env["spa.compliance.report"].with_user(self.front_desk)
        with self.assertRaises(AccessError):
            Report.search_read([("session_id", "=", session.id)], ["stop_reason"])
        with self.assertRaises(AccessError):
            Report.read_group([], ["stop_reason"], ["stop_reason"])
        # The therapist reads the row of their own session, reason included.
        row = (
            self.env["spa.compliance.report"]
            .with_user(self.therapist)
            .search([("session_id", "=", session.id)])
        )
        self.assertEqual(row.stop_reason, "pain")


@tagged("post_install", "-at_install", "spa_robustness")
class TestCheckinAndSignatureModel(SpaCommon):
    """The models refuse what a tampered device or RPC call sends, on every
    path (finding 10)."""

    def test_device_time_must_be_plausible(self):
        session = self.started_session()
        now = fields.Datetime.now()
        for device_at in (
            datetime(2001, 1, 1, 9, 0),
            datetime(2099, 1, 1, 9, 0),
            session.date_start - timedelta(minutes=6),
            now + timedelta(minutes=6),
        ):
            with (
                self.subTest(device_at=device_at),
                self.assertRaisesRegex(ValidationError, "device time"),
            ):
                self.checkin(session, device_at=device_at)
        for device_at in (
            session.date_start - timedelta(minutes=4),
            now + timedelta(minutes=4),
            now,
        ):
            checkin = self.checkin(session, device_at=device_at)
            self.assertEqual(checkin.device_at, device_at.replace(microsecond=0))
        self.assertEqual(session.checkin_count, 3)

    def test_note_must_be_text(self):
        session = self.started_session()
        with self.assertRaisesRegex(ValidationError, "Note"):
            self.checkin(session, note={"evil": "payload"})
        checkin = self.checkin(session, note="Fine")
        with self.assertRaisesRegex(ValidationError, "Note"):
            checkin.with_user(self.therapist).write({"note": ["a", "list"]})
        self.assertEqual(checkin.note, "Fine")
        with self.assertRaisesRegex(ValidationError, "take text: Adjustment Note"):
            session.write({"adjustment_note": {"not": "text"}})
        self.assertFalse(session.adjustment_note)
        step = self.step(session, "Advanced techniques")
        with self.assertRaisesRegex(ValidationError, "take text: Skip Reason"):
            step.write({"skip_reason": {"not": "text"}})
        self.assertFalse(step.skip_reason)
        consent = self.new_consent()
        with self.assertRaisesRegex(ValidationError, "take text: Note"):
            consent.write({"note": ["not", "text"]})
        self.assertFalse(consent.note)

    def test_empty_uuid_is_no_key(self):
        session = self.started_session()
        checkins = self.env["spa.checkin"]
        for key in ("", "", "   "):
            checkins |= self.checkin(session, uuid=key)
        self.assertEqual(len(checkins), 3, "an empty key replays nothing")
        self.assertEqual(checkins.mapped("uuid"), [False] * 3)
        self.assertEqual(session.checkin_count, 3)

    def test_checkin_step_and_key_are_its_sessions(self):
        """The step a check-in follows is looked up among its session's own
        lines, and its key among every check-in (issue 14: both are read
        with the session's lines and check-ins, as the server)."""
        session = self.started_session()
        self.tick(session, "Prepare the client and get consent")
        self.give_consent(partner=self.client2)
        self.give_intake(self.client2)
        other = self.session_of(
            self.book(partner=self.client2, start=fields.Datetime.now())
        ).with_user(self.therapist)
        other.action_start()
        self.tick(other, "Prepare the client and get consent")
        logged = self.checkin(other, uuid="k-other")
        done_elsewhere = self.step(other, "Prepare the client and get consent")
        with self.assertRaisesRegex(ValidationError, "not a step of its session"):
            self.checkin(session, session_step_id=done_elsewhere.id)
        with self.assertRaisesRegex(ValidationError, "another session"):
            self.checkin(session, uuid="k-other")
        # A replay on its own session is the record logged before.
        self.assertEqual(self.checkin(other, uuid="k-other"), logged)
        self.assertEqual(session.checkin_count, 0)
        self.assertEqual(other.checkin_count, 1)
        self.checkin(session, "Prepare the client and get consent", uuid="k-own")
        self.assertEqual(session.checkin_count, 1)
        self.assertEqual(session.checkin_ids.uuid, "k-own")

    def test_signature_is_a_small_png_or_jpeg(self):
        consent = self.new_consent(method="signature")
        # 15 MB of text posing as a signature.
        with self.assertRaisesRegex(ValidationError, "not a PNG or JPEG"):
            consent.write({"signature": base64.b64encode(b"x" * 15_000_000)})
        with self.assertRaisesRegex(ValidationError, "not a PNG or JPEG"):
            consent.write({"signature": "not base64 at all!"})
        too_big = PNG[:8] + b"\0" * (1024 * 1024)
        with self.assertRaisesRegex(ValidationError, "too large"):
            consent.write({"signature": base64.b64encode(too_big)})
        with self.assertRaisesRegex(ValidationError, "not a PNG or JPEG"):
            self.new_consent(method="signature", signature=base64.b64encode(b"GIF89a"))
        self.assertFalse(consent.signature)
        # A JPEG marker followed by anything else is no image.
        with self.assertRaisesRegex(ValidationError, "not a PNG or JPEG"):
            consent.write(
                {"signature": base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 100)}
            )
        jpeg = io.BytesIO()
        Image.new("RGB", (4, 4), "white").save(jpeg, "JPEG")
        consent.write({"signature": base64.b64encode(jpeg.getvalue())})
        # A picture with ink across the box: what action_give accepts.
        consent.write({"signature": drawn_signature()[0]})
        consent.action_give()
        self.assertEqual(consent.state, "given")


@tagged("post_install", "-at_install", "spa_robustness")
class TestRefusalLogBounded(SpaCommon):
    """30 refused starts of one user leave one row counting 30 (finding 10)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.share_test_cursor()

    def refuse(self, method, times):
        # No savepoint: the log written through the shared test cursor would
        # be rolled back with it.
        for __ in range(times):
            try:
                method()
            except UserError:
                continue
            self.fail(f"{method} was not refused")

    def test_identical_refusals_share_one_row(self):
        Refusal = self.env["spa.session.refusal"]
        session = self.session_of(self.book(partner=self.client2)).with_user(
            self.therapist
        )
        self.refuse(session.action_start, 30)
        rows = Refusal.search([("session_id", "=", session.id)])
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows.attempt_count, 30)
        self.assertEqual(rows.action, "start")
        self.assertEqual(rows.user_id, self.therapist)
        self.assertTrue(rows.date_last >= rows.date)
        # Another user's refusal, and one after the window, get rows of their own.
        self.refuse(session.with_user(self.manager).action_start, 2)
        rows.env.cr.execute(
            "UPDATE spa_session_refusal SET date = date - interval '2 hours' "
            "WHERE id = %s",
            [rows.id],
        )
        self.refuse(session.action_start, 1)
        rows = Refusal.search([("session_id", "=", session.id)])
        self.assertEqual(
            sorted(rows.mapped("attempt_count")), [1, 2, 30], rows.read(["user_id"])
        )
        # The compliance analysis counts every attempt.
        self.env["spa.compliance.report"].invalidate_model()
        row = self.env["spa.compliance.report"].search(
            [("session_id", "=", session.id)]
        )
        self.assertEqual(row.refusal_count, 33)


@tagged("post_install", "-at_install", "spa_robustness")
class TestTabletSyncRobustness(SpaCommon, HttpCase):
    """One bad operation of a batch never takes the valid ones with it, and
    is refused with a clear message, never a server error (finding 10)."""

    def setUp(self):
        super().setUp()
        self.spa_session = self.started_session()
        self.authenticate("spa_th", "spa_th")

    def sync(self, ops):
        return self.make_jsonrpc_request("/spa/tablet/sync", {"ops": ops})["results"]

    def op(self, kind, **vals):
        return {
            "uuid": str(uuid.uuid4()),
            "kind": kind,
            "session_id": self.spa_session.id,
            **vals,
        }

    def test_bad_operations_refused_alone(self):
        first = self.step(self.spa_session, "Prepare the client and get consent")
        now = fields.Datetime.now()
        ops = [
            self.op("checkin", pain_level=1, device_at="0001-01-01T00:00:00+05:00"),
            self.op("checkin", pain_level=1, device_at="2001-01-01T09:00:00Z"),
            self.op("checkin", pain_level=1, device_at="2099-01-01T09:00:00Z"),
            self.op("checkin", pain_level=1, device_at="yesterday"),
            self.op("record", values=["positioning", "seated"]),
            self.op("record", values={"positioning": {"x": 1}}),
            self.op("record", values={"adjustment_note": {"x": 1}}),
            self.op("checkin", pain_level=2, note={"evil": "payload"}),
            self.op("checkin", pain_level="2"),
            self.op("tick", step_id="../etc"),
            self.op("tick", step_id=2**40),
            self.op("skip", step_id=first.id, reason=["x"]),
            self.op("checkin", pain_level=1, session_id={"id": 1}),
            {**self.op("checkin", pain_level=1), "uuid": ""},
            "not an operation",
            ["neither"],
            {"kind": "tick"},
            self.op("explode"),
            # The valid ones, among the bad.
            self.op("tick", step_id=first.id),
            self.op("checkin", pain_level=3, device_at=iso(now)),
            self.op("record", values={"positioning": "seated"}),
        ]
        results = self.sync(ops)
        self.assertEqual(len(results), len(ops))
        for result, op in zip(results[:-3], ops[:-3], strict=True):
            with self.subTest(op=op):
                self.assertFalse(result["ok"], result)
                self.assertEqual(result["status"], "refused")
                self.assertTrue(result["error"])
                self.assertNotIn("Traceback", result["error"])
        for result in results[-3:]:
            self.assertTrue(result["ok"], result)
            self.assertEqual(result["status"], "done")
        self.assertIn("not between", results[1]["error"])
        self.assertIn("not between", results[2]["error"])
        self.assertIn("not a valid date", results[3]["error"])
        self.assertIn("object", results[4]["error"])
        self.assertIn("Note", results[7]["error"])
        self.assertIn("idempotency key", results[13]["error"])
        # Each result answers its own operation, by key.
        self.assertEqual(
            [r["uuid"] for r in results[-3:]], [op["uuid"] for op in ops[-3:]]
        )
        self.spa_session.invalidate_recordset()
        checkins = self.spa_session.sudo().checkin_ids
        self.assertEqual(checkins.mapped("pain_level"), [3])
        self.assertEqual(checkins.device_at, now)
        self.assertEqual(first.state, "done")
        self.assertEqual(self.spa_session.sudo().positioning, "seated")
        self.assertFalse(self.spa_session.sudo().adjustment_note)

    def test_not_a_list_is_a_clear_error(self):
        response = self.url_open(
            "/spa/tablet/sync",
            data=json.dumps({"params": {"ops": {"kind": "tick"}}}),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        error = response.json()["error"]["data"]
        self.assertEqual(error["name"], "odoo.exceptions.ValidationError")
        self.assertIn("as a list", error["message"])

    def test_other_routes_refuse_malformed_input_as_data(self):
        base = f"/spa/tablet/session/{self.spa_session.id}"
        for route, params in (
            (f"{base}/action", {"action": "stop", "reason": {"x": 1}}),
            (f"{base}/action", {"action": ["stop"]}),
            ("/spa/tablet/consent_info", {"session_id": "1 OR 1=1"}),
            ("/spa/tablet/consent_info", {"event_id": {"id": 1}}),
            (
                "/spa/tablet/consent",
                {"session_id": 2**40, "signature": PNG_B64, "signed_by": "X"},
            ),
            (
                "/spa/tablet/consent",
                {
                    "session_id": self.spa_session.id,
                    "signature": PNG_B64,
                    "signed_by": ["X"],
                },
            ),
        ):
            with self.subTest(route=route, params=params):
                result = self.make_jsonrpc_request(route, params)
                self.assertFalse(result["ok"], result)
                self.assertTrue(result["error"])
        self.assertEqual(self.spa_session.state, "in_progress")

    def test_long_queue_is_answered_in_parts(self):
        ops = [self.op("checkin", pain_level=1) for __ in range(201)]
        results = self.sync(ops)
        self.assertEqual(len(results), 200)
        self.assertTrue(all(r["ok"] for r in results))
        self.assertEqual(self.spa_session.checkin_count, 200)
        self.assertTrue(self.sync(ops)[0]["ok"], "the replay creates nothing")
        self.assertEqual(
            self.sync(ops[200:])[0]["checkin_id"],
            self.env["spa.checkin"].search([("uuid", "=", ops[200]["uuid"])]).id,
        )

    def test_tablet_signature_must_be_an_image(self):
        session = self.session_of(self.book(partner=self.client2))
        text = base64.b64encode(b"x" * 2000).decode()
        for signature in ("data:image/png;base64," + text, {"a": 1}):
            result = self.make_jsonrpc_request(
                "/spa/tablet/consent",
                {
                    "session_id": session.id,
                    "signature": signature,
                    "signed_by": "Carl Client",
                },
            )
            self.assertFalse(result["ok"])
            self.assertTrue(result["error"])
        self.assertFalse(
            self.env["spa.consent"].search([("partner_id", "=", self.client2.id)])
        )


@tagged("post_install", "-at_install", "spa_robustness")
class TestPortalTokenRequired(SpaCommon, HttpCase):
    """The consent link's token is required by every visitor, logged in or
    not (finding 10)."""

    def test_logged_in_staff_cannot_sign_without_the_token(self):
        consent = self.new_consent(method="signature")
        for login in ("spa_th", "spa_fd", "spa_mgr"):
            self.authenticate(login, login)
            response = self.url_open(f"/my/spa/consent/{consent.id}")
            self.assertEqual(response.status_code, 404, login)
            self.assertNotIn("Clara", response.text)
            for token in (None, "", "wrong"):
                result = self.make_jsonrpc_request(
                    f"/my/spa/consent/{consent.id}/accept",
                    {"access_token": token, "name": "Clara", "signature": PNG_B64},
                )
                self.assertIn("error", result, (login, token))
            self.assertEqual(consent.state, "draft", login)
        # With the link the client received, anyone holding it signs (a
        # signature drawn on the pad, with its strokes).
        self.authenticate(None, None)
        signature, strokes = drawn_signature()
        result = self.make_jsonrpc_request(
            f"/my/spa/consent/{consent.id}/accept",
            {
                "access_token": consent._portal_ensure_token(),
                "name": "Clara Client",
                "signature": signature,
                "strokes": strokes,
                "shown": consent._spa_shown_version(),
            },
        )
        self.assertNotIn("error", result, result)
        self.assertEqual(consent.state, "given")
