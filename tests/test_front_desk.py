"""The front desk's screens (issue 18): the day's calendar of every therapist,
booking without typing a title, the consent badge first, recording a consent
from the appointment after reading its text, the signing link's state, and
where each spa role lands after logging in."""

import ast
from datetime import timedelta

from lxml import etree
from lxml import html as lxml_html
from psycopg2 import IntegrityError

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import SpaCommon


def arch_of(record, view_ref=None, view_type="form"):
    """The view as the user's client receives it (groups applied), parsed."""
    view_id = record.env.ref(view_ref).id if view_ref else False
    views = record.get_views([(view_id, view_type)])
    return etree.fromstring(views["views"][view_type]["arch"])


@tagged("post_install", "-at_install", "spa_front_desk")
class TestFrontDeskCalendar(SpaCommon):
    def test_spa_calendar_shows_every_therapists_day(self):
        """The front desk's Appointments open on every therapist's
        appointments, filterable by therapist and by room, with the client
        first in each label; Odoo's own calendar action is unchanged."""
        start = fields.Datetime.now() + timedelta(days=1)
        mine = self.book(start=start)
        theirs = self.book(
            partner=self.client2,
            therapist=self.therapist2,
            start=start,
            user=self.manager,
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "spa_session_protocol.calendar_event_action_spa"
        )
        context = ast.literal_eval(action["context"])
        self.assertTrue(context["search_default_spa_appointments"])
        calendar_view = self.env.ref(
            "spa_session_protocol.calendar_event_view_calendar_spa"
        )
        self.assertEqual(list(action["views"][0]), [calendar_view.id, "calendar"])
        Event = self.env["calendar.event"].with_user(self.front_desk)
        calendar = arch_of(
            Event, "spa_session_protocol.calendar_event_view_calendar_spa", "calendar"
        )
        # Not the attendee calendar, whose filter hides the others' events.
        self.assertEqual(calendar.get("js_class"), "spa_calendar")
        self.assertEqual(calendar.get("color"), "spa_therapist_id")
        filters = {f.get("name") for f in calendar.xpath("//field[@filters='1']")}
        self.assertEqual(filters, {"spa_therapist_id", "spa_room_id"})
        # What the view loads: the spa appointments of both therapists.
        found = Event.with_context(**context).search(
            [
                ("spa_protocol_id", "!=", False),
                ("start", ">=", start - timedelta(hours=1)),
            ]
        )
        self.assertIn(mine, found)
        self.assertIn(theirs, found)
        self.assertIn(
            "spa_calendar_label", {f.get("name") for f in calendar.xpath("//field")}
        )
        label = theirs.with_user(self.front_desk).spa_calendar_label
        self.assertTrue(label.startswith("Carl Client · Upper"), label)
        self.assertIn("No consent", label)
        self.give_consent(partner=self.client2)
        theirs.invalidate_recordset()
        self.assertNotIn(
            "consent", theirs.with_user(self.front_desk).spa_calendar_label
        )
        # The title itself stays Odoo's own.
        self.assertEqual(theirs.with_user(self.front_desk).display_name, theirs.name)
        # Odoo's calendar keeps its attendee calendar for everybody else.
        stock = self.env.ref("calendar.action_calendar_event")
        self.assertNotIn("spa", stock.context or "")
        stock_calendar = arch_of(
            self.env["calendar.event"].with_user(self.plain_user), view_type="calendar"
        )
        self.assertEqual(stock_calendar.get("js_class"), "attendee_calendar")

    def test_popover_fields_for_the_front_desk_only(self):
        calendar = arch_of(
            self.env["calendar.event"].with_user(self.front_desk),
            "spa_session_protocol.calendar_event_view_calendar_spa",
            "calendar",
        )
        names = {f.get("name") for f in calendar.xpath("//field")}
        self.assertLessEqual(
            {"spa_client_id", "spa_therapist_id", "spa_consent_status"}, names
        )


