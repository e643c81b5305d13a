"""Regression tests of the paths a hostile reviewer found open (the write
policy's side of it): stored fields outside the old server list, reshaped
checklists, evidence kept in attachments, lines hidden by their company, the
appointment as a side door. Each is tried as the reviewer did: over JSON-RPC
where they did, else through the ORM as the role."""

import base64
import json
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import SpaCommon, drawn_signature

# A signature as a pad draws it (action_give checks its ink).
PNG = drawn_signature()[0].encode()
# AccessError and ValidationError are UserErrors: any refusal.


@tagged("post_install", "-at_install", "spa_security")
class TestEveryPathRpc(HttpCase, SpaCommon):
    def call_kw(self, login, model, method, args, kwargs=None):
        self.authenticate(login, login)
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {
                    "model": model,
                    "method": method,
                    "args": args,
                    "kwargs": kwargs or {},
                },
            }
        )
        with mute_logger("odoo.http"):
            response = self.url_open(
                "/web/dataset/call_kw",
                data=body,
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.status_code, 200)
        return response.json()

    def assert_refused(self, answer, label):
        self.assertNotIn("result", answer, f"{label}: accepted")
        self.assertIn(
            answer["error"]["data"]["name"],
            ("odoo.exceptions.AccessError", "odoo.exceptions.UserError"),
            label,
        )

    def test_therapist_cannot_forge_the_stop_rule_snapshot(self):
        """Finding 1: pain_stop_threshold = 11 and min_checkin_count = 0 on
        their own running session, then a pain-9 session completed."""
        session = self.started_session()
        for fname, value in (
            ("pain_stop_threshold", 11),
            ("min_checkin_count", 0),
            ("checkin_missing_count", 0),
            ("checkin_required_count", 0),
            ("date_planned", fields.Datetime.to_string(fields.Datetime.now())),
        ):
            answer = self.call_kw(
                "spa_th", "spa.session", "write", [[session.id], {fname: value}]
            )
            self.assert_refused(answer, fname)
        session.invalidate_recordset()
        self.assertEqual(session.pain_stop_threshold, self.protocol.pain_stop_threshold)
        self.assertEqual(session.min_checkin_count, self.protocol.min_checkin_count)

    def test_front_desk_cannot_forge_a_planned_session(self):
        session = self.session_of(self.book())
        for fname, value in (("pain_stop_threshold", 11), ("min_checkin_count", 0)):
            answer = self.call_kw(
                "spa_fd", "spa.session", "write", [[session.id], {fname: value}]
            )
            self.assert_refused(answer, fname)

    def test_appointment_cannot_get_a_second_session(self):
        """Finding 5: calendar.event.write spa_session_ids Command.create."""
        event = self.book()
        answer = self.call_kw(
            "spa_fd",
            "calendar.event",
            "write",
            [
                [event.id],
                {
                    "spa_session_ids": [
                        Command.create(
                            {
                                "partner_id": self.client.id,
                                "protocol_id": self.protocol.id,
                                "therapist_id": self.therapist.id,
                            }
                        )
                    ]
                },
            ],
        )
        self.assert_refused(answer, "spa_session_ids")
        self.assertEqual(len(self.session_of(event)), 1)


