import os
import pathlib
import re
import shutil
import uuid

import psycopg2
from lxml import html as lxml_html

from odoo import SUPERUSER_ID, Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger

from ..tools import evidence
from . import test_evidence, test_portal, test_write_policy
from .common import SpaCommon, drawn_signature
from .test_consent import SIGNATURE
from .test_reports_pdf import ReportsCommon
from .test_tablet_api import PNG_DATA_URL
from .test_ui import TABLET_PORTRAIT, SpaTabletUiCommon

CODES = (
    "upper_back",
    "mid_back",
    "lower_back",
    "neck",
    "shoulder_left",
    "shoulder_right",
    "gluteal",
    "chest_wall",
    "breast",
    "upper_inner_thigh",
    "abdomen",
)
SENSITIVE = ("gluteal", "chest_wall", "breast", "upper_inner_thigh")
PRESSURE = "Stabilise and apply pressure"


class BodyRegionCommon(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.regions = {
            code: cls.env.ref(f"spa_session_protocol.body_region_{code}")
            for code in CODES
        }
        cls.gluteal = cls.regions["gluteal"]
        cls.upper_back = cls.regions["upper_back"]
        cls.lower_back = cls.regions["lower_back"]

    def running_until_pressure(self, therapist=None, **consent_vals):
        """A session started on a consent made of ``consent_vals``, ticked up
        to the step before "Stabilise and apply pressure"."""
        therapist = therapist or self.therapist
        self.give_consent(**consent_vals)
        session = self.session_of(self.book(therapist=therapist)).with_user(therapist)
        session.action_start()
        session.write({"positioning": "prone_table"})
        self.tick(session, *self.MANDATORY[:4])
        return session


@tagged("post_install", "-at_install", "spa_body_regions")
class TestBodyRegions(BodyRegionCommon):
    # ------------------------------------------------------------------
    # The regions and the built-in protocol
    # ------------------------------------------------------------------

    def test_region_records(self):
        Region = self.env["spa.body.region"]
        self.assertEqual(
            {code for code, r in self.regions.items() if r.is_sensitive},
            set(SENSITIVE),
        )
        for code, region in self.regions.items():
            self.assertEqual(region.code, code)
            self.assertIn(region.side, ("front", "back"))
            if region.is_sensitive:
                self.assertTrue(region.consent_line, code)
        self.assertEqual(self.gluteal.side, "back")
        self.assertEqual(self.regions["breast"].side, "front")
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.cr.savepoint():
                Region.with_user(self.manager).create(
                    {"name": "Twin", "code": "gluteal", "side": "back"}
                )
        # translatable name
        self.assertTrue(Region._fields["name"].translate)
        # only managers configure them
        for user in (self.front_desk, self.therapist):
            with self.assertRaises(AccessError):
                Region.with_user(user).create(
                    {"name": "Foot", "code": "foot", "side": "front"}
                )

    def test_builtin_steps_touch_the_upper_back_and_step_5_the_buttocks(self):
        steps = self.protocol.step_ids.sorted("sequence")
        for step in steps[2:6]:
            self.assertIn(self.upper_back, step.body_region_ids, step.name)
        self.assertEqual(
            self.steps_by_name[PRESSURE].body_region_ids, self.upper_back | self.gluteal
        )
        self.assertEqual(self.protocol.sensitive_region_ids, self.gluteal)

    def test_session_lines_copy_the_regions(self):
        session = self.session_of(self.book())
        for line in session.step_ids:
            self.assertEqual(
                line.touched_region_ids, line.protocol_step_id.body_region_ids
            )
            self.assertEqual(
                line.planned_region_ids, line.protocol_step_id.body_region_ids
            )
            self.assertFalse(line.is_region_adapted)

    # ------------------------------------------------------------------
    # Rule 8
    # ------------------------------------------------------------------

    def assert_tick_refused(self, line, *phrases):
        with self.assertRaises(UserError) as refusal:
            line.action_done()
        message = str(refusal.exception)
        self.assertIn("Buttocks (gluteal area)", message)
        for phrase in phrases:
            self.assertIn(phrase, message)
        self.assertEqual(line.state, "todo")
        self.assertFalse(line.done_by_id)

    def test_verbal_consent_never_covers_a_sensitive_region(self):
        session = self.running_until_pressure(
            method="verbal", body_region_ids=[Command.set(self.gluteal.ids)]
        )
        self.assert_tick_refused(self.step(session, PRESSURE), "verbal")

    def test_written_consent_must_name_the_region(self):
        session = self.running_until_pressure(
            method="written", body_region_ids=[Command.clear()]
        )
        self.assert_tick_refused(self.step(session, PRESSURE), "does not name")
        other = self.running_until_pressure(
            method="written",
            body_region_ids=[Command.set(self.regions["chest_wall"].ids)],
        )
        self.assert_tick_refused(self.step(other, PRESSURE), "does not name")

    def test_written_or_signed_consent_naming_it_allows_the_tick(self):
        for vals in (
            {"method": "written"},
            {"method": "signature", "signature": SIGNATURE},
        ):
            with self.subTest(**vals):
                session = self.running_until_pressure(
                    body_region_ids=[Command.set(self.gluteal.ids)], **vals
                )
                line = self.step(session, PRESSURE)
                line.action_done()
                self.assertEqual(line.state, "done")
                session.action_stop()

    def test_technique_adapted_before_the_tick(self):
        """Stabilise on the sacrum (lower back) instead of the buttocks: the
        line shows it, and a verbal consent is then enough."""
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        self.assert_tick_refused(line)
        line.write(
            {
                "touched_region_ids": [
                    Command.unlink(self.gluteal.id),
                    Command.link(self.lower_back.id),
                ]
            }
        )
        self.assertTrue(line.is_region_adapted)
        line.action_done()
        self.assertEqual(line.state, "done")
        self.assertEqual(line.touched_region_ids, self.upper_back | self.lower_back)
        self.assertEqual(line.planned_region_ids, self.upper_back | self.gluteal)

    def test_adapting_through_the_form(self):
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        with Form(line.with_user(self.therapist)) as form:
            form.touched_region_ids.remove(self.gluteal.id)
        self.assertEqual(line.touched_region_ids, self.upper_back)
        line.action_done()

    def test_regions_frozen_after_the_tick_for_everyone(self):
        session = self.running_until_pressure()
        line = self.step(session, PRESSURE)
        line.action_done()
        for env in (
            self.env(user=self.therapist),
            self.env(user=self.manager),
            self.env(user=self.manager, su=True),
        ):
            with self.subTest(user=env.user.login, su=env.su):
                with self.assertRaises(AccessError):
                    line.with_env(env).write(
                        {"touched_region_ids": [Command.unlink(self.gluteal.id)]}
                    )
        self.assertEqual(line.touched_region_ids, self.upper_back | self.gluteal)

    def test_who_may_adapt_the_technique(self):
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        unlink = {"touched_region_ids": [Command.unlink(self.gluteal.id)]}
        for user in (self.front_desk, self.therapist2, self.plain_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                line.with_user(user).write(unlink)
        # a caller's context lifts nothing
        with self.assertRaises(AccessError):
            line.with_user(self.front_desk).sudo().with_context(spa_server=True).write(
                unlink
            )
        self.assertIn(self.gluteal, line.touched_region_ids)
        # other commands than set/link/unlink are refused
        with self.assertRaises(AccessError):
            line.with_user(self.therapist).write(
                {"touched_region_ids": [Command.clear()]}
            )
        line.with_user(self.manager).write(unlink)
        self.assertNotIn(self.gluteal, line.touched_region_ids)
        line.with_user(self.therapist).write(
            {"touched_region_ids": [Command.link(self.gluteal.id)]}
        )
        self.assertIn(self.gluteal, line.touched_region_ids)

    def test_every_role_is_refused_the_tick_without_written_consent(self):
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        self.assert_tick_refused(line.with_user(self.therapist))
        self.assert_tick_refused(line.with_user(self.manager))
        # the superuser and sudo() are held to the rule too
        self.assert_tick_refused(line.sudo())
        for user in (self.front_desk, self.therapist2):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                line.with_user(user).action_done()
        self.assertEqual(line.state, "todo")

    def test_rule_8_on_the_tablet_operation(self):
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        Session = self.env["spa.session"].with_user(self.therapist)
        with self.assertRaisesRegex(UserError, "Buttocks"):
            Session._tablet_apply_op(
                {"uuid": str(uuid.uuid4()), "kind": "tick", "step_id": line.id}
            )
        Session._tablet_apply_op(
            {
                "uuid": str(uuid.uuid4()),
                "kind": "regions",
                "step_id": line.id,
                "region_ids": self.upper_back.ids,
            }
        )
        Session._tablet_apply_op(
            {"uuid": str(uuid.uuid4()), "kind": "tick", "step_id": line.id}
        )
        self.assertEqual(line.state, "done")
        with self.assertRaises(AccessError):
            Session._tablet_apply_op(
                {
                    "uuid": str(uuid.uuid4()),
                    "kind": "regions",
                    "step_id": line.id,
                    "region_ids": [],
                }
            )

    # ------------------------------------------------------------------
    # The consent's regions
    # ------------------------------------------------------------------

    def test_consent_names_sensitive_regions_only_and_keeps_them(self):
        with self.assertRaises(ValidationError):
            self.new_consent(
                method="written",
                body_region_ids=[Command.set(self.regions["neck"].ids)],
            )
        consent = self.give_consent()
        self.assertEqual(consent.body_region_ids, self.gluteal)
        self.assertIn("Sensitive areas", consent.consent_text)
        self.assertIn(self.gluteal.consent_line, consent.consent_text)
        for env in (
            self.env(user=self.front_desk),
            self.env(user=self.manager),
            self.env(user=self.front_desk, su=True),
        ):
            with self.subTest(user=env.user.login), self.assertRaises(AccessError):
                consent.with_env(env).write({"body_region_ids": [Command.clear()]})
        self.assertEqual(consent.body_region_ids, self.gluteal)

    def test_consent_form_lists_the_protocols_sensitive_regions(self):
        with Form(self.env["spa.consent"].with_user(self.front_desk)) as form:
            form.partner_id = self.client
            form.protocol_ids.add(self.protocol)
            form.method = "written"
            self.assertEqual(form.available_region_ids[:], self.gluteal)
            form.body_region_ids.add(self.gluteal)
        consent = form.record
        consent.action_give()
        self.assertEqual(consent.body_region_ids, self.gluteal)

    def test_portal_agreement_per_region(self):
        consent = self.new_consent(method="signature")
        consent_sudo = consent.sudo()
        consent_sudo._action_agree_regions_from_portal(self.gluteal.ids)
        self.assertEqual(consent.body_region_ids, self.gluteal)
        with self.assertRaises(UserError):
            consent_sudo._action_agree_regions_from_portal(self.regions["breast"].ids)
        shown = consent_sudo._spa_shown_version()
        consent_sudo._action_agree_regions_from_portal([])
        # the page showed other choices: signing it is refused
        self.assertNotEqual(consent_sudo._spa_shown_version(), shown)

    # ------------------------------------------------------------------
    # Check-ins and the client's pain history
    # ------------------------------------------------------------------

    def test_checkin_region_is_append_only_and_in_the_history(self):
        session = self.running_until_pressure()
        self.tick(session, PRESSURE)
        checkin = self.checkin(
            session, PRESSURE, pain=4, body_region_id=self.upper_back.id
        )
        self.assertEqual(checkin.body_region_id, self.upper_back)
        self.assertEqual(checkin.partner_id, self.client)
        for user in (self.therapist, self.manager):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                checkin.with_user(user).write({"body_region_id": self.gluteal.id})
        partner = self.client.with_user(self.therapist)
        self.assertEqual(partner.spa_region_pain_ids, checkin)
        action = partner.action_spa_pain_history()
        self.assertEqual(action["res_model"], "spa.checkin")
        self.assertEqual(
            self.env["spa.checkin"].with_user(self.therapist).search(action["domain"]),
            checkin,
        )
        # the graph's measure: the worst pain per region (and per day)
        self.checkin(session, pain=2, body_region_id=self.upper_back.id)
        groups = (
            self.env["spa.checkin"]
            .with_user(self.manager)
            .read_group(action["domain"], ["pain_level"], ["body_region_id"])
        )
        self.assertEqual(
            [(g["body_region_id"][0], g["pain_level"]) for g in groups],
            [(self.upper_back.id, 4)],
        )
        # clinical detail: never the front desk's
        with self.assertRaises(AccessError):
            self.client.with_user(self.front_desk).read(["spa_region_pain_ids"])

    def test_regions_in_use_keep_their_meaning(self):
        """A region named by a session line, a consent or a check-in can be
        neither deleted nor made (in)sensitive; one no record names can. The
        check is one grouped query per field, whatever the number of regions."""
        Region = self.env["spa.body.region"]
        spare = Region.create(
            [{"name": f"Spare {i}", "code": f"spare_{i}"} for i in range(3)]
        )
        # before any booking, the built-in protocol's lines name nothing yet
        self.assertFalse(spare._spa_regions_in_use())
        session = self.running_until_pressure()
        line = session.step_ids.filtered(lambda s: s.name == PRESSURE)
        line.write({"touched_region_ids": [Command.link(spare[0].id)]})
        self.tick(session, PRESSURE)
        self.checkin(session, PRESSURE, pain=3, body_region_id=spare[1].id)
        everything = spare | self.gluteal | self.regions["abdomen"]
        with self.assertQueryCount(4):
            used = everything._spa_regions_in_use()
        self.assertEqual(used, spare[:2] | self.gluteal)
        for region in spare[:2] | self.gluteal:
            with self.subTest(region=region.code):
                with self.assertRaisesRegex(UserError, re.escape(region.name)):
                    region.unlink()
                with self.assertRaisesRegex(UserError, re.escape(region.name)):
                    region.write({"is_sensitive": not region.is_sensitive})
        with self.assertRaisesRegex(UserError, "Spare 0") as caught:
            (spare[0] | spare[2]).unlink()
        self.assertNotIn("Spare 2", str(caught.exception))
        spare[2].write({"is_sensitive": True})
        spare[2].unlink()
        self.assertFalse(spare[2].exists())


@tagged("post_install", "-at_install", "spa_body_regions", "spa_write_policy")
class TestBodyRegionWritePolicy(BodyRegionCommon):
    """The declared policy of the regions and of the new fields, tried field
    by field as each role (the enumeration of ``test_write_policy``)."""

    callers = test_write_policy.TestWritePolicy.callers
    declared = test_write_policy.TestWritePolicy.declared
    other_value = test_write_policy.TestWritePolicy.other_value
    outcome = test_write_policy.TestWritePolicy.outcome
    attempt = test_write_policy.TestWritePolicy.attempt
    check_model = test_write_policy.TestWritePolicy.check_model
    check_unlink = test_write_policy.TestWritePolicy.check_unlink

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.env(user=SUPERUSER_ID, su=True)
        # A second company, so that every many2one has another value to try.
        cls.env["res.company"].create({"name": "Other Spa"})

    def test_region_fields(self):
        tried = self.check_model({"*": self.regions["neck"]})
        self.assertGreaterEqual(tried, 6 * 11)
        self.check_unlink({"*": self.regions["neck"]})

    def test_line_regions_by_state(self):
        session = self.running_until_pressure()
        draft = self.session_of(self.book(partner=self.client2))
        todo = self.step(session, PRESSURE)
        done = self.step(session, "Locate the target area")
        self.check_model(
            {
                "in_progress/todo": todo,
                "in_progress/done": done,
                "draft/todo": draft.step_ids[3],
            },
            therapist_of=lambda line: line.session_id.therapist_id,
        )


@tagged("post_install", "-at_install", "spa_body_regions", "spa_evidence")
class TestBodyRegionEvidence(BodyRegionCommon):
    """Hash version 3 covers the regions; what version 2 covered keeps
    verifying under version 2."""

    finished_session = test_evidence.TestEvidence.finished_session
    tamper = test_evidence.TestEvidence.tamper
    reseal_chain = test_evidence.TestEvidence.reseal_chain

    def check(self):
        return (
            self.env["spa.session"].with_user(self.manager).check_evidence_integrity()
        )

    def setUp(self):
        super().setUp()
        self.session = self.finished_session()
        self.assertEqual(self.session.evidence_version, evidence.MAX_HASH_VERSION)
        # Covered from version 3 on (4 covers the same, as columns).
        self.assertGreaterEqual(evidence.MAX_HASH_VERSION, 3)
        self.assertFalse(self.check())

    def test_version_3_declares_the_region_fields(self):
        Session = self.env["spa.session"]
        spec = Session._get_evidence_hash_fields(3)
        self.assertIn("touched_region_ids", spec["steps"][1])
        self.assertIn("planned_region_ids", spec["steps"][1])
        self.assertIn("body_region_ids", spec["consent"][1])
        self.assertIn("body_region_id", spec["checkins"][1])
        spec_2 = Session._get_evidence_hash_fields(2)
        for section, (__, fnames) in spec_2.items():
            self.assertFalse({f for f in fnames if "region" in f}, section)
            self.assertTrue(set(fnames) <= set(spec[section][1]))

    def test_sql_change_of_touched_regions_is_found(self):
        line = self.step(self.session, PRESSURE)
        self.tamper(
            "DELETE FROM spa_session_step_touched_region_rel WHERE step_id = %s "
            "AND region_id = %s",
            [line.id, self.gluteal.id],
        )
        self.assertEqual(self.check(), self.session)

    def test_sql_change_of_consented_regions_is_found(self):
        consent = self.session.consent_id
        field = consent._fields["body_region_ids"]
        self.tamper(
            f"DELETE FROM {field.relation} WHERE {field.column1} = %s",  # noqa: S608
            [consent.id],
        )
        self.assertIn(self.session, self.check())

    def test_sql_change_of_a_checkin_region_is_found(self):
        checkin = self.session.sudo().checkin_ids[:1]
        self.tamper(
            "UPDATE spa_checkin SET body_region_id = %s WHERE id = %s",
            [self.regions["neck"].id, checkin.id],
        )
        self.assertEqual(self.check(), self.session)

    def test_a_version_2_session_keeps_verifying(self):
        """Re-secure the company's chain with version 2 (before the regions
        existed): it verifies under version 2, which did not cover the
        regions, and still finds what version 2 covered."""
        self.reseal_chain(2, stored_version=2)
        self.assertFalse(self.check())
        line = self.step(self.session, PRESSURE)
        self.tamper(
            "DELETE FROM spa_session_step_touched_region_rel WHERE step_id = %s",
            [line.id],
        )
        self.assertFalse(self.check())
        checkin = self.session.sudo().checkin_ids[:1]
        self.tamper("UPDATE spa_checkin SET pain_level = 0 WHERE id = %s", [checkin.id])
        self.assertEqual(self.check(), self.session)


@tagged("post_install", "-at_install", "spa_body_regions", "spa_tablet")
class TestBodyRegionTabletApi(BodyRegionCommon, HttpCase):
    """The tablet's routes: the chart's regions, check-ins on a region, the
    consent capture per region, rule 8 through the sync route."""

    def sync(self, *ops):
        return self.make_jsonrpc_request("/spa/tablet/sync", {"ops": list(ops)})[
            "results"
        ]

    def test_tablet_routes(self):
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        self.authenticate("spa_th", "spa_th")
        data = self.make_jsonrpc_request(f"/spa/tablet/session/{session.id}")
        payload = data["session"]
        self.assertEqual({r["code"] for r in payload["body_regions"]}, set(CODES))
        [step] = [s for s in payload["steps"] if s["id"] == line.id]
        # the tablet says it before the step is performed (rule 8's function)
        self.assertIn("Buttocks (gluteal area)", step["region_warning"])
        self.assertIn("verbal", step["region_warning"])
        self.assertFalse(
            [s for s in payload["steps"] if s["id"] != line.id and s["region_warning"]]
        )
        self.assertEqual(
            {r["id"] for r in step["touched_regions"]},
            set((self.upper_back | self.gluteal).ids),
        )
        [refused] = self.sync(
            {"uuid": str(uuid.uuid4()), "kind": "tick", "step_id": line.id}
        )
        self.assertFalse(refused["ok"])
        self.assertIn("Buttocks (gluteal area)", refused["error"])
        adapted, ticked, checkin = self.sync(
            {
                "uuid": str(uuid.uuid4()),
                "kind": "regions",
                "session_id": session.id,
                "step_id": line.id,
                "region_ids": self.upper_back.ids,
            },
            {"uuid": str(uuid.uuid4()), "kind": "tick", "step_id": line.id},
            {
                "uuid": str(uuid.uuid4()),
                "kind": "checkin",
                "session_id": session.id,
                "step_id": line.id,
                "pain_level": 3,
                "region_id": self.upper_back.id,
            },
        )
        self.assertTrue(adapted["ok"] and ticked["ok"] and checkin["ok"], checkin)
        self.assertEqual(line.state, "done")
        self.assertEqual(
            [s["region_warning"] for s in session._tablet_payload()["steps"]],
            [""] * len(session.step_ids),
        )
        record = self.env["spa.checkin"].browse(checkin["checkin_id"])
        self.assertEqual(record.body_region_id, self.upper_back)

    def test_tablet_consent_per_region(self):
        session = self.session_of(self.book(partner=self.client2))
        self.authenticate("spa_fd", "spa_fd")
        info = self.make_jsonrpc_request(
            "/spa/tablet/consent_info", {"event_id": session.event_id.id}
        )
        self.assertEqual(
            info["sensitive_regions"],
            [
                {
                    "id": self.gluteal.id,
                    "name": self.gluteal.name,
                    "line": self.gluteal.consent_line,
                }
            ],
        )
        signature, strokes = drawn_signature()
        refused = self.make_jsonrpc_request(
            "/spa/tablet/consent",
            {
                "event_id": session.event_id.id,
                "signature": signature,
                "strokes": strokes,
                "signed_by": "Carl Client",
                "region_ids": self.regions["breast"].ids,
            },
        )
        self.assertFalse(refused["ok"])
        self.assertIn("Only the sensitive regions", refused["error"])
        result = self.make_jsonrpc_request(
            "/spa/tablet/consent",
            {
                "event_id": session.event_id.id,
                "signature": signature,
                "strokes": strokes,
                "signed_by": "Carl Client",
                "region_ids": self.gluteal.ids,
            },
        )
        self.assertTrue(result["ok"], result.get("error"))
        consent = self.env["spa.consent"].browse(result["consent_id"])
        self.assertEqual(consent.body_region_ids, self.gluteal)
        self.assertEqual(consent.method, "signature")


@tagged("post_install", "-at_install", "spa_body_regions", "spa_reports")
class TestBodyChartRecord(BodyRegionCommon, HttpCase):
    """The session record prints the body chart with the pain per region:
    its structure read with lxml, and the real PDF through wkhtmltopdf."""

    rows = ReportsCommon.rows
    text = staticmethod(ReportsCommon.text)

    def finished_with_regions(self):
        session = self.running_until_pressure(method="verbal")
        line = self.step(session, PRESSURE)
        line.write({"touched_region_ids": [Command.unlink(self.gluteal.id)]})
        self.tick(session, PRESSURE)
        self.checkin(session, PRESSURE, pain=4, body_region_id=self.upper_back.id)
        self.tick(session, "Pressing motions")
        self.checkin(
            session, "Pressing motions", pain=2, body_region_id=self.upper_back.id
        )
        self.checkin(session, pain=3, body_region_id=self.regions["neck"].id)
        self.tick(session, "Feedback check-ins")
        self.step(session, "Adjust the technique").action_skip("Relief")
        self.step(session, "Advanced techniques").action_skip("Not needed")
        session.action_done()
        return session

    def test_record_prints_the_chart(self):
        session = self.finished_with_regions()
        html, __ = (
            self.env["ir.actions.report"]
            .with_user(self.therapist)
            ._render_qweb_html(
                "spa_session_protocol.action_report_session_record", session.ids
            )
        )
        doc = lxml_html.fromstring(html.decode())
        [chart] = doc.xpath("//table[contains(@class, 'o_spa_body_chart')]")
        sides = chart.xpath(".//td[contains(@class, 'o_spa_body_side')]")
        self.assertEqual([s.get("data-side") for s in sides], ["front", "back"])
        for side in sides:
            [svg] = side.xpath(".//svg")
            # the outline drawn from the shipped SVG: the head and the body
            self.assertTrue(svg.xpath(".//circle"))
            self.assertTrue(svg.xpath(".//path[string-length(@d) > 100]"))
        back = sides[1]
        [upper] = back.xpath(".//ellipse[@data-region='upper_back']")
        self.assertEqual(upper.get("data-pain"), "4")
        self.assertIn("#0d6efd", upper.get("style"))  # touched by a done step
        [gluteal] = back.xpath(".//ellipse[@data-region='gluteal']")
        self.assertEqual(gluteal.get("data-pain"), "")
        self.assertNotIn("#0d6efd", gluteal.get("style"))  # adapted away
        self.assertFalse(sides[0].xpath(".//ellipse[@data-region='upper_back']"))
        pains = {row[0]: row[1:] for row in self.rows(doc, "o_spa_region_pains")}
        self.assertEqual(pains["Upper back"], ["2", "4", "Yes"])
        self.assertEqual(pains["Neck"], ["1", "3", "No"])
        self.assertNotIn("Buttocks (gluteal area) (sensitive)", pains)
        # the checklist shows the technique adapted, the check-ins where
        [adapted] = doc.xpath(
            "//table[contains(@class, 'o_spa_steps')]/tbody/tr"
            "[td[1][contains(., 'Stabilise')]]"
            "/td[contains(@class, 'o_spa_step_regions')]"
        )
        self.assertIn("Technique adapted", self.text(adapted))
        self.assertIn("Buttocks (gluteal area)", self.text(adapted))
        wheres = [row[2] for row in self.rows(doc, "o_spa_checkins")]
        self.assertEqual(sorted(wheres), ["Neck", "Upper back", "Upper back"])

    def test_real_pdf_with_the_chart(self):
        if not shutil.which("wkhtmltopdf"):
            self.skipTest("wkhtmltopdf is not installed")
        session = self.finished_with_regions()
        pdf, kind = (
            self.env["ir.actions.report"]
            .with_user(self.therapist)
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(
                "spa_session_protocol.action_report_session_record", session.ids
            )
        )
        self.assertEqual(kind, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        # Set SPA_REPORT_PDF_DIR to keep the PDF and look at it.
        out = os.environ.get("SPA_REPORT_PDF_DIR")
        if out:
            pathlib.Path(out, "session_record_body_chart.pdf").write_bytes(pdf)


@tagged("post_install", "-at_install", "spa_body_regions", "spa_tablet")
class TestBodyChartTour(SpaTabletUiCommon):
    def test_tour_checkin_on_a_region_portrait(self):
        """At 820x1180: adapt the technique (no buttocks), tick, and log the
        check-in where the client feels it by tapping the chart."""
        self.give_consent(method="verbal")
        session = self.book_today().with_user(self.tour_therapist)
        session.action_start()
        session.write({"positioning": "prone_table"})
        self.tick(session, *self.MANDATORY[:4])
        self.run_tour("spa_tablet_body_chart", TABLET_PORTRAIT)
        line = self.step(session, PRESSURE)
        self.assertEqual(line.state, "done")
        self.assertEqual(
            line.touched_region_ids,
            self.env.ref("spa_session_protocol.body_region_upper_back"),
        )
        checkin = session.sudo().checkin_ids
        self.assertEqual(len(checkin), 1)
        self.assertEqual(checkin.pain_level, 3)
        self.assertEqual(checkin.session_step_id, line)
        self.assertEqual(
            checkin.body_region_id,
            self.env.ref("spa_session_protocol.body_region_upper_back"),
        )


@tagged("post_install", "-at_install", "spa_body_regions", "spa_portal")
class TestBodyRegionPortal(BodyRegionCommon, HttpCase):
    """The signing page lists each sensitive area with its plain-language
    line; the client agrees to each separately, then signs what is shown."""

    page = staticmethod(test_portal.TestPortal.page)
    text_of = staticmethod(test_portal.TestPortal.text_of)

    def test_client_agrees_per_region_then_signs(self):
        self.client.email = "clara@example.com"
        event = self.book()
        consent = self.env["spa.consent"].search(
            [("partner_id", "=", self.client.id), ("state", "=", "draft")]
        )
        self.assertEqual(len(consent), 1)
        url = consent.get_portal_url()
        page = self.page(self.url_open(url))
        [form] = page.xpath(".//form[contains(@class, 'o_spa_consent_regions')]")
        [box] = form.xpath(".//input[@type='checkbox']")
        self.assertEqual(box.get("name"), f"region_{self.gluteal.id}")
        self.assertIsNone(box.get("checked"))
        self.assertIn(self.gluteal.consent_line, self.text_of(form, "form-check-label"))
        csrf = form.xpath("string(.//input[@name='csrf_token']/@value)")
        shown_before = consent._spa_shown_version()

        # an area the protocol does not list is refused, nothing changes
        self.url_open(
            form.get("action"),
            data={"csrf_token": csrf, f"region_{self.regions['breast'].id}": "1"},
        )
        self.assertFalse(consent.body_region_ids)

        response = self.url_open(
            form.get("action"),
            data={"csrf_token": csrf, f"region_{self.gluteal.id}": "1"},
        )
        self.assertEqual(response.status_code, 200)
        consent.invalidate_recordset()
        self.assertEqual(consent.body_region_ids, self.gluteal)
        page = self.page(response)
        [box] = page.xpath(
            ".//form[contains(@class, 'o_spa_consent_regions')]"
            "//input[@type='checkbox']"
        )
        self.assertIsNotNone(box.get("checked"))
        self.assertIn(
            self.gluteal.consent_line, self.text_of(page, "o_spa_consent_text")
        )
        # what was shown before the choice cannot be signed any more
        refused = self.make_jsonrpc_request(
            f"/my/spa/consent/{consent.id}/accept",
            {
                "access_token": consent.access_token,
                "name": "Clara Client",
                "signature": PNG_DATA_URL.split(",", 1)[1],
                "shown": shown_before,
            },
        )
        self.assertIn("changed", refused["error"])
        # a signature drawn on the pad, with its strokes (a drawn one only)
        signature, strokes = drawn_signature()
        result = self.make_jsonrpc_request(
            f"/my/spa/consent/{consent.id}/accept",
            {
                "access_token": consent.access_token,
                "name": "Clara Client",
                "signature": signature,
                "strokes": strokes,
                "shown": consent._spa_shown_version(),
            },
        )
        self.assertNotIn("error", result)
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "given")
        self.assertEqual(consent.body_region_ids, self.gluteal)
        # the signed consent covers the buttocks: step 5 can be ticked
        session = self.session_of(event).with_user(self.therapist)
        session.action_start()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:5])
        self.assertEqual(self.step(session, PRESSURE).state, "done")