@tagged("post_install", "-at_install", "spa_front_desk")
class TestFrontDeskBooking(SpaCommon):
    def test_form_fills_the_title_and_the_attendees(self):
        """No "Invalid fields: Meeting Subject": the title comes from the
        protocol and the client; they and the therapist attend."""
        form = Form(self.env["calendar.event"].with_user(self.front_desk))
        self.assertFalse(form.name)
        form.start = fields.Datetime.now() + timedelta(days=2)
        form.spa_protocol_id = self.protocol
        form.spa_client_id = self.client
        form.spa_therapist_id = self.therapist
        self.assertEqual(form.name, f"{self.protocol.name} – Clara Client")
        # Another client: the title follows (it was not typed), and the
        # client replaced before the first save no longer attends.
        form.spa_client_id = self.client2
        self.assertEqual(form.name, f"{self.protocol.name} – Carl Client")
        self.assertIn(self.client2, form.partner_ids)
        self.assertNotIn(self.client, form.partner_ids)
        event = form.save()
        self.assertEqual(event.name, f"{self.protocol.name} – Carl Client")
        self.assertLessEqual(
            self.client2 | self.therapist.partner_id, event.partner_ids
        )
        self.assertIn(self.client2, event.attendee_ids.partner_id)
        self.assertNotIn(self.client, event.partner_ids)
        self.assertEqual(len(event.spa_session_ids), 1)

    def test_unsaved_booking_replaced_before_save_keeps_no_stale_attendee(self):
        """A client or therapist picked, then replaced, on a new appointment
        (the quick create form as well as the full one): only the last ones
        attend; the organiser and an attendee added by hand stay."""
        guest = self.env["res.partner"].create({"name": "Gina Guest"})
        for view in (
            None,
            "spa_session_protocol.calendar_event_view_form_quick_create",
        ):
            with self.subTest(view=view):
                form = Form(
                    self.env["calendar.event"].with_user(self.front_desk),
                    view=view,
                )
                start = fields.Datetime.now() + timedelta(days=2)
                form.start = start
                form.stop = start + timedelta(hours=1)
                form.partner_ids.add(guest)
                form.spa_protocol_id = self.protocol
                form.spa_client_id = self.client
                form.spa_therapist_id = self.therapist
                form.spa_therapist_id = self.therapist2
                form.spa_client_id = self.client2
                # Back and forth: the first client again, then the second.
                form.spa_client_id = self.client
                form.spa_client_id = self.client2
                event = form.save()
                attending = event.attendee_ids.partner_id
                self.assertIn(self.client2, attending)
                self.assertIn(self.therapist2.partner_id, attending)
                self.assertIn(guest, attending)
                self.assertIn(self.front_desk.partner_id, attending)
                self.assertNotIn(self.client, event.partner_ids)
                self.assertNotIn(self.therapist.partner_id, event.partner_ids)
                self.assertEqual(event.spa_session_ids.partner_id, self.client2)

    def test_attendees_follow_the_appointment(self):
        """The client and the therapist follow the appointment they attend,
        as every attendee does in calendar: the client (an external partner)
        with the model's external subtypes, the therapist with its defaults;
        each partner once."""
        event = self.book(partner=self.client2, user=self.front_desk)
        followers = (
            self.env["mail.followers"]
            .sudo()
            .search([("res_model", "=", "calendar.event"), ("res_id", "=", event.id)])
        )
        by_partner = {f.partner_id: f for f in followers}
        self.assertEqual(len(by_partner), len(followers))
        self.assertLessEqual({self.client2, self.therapist.partner_id}, set(by_partner))
        default, __, external = self.env["mail.message.subtype"].default_subtypes(
            "calendar.event"
        )
        self.assertTrue(self.client2.partner_share)
        self.assertEqual(by_partner[self.client2].subtype_ids, external)
        self.assertEqual(by_partner[self.therapist.partner_id].subtype_ids, default)
        # Reassigned: the new therapist attends and follows too.
        event.with_user(self.front_desk).write({"spa_therapist_id": self.therapist2.id})
        self.assertIn(self.therapist2.partner_id, event.sudo().message_partner_ids)
        # An archived client is an attendee but no follower (as
        # message_subscribe filters inactive partners).
        self.client.active = False
        archived = self.book(partner=self.client, user=self.front_desk)
        self.assertIn(self.client, archived.attendee_ids.partner_id)
        self.assertNotIn(self.client, archived.sudo().message_partner_ids)

    def test_reassigned_appointment_drops_the_replaced_attendees(self):
        """Another client or therapist: the one replaced no longer attends
        (nor follows), through a write as on the form; the organiser and an
        attendee added by hand stay."""
        guest = self.env["res.partner"].create({"name": "Gina Guest"})
        event = self.book(partner=self.client, user=self.front_desk)
        event.with_user(self.front_desk).partner_ids |= guest
        event.with_user(self.front_desk).write(
            {"spa_client_id": self.client2.id, "spa_therapist_id": self.therapist2.id}
        )
        attending = event.attendee_ids.partner_id
        self.assertIn(self.client2, attending)
        self.assertIn(self.therapist2.partner_id, attending)
        self.assertNotIn(self.client, attending)
        self.assertNotIn(self.client, event.partner_ids)
        self.assertNotIn(self.therapist.partner_id, attending)
        self.assertNotIn(self.client, event.sudo().message_partner_ids)
        self.assertIn(guest, attending)
        self.assertIn(event.user_id.partner_id, attending)
        # On the form: the client replaced leaves the attendees at once,
        # and so does one the form added and replaced before saving; one
        # attending by hand before being picked stays.
        form = Form(event.with_user(self.front_desk))
        form.spa_client_id = self.client
        self.assertIn(self.client, form.partner_ids)
        self.assertNotIn(self.client2, form.partner_ids)
        form.spa_client_id = self.client2
        form.spa_client_id = guest
        form.spa_client_id = self.client
        self.assertNotIn(self.client2, form.partner_ids)
        self.assertIn(guest, form.partner_ids)
        form.save()
        self.assertIn(guest, event.attendee_ids.partner_id)
        self.assertNotIn(self.client2, event.attendee_ids.partner_id)
        self.assertIn(self.client, event.attendee_ids.partner_id)

    def test_attendees_given_as_such_do_not_skip_the_booking(self):
        """Values that give the attendees as such (``attendee_ids``, as a
        calendar synchronisation does) keep them, and the booking's rule
        still holds: the client and the therapist booked attend, the ones
        replaced or cleared no longer do (nor follow), through ``create``,
        ``write`` and the form's RPC; clearing the client then giving
        another in two writes drops the first."""
        Event = self.env["calendar.event"].with_user(self.front_desk)
        event = self.book(partner=self.client, user=self.front_desk)
        event.with_user(self.front_desk).write(
            {
                "spa_client_id": self.client2.id,
                "spa_therapist_id": self.therapist2.id,
                "attendee_ids": [],
            }
        )
        attending = event.attendee_ids.partner_id
        self.assertIn(self.client2, attending)
        self.assertIn(self.therapist2.partner_id, attending)
        self.assertNotIn(self.client, attending)
        self.assertNotIn(self.therapist.partner_id, attending)
        self.assertNotIn(self.client, event.sudo().message_partner_ids)
        Event.browse(event.id).web_save(
            {"spa_client_id": self.client.id, "attendee_ids": []},
            {"partner_ids": {}},
        )
        self.assertIn(self.client, event.attendee_ids.partner_id)
        self.assertNotIn(self.client2, event.attendee_ids.partner_id)
        # In two writes: cleared, then another client.
        event.with_user(self.front_desk).write({"spa_client_id": False})
        self.assertNotIn(self.client, event.partner_ids)
        event.with_user(self.front_desk).write({"spa_client_id": self.client2.id})
        self.assertNotIn(self.client, event.partner_ids)
        self.assertNotIn(self.client, event.sudo().message_partner_ids)
        self.assertIn(self.client2, event.attendee_ids.partner_id)
        self.assertEqual(self.session_of(event).partner_id, self.client2)
        # Created with attendees of its own: they stay, and the booked join.
        guest = self.env["res.partner"].create({"name": "Gina Guest"})
        start = fields.Datetime.now() + timedelta(days=4)
        created = Event.create(
            {
                "name": "Synchronised",
                "start": start,
                "stop": start + timedelta(hours=1),
                "spa_protocol_id": self.protocol.id,
                "spa_client_id": self.client.id,
                "spa_therapist_id": self.therapist.id,
                "partner_ids": [Command.set([guest.id])],
                "attendee_ids": [Command.create({"partner_id": guest.id})],
            }
        )
        attending = created.attendee_ids.partner_id
        self.assertIn(guest, attending)
        self.assertIn(self.client, attending)
        self.assertIn(self.therapist.partner_id, attending)

    def test_typed_title_stays(self):
        form = Form(self.env["calendar.event"].with_user(self.front_desk))
        form.name = "Follow-up with Clara"
        form.start = fields.Datetime.now() + timedelta(days=2)
        form.spa_protocol_id = self.protocol
        form.spa_client_id = self.client
        form.spa_therapist_id = self.therapist
        self.assertEqual(form.name, "Follow-up with Clara")

    def test_rpc_booking_without_title(self):
        start = fields.Datetime.now() + timedelta(days=3)
        events = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .create(
                [
                    {
                        "start": start,
                        "stop": start + timedelta(hours=1),
                        "spa_protocol_id": self.protocol.id,
                        "spa_client_id": client.id,
                        "spa_therapist_id": self.therapist.id,
                    }
                    for client in (self.client, self.client2)
                ]
            )
        )
        self.assertEqual(
            events.mapped("name"),
            [
                f"{self.protocol.name} – Clara Client",
                f"{self.protocol.name} – Carl Client",
            ],
        )
        for event, client in zip(events, (self.client, self.client2), strict=True):
            self.assertEqual(
                event.partner_ids,
                self.front_desk.partner_id | client | self.therapist.partner_id,
            )
        # A plain event without a title is still refused, as Odoo does.
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"):
            with self.cr.savepoint():
                self.env["calendar.event"].with_user(self.front_desk).create(
                    {"start": start, "stop": start + timedelta(hours=1)}
                )

    def test_reassigning_adds_the_new_attendees(self):
        event = self.book()
        event.with_user(self.front_desk).write(
            {"spa_client_id": self.client2.id, "spa_therapist_id": self.therapist2.id}
        )
        self.assertLessEqual(
            self.client2 | self.therapist2.partner_id, event.partner_ids
        )
        self.assertEqual(self.session_of(event).partner_id, self.client2)

    def test_no_calendar_invitation_mail_for_spa_appointments(self):
        """The client hears from the spa (consent link, reminders), not
        from calendar's meeting invitation with its accept/decline."""
        self.client.email = "clara@example.com"
        event = self.book(start=fields.Datetime.now() + timedelta(days=2))
        invitations = (
            self.env["mail.message"]
            .search([("model", "=", "calendar.event"), ("res_id", "=", event.id)])
            .filtered(lambda m: self.client in m.partner_ids)
        )
        self.assertFalse(invitations)
        start = fields.Datetime.now() + timedelta(days=2)
        plain = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .create(
                {
                    "name": "Supplier visit",
                    "start": start,
                    "stop": start + timedelta(hours=1),
                    "partner_ids": [Command.link(self.client.id)],
                }
            )
        )
        sent = (
            self.env["mail.message"]
            .search([("model", "=", "calendar.event"), ("res_id", "=", plain.id)])
            .filtered(lambda m: self.client in m.partner_ids)
        )
        self.assertTrue(sent, "a plain meeting still invites its attendees")