@tagged("post_install", "-at_install", "spa_security")
class TestEveryPath(SpaCommon):
    def test_session_created_with_its_own_checklist_is_refused(self):
        """Finding 2: the front desk created a session with one line "Say
        hello", which then completed done."""
        Session = self.env["spa.session"].with_user(self.front_desk)
        with self.assertRaises(UserError):
            Session.create(
                {
                    "partner_id": self.client.id,
                    "protocol_id": self.protocol.id,
                    "therapist_id": self.therapist.id,
                    "step_ids": [Command.create({"name": "Say hello"})],
                }
            )
        session = Session.create(
            {
                "partner_id": self.client.id,
                "protocol_id": self.protocol.id,
                "therapist_id": self.therapist.id,
            }
        )
        self.assertEqual(
            session.step_ids.mapped("name"), self.protocol.step_ids.mapped("name")
        )

    def test_planned_checklist_cannot_lose_mandatory_lines_or_a_qualification(self):
        """Finding 2: unlinking the mandatory lines of a planned session and
        adding a copy of the qualified step without its qualification."""
        session = self.session_of(self.book()).with_user(self.front_desk)
        mandatory = session.step_ids.filtered("is_mandatory")
        qualified = session.step_ids.filtered("qualification_id")
        with self.assertRaises(UserError):
            mandatory.unlink()
        with self.assertRaises(UserError):
            session.write({"step_ids": [Command.unlink(mandatory[0].id)]})
        with self.assertRaises(UserError):
            session.write(
                {
                    "step_ids": [
                        Command.create(
                            {"name": qualified.name, "sequence": qualified.sequence}
                        )
                    ]
                }
            )
        with self.assertRaises(UserError):
            qualified.write({"qualification_id": False})
        self.assertEqual(len(session.step_ids), len(self.protocol.step_ids))
        self.assertTrue(session.step_ids.filtered("qualification_id"))

    def test_given_signature_cannot_be_replaced_or_deleted(self):
        """Finding 3: ir.attachment.write by the front desk, unlink by a
        therapist."""
        consent = self.new_consent(method="signature", signature=PNG)
        consent.action_give()
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "spa.consent"),
                    ("res_id", "=", consent.id),
                    ("res_field", "=", "signature"),
                ]
            )
        )
        self.assertEqual(len(attachment), 1)
        forged = base64.b64encode(b"\x89PNG\r\n\x1a\n forged")
        with self.assertRaises(UserError):
            attachment.with_user(self.front_desk).write({"datas": forged})
        with self.assertRaises(UserError):
            attachment.with_user(self.front_desk).sudo().write({"datas": forged})
        with self.assertRaises(UserError):
            attachment.with_user(self.therapist).sudo().unlink()
        with self.assertRaises(UserError):
            consent.with_user(self.front_desk).write({"signature": forged})
        self.assertEqual(consent.sudo().signature, PNG)

    def test_finished_session_lines_keep_their_company(self):
        """Finding 4: company_id = False on a check-in of a stopped session
        hid the pain-9 row from the manager and the printed record."""
        session = self.started_session()
        session.write({"positioning": "prone_table"})
        self.tick(session, *self.MANDATORY[:5])
        checkin = self.checkin(session, "Stabilise and apply pressure", pain=9)
        session.action_stop()
        for user in (self.therapist, self.manager):
            with self.assertRaises(UserError):
                checkin.with_user(user).sudo().write({"company_id": False})
            with self.assertRaises(UserError):
                session.step_ids[:1].with_user(user).sudo().write({"company_id": False})
        self.assertIn(checkin, session.with_user(self.manager).checkin_ids)

    def test_one_live_session_per_appointment_on_every_path(self):
        """Finding 5: a second live session through spa.session.create."""
        event = self.book()
        with self.assertRaises(UserError):
            self.env["spa.session"].with_user(self.front_desk).create(
                {
                    "partner_id": self.client2.id,
                    "protocol_id": self.protocol.id,
                    "therapist_id": self.therapist.id,
                    "event_id": event.id,
                }
            )
        self.assertEqual(len(self.session_of(event)), 1)

    def test_colleague_cannot_cancel_through_the_appointment(self):
        event = self.book(therapist=self.therapist)
        session = self.session_of(event)
        with self.assertRaises(UserError):
            session.with_user(self.therapist2).sudo().action_cancel()
        event_as_colleague = event.with_user(self.therapist2).sudo()
        with self.assertRaises(UserError):
            event_as_colleague.action_archive()
        self.assertEqual(session.state, "draft")

    def test_started_session_keeps_its_planned_times(self):
        event = self.book()
        session = self.session_of(event)
        planned = session.date_planned
        self.give_consent()
        session.with_user(self.therapist).action_start()
        event.with_user(self.front_desk).write(
            {
                "start": event.start + timedelta(days=2),
                "stop": event.stop + timedelta(days=2),
            }
        )
        session.invalidate_recordset()
        self.assertEqual(session.date_planned, planned)

    def test_therapist_notes_lines_through_the_session_form(self):
        """The declared path stays open: the session's form edits a line's
        skip reason and logs a check-in, judged by the lines' own policy."""
        session = self.started_session()
        line = self.step(session, "Advanced techniques")
        session.write(
            {
                "step_ids": [Command.update(line.id, {"skip_reason": "Not today"})],
                "checkin_ids": [Command.create({"pain_level": 2})],
            }
        )
        self.assertEqual(line.skip_reason, "Not today")
        self.assertEqual(session.checkin_count, 1)
        # ...but a line's copy of the protocol stays as it was.
        with self.assertRaises(UserError):
            session.write(
                {"step_ids": [Command.update(line.id, {"qualification_id": False})]}
            )
        with self.assertRaises(UserError):
            session.with_user(self.therapist2).sudo().write(
                {"step_ids": [Command.update(line.id, {"skip_reason": "forged"})]}
            )
        self.assertEqual(line.skip_reason, "Not today")

    # -- found by the hostile review of the write policy itself --------------

    def test_signature_file_cannot_be_added_with_a_string_id(self):
        consent = self.new_consent(method="signature", signature=PNG)
        consent.action_give()
        Attachment = self.env["ir.attachment"]
        for user in (self.front_desk, self.therapist, self.manager):
            for res_id in (str(consent.id), consent.id, f" {consent.id}"):
                with self.assertRaises(UserError):
                    Attachment.with_user(user).create(
                        {
                            "name": "signature",
                            "res_model": "spa.consent",
                            "res_id": res_id,
                            "res_field": "signature",
                            "datas": PNG,
                        }
                    )
            plain = Attachment.with_user(user).create(
                {
                    "name": "y.png",
                    "datas": PNG,
                    "res_model": "spa.consent",
                    "res_id": consent.id,
                }
            )
            with self.assertRaises(UserError):
                plain.write({"res_field": "signature", "res_id": str(consent.id)})
        count = Attachment.sudo().search_count(
            [
                ("res_model", "=", "spa.consent"),
                ("res_id", "=", consent.id),
                ("res_field", "=", "signature"),
            ]
        )
        self.assertEqual(count, 1)

    def test_signature_file_cannot_be_planted_for_a_record_to_come(self):
        """A file attached as the signature of a consent that does not exist
        yet (the id the next one will get) would become that consent's
        signature: nobody signed it, and it never went through the field's
        image check. Refused when created there or moved there."""
        Attachment = self.env["ir.attachment"]
        svg = base64.b64encode(b"<svg onload=alert(1)>not a signature</svg>")
        for user in (self.front_desk, self.therapist, self.manager):
            with self.subTest(user=user.login):
                probe = self.new_consent(user=user, method="verbal")
                target = {
                    "res_model": "spa.consent",
                    "res_id": probe.id + 1,
                    "res_field": "signature",
                }
                with self.assertRaises(UserError):
                    Attachment.with_user(user).create(
                        {"name": "signature", "datas": svg, **target}
                    )
                plain = Attachment.with_user(user).create(
                    {"name": "y.svg", "datas": svg}
                )
                with self.assertRaises(UserError):
                    plain.write(target)
                consent = self.new_consent(user=user, method="signature")
                self.assertEqual(consent.id, probe.id + 1)
                self.env.invalidate_all()
                self.assertFalse(consent.sudo().signature)
                with self.assertRaises(UserError):
                    consent.action_give()
                self.assertEqual(consent.state, "draft")

    def test_draft_signature_file_is_one_file(self):
        """Even where the signature may be written (a draft consent), a second
        file beside it is refused: the field itself replaces it."""
        consent = self.new_consent(method="signature", signature=PNG)
        with self.assertRaises(UserError):
            self.env["ir.attachment"].with_user(self.front_desk).create(
                {
                    "name": "second",
                    "res_model": "spa.consent",
                    "res_id": consent.id,
                    "res_field": "signature",
                    "datas": PNG,
                }
            )
        consent.write({"signature": PNG})
        self.assertEqual(consent.signature, PNG)

    def test_session_never_moves_company_or_appointment(self):
        other_company = self.env["res.company"].create({"name": "Elsewhere Spa"})
        session = self.session_of(self.book())
        for user in (self.front_desk, self.manager):
            for vals in (
                {"company_id": other_company.id},
                {"event_id": False},
                {"date_planned": fields.Datetime.now() + timedelta(days=900)},
                {"therapist_id": self.therapist2.id},
            ):
                with self.assertRaises(UserError):
                    session.with_user(user).write(vals)
        self.assertEqual(session.company_id, self.env.company)
        self.assertTrue(session.event_id)

    def test_undocumented_session_keeps_its_past_times(self):
        start = fields.Datetime.now() - timedelta(days=2)
        Session = self.env["spa.session"].with_user(self.front_desk)
        session = Session.create(
            {
                "partner_id": self.client.id,
                "protocol_id": self.protocol.id,
                "therapist_id": self.therapist.id,
                "date_planned": start,
                "date_planned_end": start + timedelta(hours=1),
            }
        )
        with self.assertRaises(UserError):
            session.write(
                {
                    "date_planned": start + timedelta(days=900),
                    "date_planned_end": start + timedelta(days=900, hours=1),
                }
            )
        self.assertEqual(session.date_planned, start)

    def test_appointment_moved_after_its_end_keeps_the_session_times(self):
        start = fields.Datetime.now().replace(microsecond=0) - timedelta(days=1)
        event = self.book(start=start)
        session = self.session_of(event)
        event.write(
            {"start": start + timedelta(days=400), "stop": start + timedelta(days=400)}
        )
        self.assertEqual(session.date_planned, start)

    def test_stop_rule_decides_the_reason(self):
        session = self.started_session()
        session.write({"positioning": "prone_table", "stop_reason": "client_late"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=9)
        with self.assertRaises(UserError):
            session.action_stop(reason="client_late")
        session.action_stop()
        self.assertEqual(session.stop_reason, "pain")
        self.assertTrue(session.referral_recommended)

    def test_only_therapists_run_sessions(self):
        for user in (self.front_desk, self.env.ref("base.public_user")):
            with self.assertRaises(UserError):
                self.book(therapist=user)

    def test_used_configuration_is_archived_not_deleted(self):
        """A protocol or qualification in use is refused with the addon's own
        message (not the database's foreign-key error)."""
        self.session_of(self.book())
        with self.assertRaisesRegex(UserError, "archive them instead"):
            self.protocol.with_user(self.manager).unlink()
        with self.assertRaisesRegex(UserError, "archive them instead"):
            self.qualification.with_user(self.manager).unlink()
        self.assertTrue(self.protocol.exists())

    # -- found by the second hostile review ---------------------------------

    def test_context_defaults_are_values_too(self):
        """N15: default_<field> keys of the caller's context reach the
        created record: they are judged as given values."""
        Consent = self.env["spa.consent"].with_user(self.front_desk)
        backdated = {
            "default_state": "given",
            "default_given_at": "2026-01-05 10:00:00",
            "default_recorded_by_id": self.therapist2.id,
        }
        for key, value in backdated.items():
            with self.assertRaises(UserError):
                Consent.with_context(**{key: value}).create(
                    {
                        "partner_id": self.client.id,
                        "protocol_ids": [Command.set(self.protocol.ids)],
                        "method": "verbal",
                    }
                )
        with self.assertRaises(UserError):
            self.env["calendar.event"].with_user(self.front_desk).with_context(
                default_state="done"
            ).create(
                {
                    "name": "Forged",
                    "start": fields.Datetime.now() + timedelta(hours=3),
                    "stop": fields.Datetime.now() + timedelta(hours=4),
                    "spa_protocol_id": self.protocol.id,
                    "spa_client_id": self.client2.id,
                    "spa_therapist_id": self.therapist.id,
                }
            )
        with self.assertRaises(UserError):
            self.env["res.partner"].with_user(self.front_desk).with_context(
                default_spa_legal_hold=True
            ).create({"name": "Held by the front desk"})
        # The server's own creations take nothing from the caller's context:
        # a booking with default_state in the context still gives "todo" lines.
        session = self.session_of(self.book())
        session.with_context(default_state="done", default_done_by_id=1).write(
            {"protocol_id": self.protocol.id}
        )
        self.assertEqual(set(session.step_ids.mapped("state")), {"todo"})

    def test_signature_file_is_never_an_attachment_write(self):
        """N4, N16: the file behind a signature is written through the field
        only (its image check applies), never as an attachment, context
        defaults included."""
        draft = self.new_consent(method="signature")
        given = self.give_consent(partner=self.client2)
        svg = base64.b64encode(b"<svg onload=alert(1)>" + b"A" * 2048)
        Attachment = self.env["ir.attachment"].with_user(self.front_desk)
        for consent in (draft, given):
            with self.assertRaises(UserError):
                Attachment.create(
                    {
                        "name": "signature",
                        "res_model": "spa.consent",
                        "res_id": consent.id,
                        "res_field": "signature",
                        "datas": svg,
                    }
                )
            with self.assertRaises(UserError):
                Attachment.with_context(default_res_field="signature").create(
                    {
                        "name": "signature",
                        "res_model": "spa.consent",
                        "res_id": consent.id,
                        "datas": PNG,
                    }
                )
        with self.assertRaises(UserError):
            draft.write({"signature": svg})
        jpeg_then_html = base64.b64encode(b"\xff\xd8\xff<html><script></script>")
        with self.assertRaises(UserError):
            draft.write({"signature": jpeg_then_html})
        self.assertFalse(draft.signature)

    def test_front_desk_gets_nothing_from_the_runner(self):
        """N7: the runner's session payload holds clinical detail."""
        session = self.started_session()
        with self.assertRaises(UserError):
            self.env["spa.session"].with_user(self.front_desk)._tablet_session(
                session.id
            )
        with self.assertRaises(UserError):
            session.with_user(self.front_desk).sudo()._tablet_payload()

    def test_clients_with_records_are_not_merged(self):
        """N8: the contact merge wizard rewrites references in SQL."""
        self.give_consent()
        duplicate = self.env["res.partner"].create(
            {"name": "Clara Client (duplicate)", "email": "clara@example.com"}
        )
        self.client.email = "clara@example.com"
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        with self.assertRaisesRegex(UserError, "not merged"):
            wizard._merge((self.client | duplicate).ids, duplicate)
        self.assertTrue(self.client.exists())

    def test_staff_do_not_sign_the_clients_link(self):
        """N2: a staff member holding the token does not sign in the client's
        name."""
        consent = self.new_consent(method="signature")
        consent._portal_ensure_token()
        with self.assertRaises(UserError):
            consent.with_user(self.front_desk).sudo()._action_sign_from_portal(
                "Clara Client", PNG, consent._spa_shown_version()
            )
        self.assertEqual(consent.state, "draft")

    def test_past_undocumented_session_is_cancelled_by_a_manager_only(self):
        """N1: cancelling it took it out of the non-compliant figures."""
        start = fields.Datetime.now() - timedelta(days=1)
        session = self.session_of(self.book(start=start))
        for user in (self.front_desk, self.therapist):
            with self.assertRaises(UserError):
                session.with_user(user).action_cancel()
            with self.assertRaises(UserError):
                session.event_id.with_user(user).action_archive()
        self.assertEqual(session.state, "draft")
        session.with_user(self.manager).action_cancel()
        self.assertEqual(session.state, "cancelled")

    def test_appointment_moves_only_by_who_may_and_not_into_the_past(self):
        """N5: a colleague moved a therapist's appointment into the past."""
        event = self.book(therapist=self.therapist)
        past = fields.Datetime.now() - timedelta(days=2)
        with self.assertRaises(UserError):
            event.with_user(self.therapist2).sudo().write(
                {"start": event.start + timedelta(hours=1)}
            )
        with self.assertRaises(UserError):
            event.with_user(self.front_desk).write(
                {"start": past, "stop": past + timedelta(hours=1)}
            )
        later = event.start + timedelta(days=1)
        event.with_user(self.front_desk).write(
            {"start": later, "stop": later + timedelta(hours=1)}
        )
        self.assertEqual(self.session_of(event).date_planned, later)

    def test_refusals_of_malformed_reasons_and_keys(self):
        """N6, N11, N12, N13, N17."""
        session = self.started_session()
        session.write({"positioning": "seated", "adjustment_note": "   "})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=2)
        self.tick(session, "Pressing motions")
        self.checkin(session, "Pressing motions", pain=2)
        self.tick(session, "Feedback check-ins")
        with self.assertRaises(UserError):
            self.tick(session, "Adjust the technique")  # blank note: no adjustment
        with self.assertRaises(UserError):
            self.step(session, "Advanced techniques").action_skip({"x": 1})
        with self.assertRaises(UserError):
            session.action_stop(reason={"x": 1})
        Checkin = self.env["spa.checkin"].with_user(self.therapist)
        with self.assertRaises(UserError):
            Checkin.create(
                [
                    {"session_id": session.id, "pain_level": 1, "uuid": "k-1"},
                    {"session_id": session.id, "pain_level": 9, "uuid": "k-1"},
                ]
            )
        with self.assertRaises(UserError):
            session.action_stop(reason="pain")  # no pain check-in was logged
        self.assertEqual(session.state, "in_progress")
        consent = self.new_consent().with_context(ir_sequence_date="2019-01-01")
        other = consent.create(
            {
                "partner_id": self.client2.id,
                "protocol_ids": [Command.set(self.protocol.ids)],
            }
        )
        self.assertNotIn("2019", other.name)

    def test_client_signs_what_the_page_showed(self):
        """N14: the draft changed between the page and the signature."""
        consent = self.new_consent(method="signature")
        shown = consent._spa_shown_version()
        other = self.protocol.copy({"name": "Deep work", "code": "DEEP"})
        consent.with_user(self.front_desk).write(
            {"protocol_ids": [Command.link(other.id)]}
        )
        public = self.env.ref("base.public_user")
        # a signature drawn on the pad, with its strokes (a drawn one only)
        signature, strokes = drawn_signature()
        with self.assertRaisesRegex(UserError, "read it again"):
            consent.with_user(public).sudo()._action_sign_from_portal(
                "Clara Client", signature, shown, strokes=strokes
            )
        self.assertEqual(consent.state, "draft")
        consent.with_user(public).sudo()._action_sign_from_portal(
            "Clara Client", signature, consent._spa_shown_version(), strokes=strokes
        )
        self.assertEqual(consent.state, "given")

    def test_referral_follow_up_is_the_assignees(self):
        """N9: the front desk deleted, the therapist closed the manager's
        follow-up of a stopped session."""
        session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=9)
        session.action_stop()
        followup = session.sudo().activity_ids
        self.assertTrue(followup)
        self.assertNotIn(followup.user_id, self.front_desk | self.therapist)
        with self.assertRaises(UserError):
            followup.with_user(self.front_desk).sudo().unlink()
        with self.assertRaises(UserError):
            followup.with_user(self.therapist).sudo().action_feedback("done")
        with self.assertRaises(UserError):
            followup.with_user(self.therapist).sudo().write(
                {"user_id": self.therapist.id}
            )
        self.assertTrue(followup.exists())
        followup.with_user(self.manager).action_feedback("called the client")
        self.assertFalse(session.sudo().activity_ids)

    # -- found by the third hostile review ----------------------------------

    def test_moving_start_alone_into_the_past_is_refused(self):
        """R2: writing start alone recomputes stop."""
        event = self.book()
        past = fields.Datetime.now() - timedelta(days=3)
        with self.assertRaises(UserError):
            event.with_user(self.front_desk).write({"start": past})
        self.assertGreater(self.session_of(event).date_planned, past)

    def test_undocumented_past_session_is_neither_reassigned_nor_deleted(self):
        """R4, R7."""
        start = fields.Datetime.now() - timedelta(days=1)
        event = self.book(start=start, user=self.manager)
        session = self.session_of(event)
        for user in (self.front_desk, self.manager):
            with self.assertRaises(UserError):
                event.with_user(user).write({"spa_therapist_id": self.therapist2.id})
        with self.assertRaises(UserError):
            session.with_user(self.manager).unlink()
        self.assertEqual(session.therapist_id, self.therapist)

    def test_nobody_sets_the_link_token(self):
        """R1: a token of one's own choosing to sign the client's link with."""
        consent = self.new_consent(method="signature")
        for user in (self.front_desk, self.therapist, self.manager):
            with self.assertRaises(UserError):
                consent.with_user(user).write({"access_token": "known-token"})
        token = consent.with_user(self.front_desk)._portal_ensure_token()
        self.assertTrue(token)
        self.assertNotEqual(token, "known-token")

    def test_history_of_finished_records_is_kept(self):
        """R3: the chatter of a finished session and a given consent."""
        session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=9)
        session.message_post(body="Client felt a sharp pain")
        session.action_stop()
        messages = session.sudo().message_ids
        self.assertTrue(messages)
        for user in (self.front_desk, self.therapist, self.manager):
            with self.assertRaises(UserError):
                messages[:1].with_user(user).sudo().write({"body": "<p>all fine</p>"})
            with self.assertRaises(UserError):
                messages[:1].with_user(user).sudo().unlink()
        self.assertEqual(session.sudo().message_ids, messages)

    def test_replayed_key_with_other_values_is_refused(self):
        """N12 (rest): a known key replayed with another pain level."""
        session = self.started_session()
        self.checkin(session, pain=2, uuid="k-replay")
        with self.assertRaisesRegex(UserError, "already used"):
            self.checkin(session, pain=9, uuid="k-replay")
        replay = self.checkin(session, pain=2, uuid="k-replay")
        self.assertEqual(replay.pain_level, 2)
        self.assertEqual(session.checkin_count, 1)