@tagged("post_install", "-at_install", "spa_front_desk")
class TestFrontDeskConsent(SpaCommon):
    def test_badge_sits_first_in_the_sheet(self):
        """The consent badge is the first thing in the appointment's sheet
        (before the title), with its actions; the booking fields follow the
        title instead of hiding in a tab."""
        form = arch_of(self.env["calendar.event"].with_user(self.front_desk))
        [sheet] = form.xpath("//sheet")
        firsts = [
            el
            for el in sheet
            if el.tag in ("div", "group")
            and "o_button_box" not in (el.get("class") or "")
            and el.get("name") != "button_box"
        ]
        self.assertIn("o_spa_consent_banner", firsts[0].get("class"))
        banner = sheet.xpath(".//div[@name='spa_consent_banner_missing']")[0]
        buttons = {b.get("name") for b in banner.xpath(".//button")}
        self.assertLessEqual(
            {"action_spa_record_consent", "action_spa_send_consent_link"}, buttons
        )
        title = sheet.xpath(".//div[contains(@class, 'oe_title')]")[0]
        booking = sheet.xpath(".//group[@name='spa_booking']")[0]
        blocks = [el for el in sheet if el.tag in ("div", "group")]
        self.assertEqual(
            blocks.index(booking), blocks.index(title) + 1, "booking under the title"
        )
        # The therapist reads the badge, but records nothing from here.
        form_th = arch_of(self.env["calendar.event"].with_user(self.therapist))
        self.assertTrue(form_th.xpath("//div[@name='spa_consent_banner_missing']"))
        self.assertFalse(
            form_th.xpath("//button[@name='action_spa_send_consent_link']")
        )
        # A user outside the spa sees Odoo's form.
        form_plain = arch_of(self.env["calendar.event"].with_user(self.plain_user))
        self.assertFalse(
            form_plain.xpath("//*[contains(@class, 'o_spa_consent_banner')]")
        )

    def test_record_consent_shows_the_text_before_giving(self):
        """From the appointment: the consent form in a dialog, filled in,
        whose text is readable before "the client agrees"; giving goes
        through action_give and the appointment's chatter says so."""
        event = self.book().with_user(self.front_desk)
        self.assertEqual(event.spa_consent_status, "missing")
        action = event.action_spa_record_consent()
        self.assertEqual(action["target"], "new")
        view = self.env["ir.ui.view"].browse(action["views"][0][0])
        form = Form(
            self.env["spa.consent"]
            .with_user(self.front_desk)
            .with_context(**action["context"]),
            view=view,
        )
        self.assertEqual(form.partner_id, self.client)
        self.assertEqual(len(form.protocol_ids), 1)
        # The built-in protocol touches the buttocks: written by default.
        self.assertEqual(form.method, "written")
        text = lxml_html.fromstring(str(form.agreement_text)).text_content()
        self.assertIn(self.protocol.name, text)
        consent_words = lxml_html.fromstring(
            str(self.protocol.consent_text)
        ).text_content()
        self.assertIn(consent_words.split()[0], text)
        gluteal = self.env.ref("spa_session_protocol.body_region_gluteal")
        form.body_region_ids.add(gluteal)
        text = lxml_html.fromstring(str(form.agreement_text)).text_content()
        self.assertIn(gluteal.name, text, "the areas ticked are part of what is read")
        consent = form.save()
        self.assertEqual(consent.protocol_ids, self.protocol)
        self.assertEqual(
            consent.state, "draft", "nothing given before the client agrees"
        )
        result = consent.with_context(**action["context"]).action_spa_give_at_desk()
        self.assertEqual(result["type"], "ir.actions.act_window_close")
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.recorded_by_id, self.front_desk)
        self.assertEqual(
            consent._spa_method_label(),
            dict(consent._fields["method"].selection)[consent.method],
        )
        self.assertIn(self.protocol.name, consent.consent_text)
        event.invalidate_recordset()
        self.assertEqual(event.spa_consent_status, "valid")
        self.assertTrue(
            event.message_ids.filtered(
                lambda m: (
                    consent.name in (m.body or "")
                    and f"recorded at the desk ({consent._spa_method_label()})"
                    in m.body
                )
            )
        )

    def test_desk_consent_signature_is_drawn_only(self):
        """Both consent forms the desk signs on use the drawing-only
        signature field (its dialog: ``static/tests``'s hoot test), not
        Odoo's, which offers a typed name and an uploaded picture."""
        Consent = self.env["spa.consent"].with_user(self.front_desk)
        for view_ref in (
            "spa_session_protocol.spa_consent_view_form",
            "spa_session_protocol.spa_consent_view_form_record",
        ):
            with self.subTest(view=view_ref):
                [field] = arch_of(Consent, view_ref).xpath("//field[@name='signature']")
                self.assertEqual(field.get("widget"), "spa_drawn_signature")

    def test_record_consent_keeps_the_rules(self):
        """No bypass: a signature consent without the signature is refused
        and nothing is given."""
        event = self.book().with_user(self.front_desk)
        action = event.action_spa_record_consent()
        consent = (
            self.env["spa.consent"]
            .with_user(self.front_desk)
            .with_context(**action["context"])
            .create({"method": "signature"})
        )
        with self.assertRaisesRegex(UserError, "signature"):
            consent.with_context(**action["context"]).action_spa_give_at_desk()
        self.assertEqual(consent.state, "draft")
        # An appointment of another client takes no line from this consent.
        other = self.book(partner=self.client2).with_user(self.front_desk)
        consent.write({"method": "verbal"})
        consent.with_context(spa_event_id=other.id).action_spa_give_at_desk()
        self.assertFalse(
            other.message_ids.filtered(lambda m: consent.name in (m.body or ""))
        )

    def test_record_consent_needs_client_and_protocol(self):
        start = fields.Datetime.now() + timedelta(days=1)
        event = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .create(
                {"name": "Walk-in", "start": start, "stop": start + timedelta(hours=1)}
            )
        )
        with self.assertRaisesRegex(UserError, "client and the protocol"):
            event.action_spa_record_consent()


@tagged("post_install", "-at_install", "spa_front_desk", "spa_portal")
class TestFrontDeskConsentLink(SpaCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client.email = "clara@example.com"
        cls.company.spa_consent_link_on_booking = False

    def link_of(self, event):
        return self.env["spa.consent"].search(
            [
                ("partner_id", "=", event.spa_client_id.id),
                ("state", "=", "draft"),
                ("access_token", "!=", False),
            ],
            order="id desc",
            limit=1,
        )

    def test_send_link_toasts_logs_and_shows_its_state(self):
        event = self.book().with_user(self.front_desk)
        self.assertFalse(event.spa_consent_link_state)
        # The email waits in the queue (as it does until the transaction
        # commits on a server) instead of going out within the test.
        action = event.with_context(
            mail_notify_force_send=False
        ).action_spa_send_consent_link()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("clara@example.com", action["params"]["message"])
        consent = self.link_of(event)
        self.assertTrue(
            consent.message_ids.filtered(
                lambda m: consent.access_token in (m.body or "")
            )
        )
        self.assertTrue(
            event.message_ids.filtered(
                lambda m: (
                    "Consent link" in (m.body or "") and "clara@example.com" in m.body
                )
            ),
            "the appointment's chatter says the link was sent",
        )
        event.invalidate_recordset()
        self.assertEqual(
            event.spa_consent_link_state, "queued", event.spa_consent_link_failure
        )
        # The mail went out: sent, awaiting the signature.
        notification = self.env["mail.notification"].search(
            [
                ("mail_message_id.res_id", "=", consent.id),
                ("mail_message_id.model", "=", "spa.consent"),
            ]
        )
        self.assertTrue(notification)
        mail = (
            self.env["mail.mail"]
            .sudo()
            .search([("mail_message_id", "in", notification.mail_message_id.ids)])
        )
        mail._postprocess_sent_message(success_pids=self.client)
        event.invalidate_recordset()
        consent.invalidate_recordset()
        self.assertEqual(event.spa_consent_link_state, "sent")
        self.assertEqual(consent.link_state, "sent")

    def test_link_sent_on_booking_shows_in_the_saved_form(self):
        """Booked through the form's RPC (``web_save``) for a client with an
        email and no consent: what the form reads back after the save shows
        the link that went out, not the badges as they were before it."""
        self.company.spa_consent_link_on_booking = True
        Event = self.env["calendar.event"].with_user(self.front_desk)
        described = Event.get_views([(False, "form")])["models"]["calendar.event"]
        spec = {
            fname: {"fields": {"display_name": {}}}
            if desc["type"] in ("many2one", "one2many", "many2many")
            else {}
            for fname, desc in described.get("fields", described).items()
        }
        start = fields.Datetime.now() + timedelta(days=2)
        [saved] = Event.with_context(mail_notify_force_send=False).web_save(
            {
                "name": "Booked from the form",
                "start": fields.Datetime.to_string(start),
                "stop": fields.Datetime.to_string(start + timedelta(hours=1)),
                "spa_protocol_id": self.protocol.id,
                "spa_client_id": self.client.id,
                "spa_therapist_id": self.therapist.id,
            },
            spec,
        )
        self.assertEqual(saved["spa_consent_status"], "missing")
        self.assertTrue(self.link_of(Event.browse(saved["id"])))
        self.assertEqual(saved["spa_consent_link_state"], "queued")

    def test_failed_email_is_shown(self):
        """No outgoing mail server: the email fails and the appointment says
        so, with the reason."""
        event = self.book().with_user(self.front_desk)
        event.action_spa_send_consent_link()
        consent = self.link_of(event)
        mail = (
            self.env["mail.mail"]
            .sudo()
            .search([("model", "=", "spa.consent"), ("res_id", "=", consent.id)])
        )
        self.assertTrue(mail)
        mail._postprocess_sent_message(
            success_pids=self.env["res.partner"],
            failure_reason="Connection refused: no outgoing mail server",
            failure_type="mail_smtp",
        )
        event.invalidate_recordset()
        self.assertEqual(event.spa_consent_link_state, "failed")
        self.assertIn("no outgoing mail server", event.spa_consent_link_failure)

    def test_send_link_refusals(self):
        event = self.book(partner=self.client2).with_user(self.front_desk)
        with self.assertRaisesRegex(UserError, "no email address"):
            event.action_spa_send_consent_link()
        self.give_consent()
        covered = self.book().with_user(self.front_desk)
        with self.assertRaisesRegex(UserError, "already has a valid consent"):
            covered.action_spa_send_consent_link()

    def test_consent_given_at_the_desk_voids_the_open_link(self):
        """The link sent earlier no longer offers "I agree: sign" once the
        front desk recorded the consent: its page says it is recorded."""
        event = self.book().with_user(self.front_desk)
        event.action_spa_send_consent_link()
        link = self.link_of(event)
        url = link.get_portal_url()
        page = lxml_html.fromstring(self.url_open(url).text)
        self.assertTrue(page.xpath("//*[contains(@class, 'o_spa_consent_sign')]"))
        given = self.give_consent(method="written")
        link.invalidate_recordset()
        self.assertTrue(link.link_voided_at)
        self.assertEqual(link.link_state, "void")
        self.assertEqual(link.state, "draft")
        self.assertTrue(
            link.message_ids.filtered(lambda m: given.name in (m.body or ""))
        )
        page = lxml_html.fromstring(self.url_open(url).text)
        self.assertFalse(page.xpath("//*[contains(@class, 'o_spa_consent_sign')]"))
        self.assertFalse(
            page.xpath("//form[contains(@class, 'o_spa_consent_regions')]")
        )
        status = " ".join(
            page.xpath("//*[contains(@class, 'o_spa_consent_status')]")[0]
            .text_content()
            .split()
        )
        self.assertIn("already recorded", status)
        # Signing through the route is refused too, and nothing changes.
        response = self.make_jsonrpc_request(
            f"/my/spa/consent/{link.id}/accept?access_token={link.access_token}",
            {"name": "Clara", "signature": "iVBORw0KGgo="},
        )
        self.assertIn("already recorded", response["error"])
        link.invalidate_recordset()
        self.assertEqual(link.state, "draft")
        # The next link is a new one, not the void one.
        given.action_withdraw()
        event.invalidate_recordset()
        event.action_spa_send_consent_link()
        self.assertNotEqual(self.link_of(event), link)

    def test_link_of_other_protocols_stays_open(self):
        other = self.protocol.copy({"code": "OTHER", "name": "Other protocol"})
        link = self.new_consent(protocols=self.protocol | other, method="signature")
        link._portal_ensure_token()
        self.give_consent(method="written")
        link.invalidate_recordset()
        self.assertFalse(link.link_voided_at, "the consent given covers one of two")
        self.assertEqual(link._portal_status(), "sign")


@tagged("post_install", "-at_install", "spa_front_desk")
class TestLandingPerRole(SpaCommon):
    def home(self, user):
        action = user.sudo().action_id
        return self.env[action.type].browse(action.id) if action else action

    def test_each_role_lands_where_its_work_is(self):
        ref = self.env.ref
        self.assertEqual(
            self.home(self.front_desk),
            ref("spa_session_protocol.calendar_event_action_spa"),
        )
        self.assertEqual(
            self.home(self.therapist),
            ref("spa_session_protocol.spa_session_runner_action"),
        )
        self.assertEqual(
            self.home(self.manager),
            ref("spa_session_protocol.spa_compliance_report_action"),
        )
        self.assertFalse(self.home(self.plain_user))
        # The administrator keeps Odoo's own landing.
        self.assertFalse(self.home(ref("base.user_admin")))

    def test_role_changes_follow_and_own_choice_stays(self):
        user = new_test_user(self.env, "spa_newcomer", groups="base.group_user")
        self.assertFalse(self.home(user))
        therapist_group = self.env.ref("spa_session_protocol.group_spa_therapist")
        user.write({"groups_id": [Command.link(therapist_group.id)]})
        runner = self.env.ref("spa_session_protocol.spa_session_runner_action")
        self.assertEqual(self.home(user), runner)
        # Added to the managers from the group's own form.
        self.env.ref("spa_session_protocol.group_spa_manager").write(
            {"users": [Command.link(user.id)]}
        )
        self.assertEqual(
            self.home(user),
            self.env.ref("spa_session_protocol.spa_compliance_report_action"),
        )
        # A home action chosen by hand is theirs.
        contacts = self.env.ref("base.action_res_users")
        user.action_id = contacts.id
        user.write(
            {
                "groups_id": [
                    Command.unlink(
                        self.env.ref("spa_session_protocol.group_spa_manager").id
                    )
                ]
            }
        )
        self.assertEqual(self.home(user), contacts)

    def test_existing_users_at_install(self):
        self.front_desk.sudo().action_id = False
        self.env["res.users"]._spa_set_home_actions_all()
        self.assertEqual(
            self.home(self.front_desk),
            self.env.ref("spa_session_protocol.calendar_event_action_spa"),
        )
