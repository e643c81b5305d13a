import io
import json
import os
import pathlib
import shutil
import unittest
from datetime import timedelta

from lxml import etree
from lxml import html as lxml_html

from odoo import fields, http
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged

from .common import SpaCommon, shoot_tour

MEASURES = (
    "has_valid_consent",
    "checkin_count",
    "checkin_required_count",
    "checkin_missing_count",
    "compliance_state",
    "is_compliant",
    "consent_coverage",
    "compliance_rate",
    "compliant_count",
    "non_compliant_count",
    "stopped_count",
    "referral_count",
    "is_unfinished",
    "unfinished_count",
    "documentation_lag",
    "refusal_count",
    "finished_count",
    "pending_count",
)


class ComplianceCommon(SpaCommon):
    """Sessions of every kind, and the report's measures recounted through
    the ORM, independently of the SQL view."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.share_test_cursor()
        cls.manager.groups_id += cls.env.ref("base.group_allow_export")
        Partner = cls.env["res.partner"]
        cls.client3 = Partner.create({"name": "Cora Client"})
        cls.client4 = Partner.create({"name": "Cid Client"})
        cls.give_intake(cls.client3)
        cls.give_intake(cls.client4)

    def refused(self, method, *args):
        """Call an action that must be refused, without a savepoint: the
        refusal log is written through a cursor that shares the test's
        transaction, and a savepoint rollback would take it away too."""
        try:
            method(*args)
        except UserError:
            return True
        self.fail(f"{method} was not refused")

    def build_sessions(self):
        now = fields.Datetime.now()
        past = now - timedelta(hours=3)  # appointment ended 2 hours ago
        sessions = {}

        # done, completed 2 h after the appointment ended, after one refusal
        self.give_consent()
        done = self.session_of(self.book(start=past)).with_user(self.therapist)
        done.action_start()
        self.refused(done.action_done)
        self.run_compliant_protocol(done)
        done.action_done()
        sessions["done"] = done

        # stopped by the stop rule: referral
        self.give_consent(partner=self.client2)
        referral = self.session_of(
            self.book(partner=self.client2, start=past)
        ).with_user(self.therapist)
        referral.action_start()
        referral.write({"positioning": "seated"})
        self.tick(referral, *self.MANDATORY[:5])
        self.checkin(referral, "Stabilise and apply pressure", pain=8)
        self.refused(referral.action_done)
        referral.action_stop()
        sessions["referral"] = referral

        # stopped for another reason, without referral; a required check-in
        # after a done step is missing
        stopped = self.session_of(self.book(start=past)).with_user(self.therapist)
        stopped.action_start()
        stopped.write({"positioning": "seated"})
        self.tick(stopped, *self.MANDATORY[:5])
        stopped.action_stop(reason="client_late")
        sessions["stopped"] = stopped

        # in progress although its appointment ended: undocumented
        unfinished = self.session_of(self.book(start=past)).with_user(self.therapist)
        unfinished.action_start()
        unfinished.write({"positioning": "seated"})
        self.tick(unfinished, *self.MANDATORY[:2])
        self.checkin(unfinished, pain=1)
        sessions["unfinished"] = unfinished

        # planned, in the future
        sessions["future"] = self.session_of(
            self.book(start=now + timedelta(days=1))
        ).with_user(self.therapist)

        # cancelled
        cancelled = self.session_of(self.book(start=now + timedelta(days=2)))
        cancelled.with_user(self.front_desk).action_cancel()
        sessions["cancelled"] = cancelled.with_user(self.therapist)

        # the consent withdrawn mid-session: completion refused, stopped
        consent3 = self.give_consent(partner=self.client3)
        withdrawn = self.session_of(
            self.book(partner=self.client3, start=past)
        ).with_user(self.therapist)
        withdrawn.action_start()
        consent3.with_user(self.front_desk).action_withdraw()
        self.refused(withdrawn.action_done)
        withdrawn.action_stop()
        sessions["withdrawn"] = withdrawn

        # another therapist's session, never started although its
        # appointment ended; a refused start (no consent)
        other = self.session_of(
            self.book(partner=self.client4, therapist=self.therapist2, start=past)
        ).with_user(self.therapist2)
        self.refused(other.action_start)
        sessions["other_therapist"] = other

        self.env.flush_all()
        return sessions

    # ------------------------------------------------------------------
    # Independent recount through the ORM
    # ------------------------------------------------------------------

    def expected_row(self, session):
        session = session.sudo()
        now = fields.Datetime.now()
        state = session.state
        started = state in ("in_progress", "done", "stopped")
        finished = state in ("done", "stopped")

        consent = session.consent_id
        valid = bool(
            started
            and consent
            and consent.given_at
            and consent.given_at <= session.date_start
            and consent.valid_until >= session.date_start.date()
            and session.protocol_id in consent.protocol_ids
            and (
                not consent.withdrawn_at
                or consent.withdrawn_at
                >= (session.date_done if state == "done" else session.date_start)
            )
            and (state != "done" or consent.valid_until >= session.date_done.date())
        )

        Checkin = self.env["spa.checkin"].sudo()
        checkins = Checkin.search([("session_id", "=", session.id)])
        done_steps = (
            self.env["spa.session.step"]
            .sudo()
            .search(
                [
                    ("session_id", "=", session.id),
                    ("state", "=", "done"),
                    ("requires_checkin", "=", True),
                ]
            )
        )
        lacking = [s for s in done_steps if s not in checkins.session_step_id]
        minimum = session.protocol_id.min_checkin_count
        if not started:
            required = missing = 0
        elif state == "stopped":
            required, missing = len(done_steps), len(lacking)
        else:
            required = max(minimum, len(done_steps))
            missing = max(len(lacking), minimum - len(checkins), 0)

        end = session.event_id.stop
        unfinished = state in ("draft", "in_progress") and end < now
        if state == "cancelled":
            compliance = "cancelled"
        elif finished:
            compliance = "compliant" if valid else "non_compliant"
        elif unfinished:
            compliance = "non_compliant"
        else:
            compliance = "pending"
        lag = (
            max(0.0, (session.date_done - end).total_seconds() / 3600)
            if finished
            else False
        )
        refusals = sum(
            self.env["spa.session.refusal"]
            .sudo()
            .search([("session_id", "=", session.id)])
            .mapped("attempt_count")
        )
        # The rate is over the finished sessions only.
        rate = (100.0 if compliance == "compliant" else 0.0) if finished else False
        return {
            "has_valid_consent": valid,
            "checkin_count": len(checkins),
            "checkin_required_count": required,
            "checkin_missing_count": missing,
            "compliance_state": compliance,
            "is_compliant": compliance == "compliant",
            "consent_coverage": (100.0 if valid else 0.0) if started else False,
            "compliance_rate": rate,
            "compliant_count": int(compliance == "compliant"),
            "non_compliant_count": int(compliance == "non_compliant"),
            "stopped_count": int(state == "stopped"),
            "referral_count": int(session.referral_recommended),
            "is_unfinished": unfinished,
            "unfinished_count": int(unfinished),
            "documentation_lag": lag,
            "refusal_count": refusals,
            "finished_count": int(finished),
            "pending_count": int(compliance == "pending"),
        }

    def assertRowMatches(self, row, expected, label):
        for fname, value in expected.items():
            actual = row[fname]
            if (
                value is False
                and self.env["spa.compliance.report"]._fields[fname].type == "float"
            ):
                # empty in the view (left out of averages), 0.0 on a record
                self.assertEqual(actual, 0.0, f"{label}.{fname}")
            elif value is False:
                self.assertIs(actual, False, f"{label}.{fname}")
            elif isinstance(value, float) and actual is not False:
                self.assertAlmostEqual(actual, value, places=3, msg=f"{label}.{fname}")
            else:
                self.assertEqual(actual, value, f"{label}.{fname}")


@tagged("post_install", "-at_install", "spa_compliance")
class TestComplianceReport(ComplianceCommon):
    def test_every_measure_against_orm_recount(self):
        sessions = self.build_sessions()
        Report = self.env["spa.compliance.report"].with_user(self.manager)
        ids = [s.id for s in sessions.values()]
        rows = {r.session_id.id: r for r in Report.search([("session_id", "in", ids)])}
        self.assertEqual(set(rows), set(ids))
        expected = {}
        for label, session in sessions.items():
            expected[session.id] = self.expected_row(session)
            self.assertRowMatches(rows[session.id], expected[session.id], label)

        # the kinds are what they claim to be
        self.assertEqual(rows[sessions["done"].id].compliance_state, "compliant")
        self.assertEqual(rows[sessions["referral"].id].referral_count, 1)
        self.assertEqual(rows[sessions["stopped"].id].checkin_missing_count, 1)
        self.assertTrue(rows[sessions["unfinished"].id].is_unfinished)
        self.assertEqual(rows[sessions["future"].id].compliance_state, "pending")
        self.assertEqual(rows[sessions["cancelled"].id].compliance_state, "cancelled")
        self.assertEqual(rows[sessions["withdrawn"].id].compliance_state, "compliant")
        self.assertEqual(rows[sessions["withdrawn"].id].refusal_count, 1)
        self.assertEqual(rows[sessions["other_therapist"].id].refusal_count, 1)
        self.assertAlmostEqual(
            rows[sessions["done"].id].documentation_lag, 2.0, delta=0.05
        )

        # aggregates of the pivot: sums and averages of the recount
        [agg] = Report._read_group(
            [("session_id", "in", ids)],
            [],
            [
                "__count",
                "checkin_missing_count:sum",
                "checkin_required_count:sum",
                "refusal_count:sum",
                "stopped_count:sum",
                "referral_count:sum",
                "unfinished_count:sum",
                "compliance_rate:avg",
                "consent_coverage:avg",
                "documentation_lag:avg",
            ],
        )
        values = list(expected.values())

        def total(fname):
            return sum(v[fname] for v in values)

        def average(fname):
            present = [v[fname] for v in values if v[fname] is not False]
            return sum(present) / len(present)

        self.assertEqual(agg[0], len(ids))
        self.assertEqual(agg[1], total("checkin_missing_count"))
        self.assertEqual(agg[2], total("checkin_required_count"))
        self.assertEqual(agg[3], total("refusal_count"))
        self.assertEqual(agg[4], 3)
        self.assertEqual(agg[5], 1)
        self.assertEqual(agg[6], total("unfinished_count"))
        self.assertAlmostEqual(agg[7], average("compliance_rate"), places=3)
        self.assertAlmostEqual(agg[8], average("consent_coverage"), places=3)
        self.assertAlmostEqual(agg[9], average("documentation_lag"), places=3)

    def test_rows_by_role(self):
        sessions = self.build_sessions()
        ids = [s.id for s in sessions.values()]
        Report = self.env["spa.compliance.report"]
        domain = [("session_id", "in", ids)]
        for user in (self.therapist, self.therapist2):
            rows = Report.with_user(user).search(domain)
            own = [s.id for s in sessions.values() if s.sudo().therapist_id == user]
            self.assertTrue(own)
            self.assertEqual(sorted(rows.session_id.ids), sorted(own), user.name)
            for row in rows:
                self.assertRowMatches(
                    row, self.expected_row(row.session_id), f"{user.login}"
                )
            [(count,)] = Report.with_user(user)._read_group(domain, [], ["__count"])
            self.assertEqual(count, len(own))
        self.assertEqual(len(Report.with_user(self.manager).search(domain)), len(ids))
        with self.assertRaises(AccessError):
            Report.with_user(self.front_desk).search(domain)
        with self.assertRaises(AccessError):
            Report.with_user(self.plain_user).search(domain)

    def test_other_company_hidden(self):
        sessions = self.build_sessions()
        other = self.env["res.company"].create({"name": "Other Spa"})
        self.manager.write({"company_ids": [(4, other.id)]})
        session = sessions["future"].sudo()
        Report = self.env["spa.compliance.report"].with_user(self.manager)
        self.assertTrue(Report.search([("session_id", "=", session.id)]))
        Report = Report.with_context(allowed_company_ids=[other.id])
        self.assertFalse(Report.search([("session_id", "=", session.id)]))

    def test_export_data(self):
        sessions = self.build_sessions()
        Report = self.env["spa.compliance.report"].with_user(self.manager)
        rows = Report.search([("session_id", "in", [s.id for s in sessions.values()])])
        data = rows.export_data(
            [
                "session_id",
                "therapist_id",
                "compliance_state",
                "checkin_missing_count",
                "documentation_lag",
                "refusal_count",
            ]
        )["datas"]
        self.assertEqual(len(data), len(sessions))
        by_name = {line[0]: line for line in data}
        done = sessions["done"].sudo()
        self.assertEqual(by_name[done.name][1], self.therapist.name)
        self.assertEqual(by_name[done.name][2], "Compliant")
        self.assertEqual(by_name[done.name][5], 1)


@tagged("post_install", "-at_install", "spa_compliance")
class TestRefusalLog(ComplianceCommon):
    def test_refused_completion_is_logged(self):
        session = self.started_session()
        self.refused(session.action_done)
        refusal = self.env["spa.session.refusal"].search(
            [("session_id", "=", session.id)]
        )
        self.assertEqual(len(refusal), 1)
        self.assertEqual(refusal.action, "done")
        self.assertEqual(refusal.user_id, self.therapist)
        self.assertEqual(refusal.therapist_id, self.therapist)
        self.assertEqual(refusal.company_id, session.company_id)
        self.assertIn("steps_missing", refusal.problem_codes.split(","))
        self.assertIn("checkins_missing", refusal.problem_codes.split(","))
        self.assertIn("Pressing motions", refusal.reasons)
        self.assertEqual(session.state, "in_progress")

    def test_refused_start_is_logged(self):
        session = self.session_of(self.book(partner=self.client4)).with_user(
            self.therapist
        )
        self.refused(session.action_start)
        refusal = self.env["spa.session.refusal"].search(
            [("session_id", "=", session.id)]
        )
        self.assertEqual(refusal.action, "start")
        self.assertEqual(refusal.problem_codes, "no_consent")
        self.assertEqual(session.state, "draft")

    def test_refusal_visibility(self):
        session = self.started_session()
        self.refused(session.action_done)
        Refusal = self.env["spa.session.refusal"]
        domain = [("session_id", "=", session.id)]
        self.assertEqual(Refusal.with_user(self.manager).search_count(domain), 1)
        self.assertEqual(Refusal.with_user(self.therapist).search_count(domain), 1)
        self.assertEqual(Refusal.with_user(self.therapist2).search_count(domain), 0)
        with self.assertRaises(AccessError):
            Refusal.with_user(self.front_desk).search(domain)
        refusal = Refusal.with_user(self.manager).search(domain)
        with self.assertRaises(UserError):
            refusal.write({"reasons": "nothing happened"})
        with self.assertRaises(UserError):
            refusal.sudo().write({"reasons": "nothing happened"})

    def test_allowed_actions_log_nothing(self):
        session = self.started_session()
        self.run_compliant_protocol(session)
        session.action_done()
        self.assertFalse(
            self.env["spa.session.refusal"].search([("session_id", "=", session.id)])
        )


@tagged("post_install", "-at_install", "spa_compliance")
class TestComplianceXlsxExport(ComplianceCommon, HttpCase):
    def test_xlsx_export_through_standard_controller(self):
        import openpyxl

        sessions = self.build_sessions()
        self.authenticate("spa_mgr", "spa_mgr")
        names = ["session_id", "compliance_state", "checkin_missing_count"]
        Report = self.env["spa.compliance.report"]
        params = {
            "model": "spa.compliance.report",
            "fields": [
                {"name": n, "label": Report._fields[n].string, "type": "char"}
                for n in names
            ],
            "ids": False,
            "domain": [("session_id", "in", [s.id for s in sessions.values()])],
            "groupby": [],
            "import_compat": False,
            "context": {},
        }
        response = self.url_open(
            "/web/export/xlsx",
            data={
                "data": json.dumps(params),
                "csrf_token": http.Request.csrf_token(self),
            },
        )
        self.assertEqual(response.status_code, 200)
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        rows = list(sheet.iter_rows(values_only=True))
        self.assertEqual(len(rows), len(sessions) + 1)
        by_name = {row[0]: row for row in rows[1:]}
        self.assertEqual(by_name[sessions["done"].sudo().name][1], "Compliant")
        self.assertEqual(by_name[sessions["unfinished"].sudo().name][2], 1)

        # grouped export (what the list view exports when grouped)
        params["groupby"] = ["therapist_id"]
        response = self.url_open(
            "/web/export/xlsx",
            data={
                "data": json.dumps(params),
                "csrf_token": http.Request.csrf_token(self),
            },
        )
        self.assertEqual(response.status_code, 200)
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        self.assertIn(
            self.therapist.name,
            " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row),
        )


@tagged("post_install", "-at_install", "spa_reports")
class TestCompliancePeriod(SpaCommon):
    """The analysis files each session under a stored date (its planned start),
    which a period filter reads through an index of the sessions."""

    def test_period_filter_follows_the_appointment(self):
        start = fields.Datetime.now().replace(microsecond=0) + timedelta(days=40)
        event = self.book(start=start)
        session = event.spa_session_ids
        Report = self.env["spa.compliance.report"].with_user(self.manager)

        def in_period(begin, end):
            return Report.search(
                [
                    ("session_id", "=", session.id),
                    ("date", ">=", begin),
                    ("date", "<", end),
                ]
            )

        self.assertEqual(session.report_date, start)
        self.assertTrue(
            in_period(start - timedelta(hours=1), start + timedelta(hours=1))
        )
        # Moved by the front desk: the session's planned start and the row follow.
        later = start + timedelta(days=3)
        event.with_user(self.front_desk).write(
            {"start": later, "stop": later + timedelta(hours=1)}
        )
        self.assertEqual(session.report_date, later)
        self.assertFalse(
            in_period(start - timedelta(hours=1), start + timedelta(hours=1))
        )
        self.assertTrue(
            in_period(later - timedelta(hours=1), later + timedelta(hours=1))
        )

    def test_the_period_index_exists_and_nobody_writes_the_date(self):
        self.env.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            ["spa_session_company_report_date_index"],
        )
        (indexdef,) = self.env.cr.fetchone()
        self.assertIn("(company_id, report_date)", indexdef)
        session = self.book().spa_session_ids
        for user in (self.front_desk, self.manager):
            with self.assertRaises(AccessError):
                session.with_user(user).sudo().write({"report_date": "2000-01-01"})


class ManagerReadingCommon(ComplianceCommon):
    """A therapist with three sessions this month: one finished, one pending
    (its appointment to come), one left unfinished (its appointment over)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rita = new_test_user(
            cls.env,
            "spa_th_rita",
            groups="spa_session_protocol.group_spa_therapist",
            name="Rita Rate",
        )
        cls.client5 = cls.env["res.partner"].create({"name": "Cleo Client"})
        cls.give_intake(cls.client5)

    def rita_sessions(self):
        now = fields.Datetime.now().replace(microsecond=0)
        self.give_consent(partner=self.client5)
        finished = self.session_of(
            self.book(
                partner=self.client5,
                therapist=self.rita,
                start=now - timedelta(hours=2),
            )
        ).with_user(self.rita)
        finished.action_start()
        finished.write({"positioning": "seated"})
        self.tick(finished, *self.MANDATORY[:5])
        self.checkin(finished, "Stabilise and apply pressure", pain=8)
        finished.action_stop()
        pending = self.session_of(
            self.book(
                partner=self.client5,
                therapist=self.rita,
                start=now + timedelta(minutes=90),
            )
        )
        unfinished = self.session_of(
            self.book(
                partner=self.client5,
                therapist=self.rita,
                start=now - timedelta(hours=4),
            )
        )
        self.env.flush_all()
        return finished, pending, unfinished


@tagged("post_install", "-at_install", "spa_compliance")
class TestManagerReading(ManagerReadingCommon):
    """Issue 18, the manager's reading, as the manager reads it."""

    def test_rate_is_over_the_finished_sessions_pending_apart(self):
        sessions = self.rita_sessions()
        Report = self.env["spa.compliance.report"].with_user(self.manager)
        domain = [("session_id", "in", [s.id for s in sessions])]
        [(count, rate, finished, pending, unfinished, non_compliant)] = (
            Report._read_group(
                domain,
                [],
                [
                    "__count",
                    "compliance_rate:avg",
                    "finished_count:sum",
                    "pending_count:sum",
                    "unfinished_count:sum",
                    "non_compliant_count:sum",
                ],
            )
        )
        # one finished session of three, compliant: 100 %, not 0 % nor 33 %
        self.assertEqual(count, 3)
        self.assertEqual(rate, 100.0)
        self.assertEqual((finished, pending, unfinished), (1, 1, 1))
        self.assertEqual(non_compliant, 1)  # the unfinished one, counted apart
        # with nothing finished, the rate is empty (not a misleading 0)
        [(empty_rate,)] = Report._read_group(
            [("session_id", "in", [sessions[1].id, sessions[2].id])],
            [],
            ["compliance_rate:avg"],
        )
        self.assertIs(empty_rate, False)
        # the label and help say what the rate is over, and name pending
        described = Report.fields_get(
            ["compliance_rate", "pending_count"], ["string", "help"]
        )
        self.assertIn("Finished", described["compliance_rate"]["string"])
        self.assertIn("finished sessions", described["compliance_rate"]["help"])
        self.assertIn("Pending", described["compliance_rate"]["help"])
        self.assertEqual(described["pending_count"]["string"], "Pending")

    def test_one_compliance_rule(self):
        """Every compliance measure agrees with compliance_state, row by row."""
        sessions = self.build_sessions()
        rows = (
            self.env["spa.compliance.report"]
            .with_user(self.manager)
            .search([("session_id", "in", [s.id for s in sessions.values()])])
        )
        self.assertEqual(len(rows), len(sessions))
        for row in rows:
            state = row.compliance_state
            finished = row.state in ("done", "stopped")
            self.assertEqual(row.is_compliant, state == "compliant")
            self.assertEqual(row.compliant_count, int(state == "compliant"))
            self.assertEqual(row.non_compliant_count, int(state == "non_compliant"))
            self.assertEqual(row.pending_count, int(state == "pending"))
            self.assertEqual(row.finished_count, int(finished))
            rate = 100.0 if state == "compliant" else 0.0
            self.assertEqual(row.compliance_rate, rate if finished else 0.0)

    def test_pivot_and_graph_arch(self):
        Report = self.env["spa.compliance.report"].with_user(self.manager)
        graph = etree.fromstring(Report.get_view(view_type="graph")["arch"])
        self.assertEqual(graph.get("js_class"), "spa_compliance_graph")
        self.assertEqual(
            [f.get("name") for f in graph.iter("field")][:2],
            ["date", "compliance_state"],
        )
        pivot = etree.fromstring(Report.get_view(view_type="pivot")["arch"])
        measures = {
            f.get("name"): f for f in pivot.iter("field") if f.get("type") == "measure"
        }
        self.assertIn("finished_count", measures)
        self.assertIn("pending_count", measures)
        self.assertEqual(measures["compliance_rate"].get("widget"), "spa_rate")

    def test_blocked_attempts_have_no_sample_data_and_a_real_empty_state(self):
        Refusal = self.env["spa.session.refusal"].with_user(self.manager)
        for view_type in ("list", "pivot", "graph"):
            arch = etree.fromstring(Refusal.get_view(view_type=view_type)["arch"])
            self.assertFalse(arch.get("sample"), view_type)
        action = self.env.ref("spa_session_protocol.spa_session_refusal_action")
        help_text = " ".join(lxml_html.fromstring(action.help).text_content().split())
        self.assertIn("No blocked attempt", help_text)
        self.assertIn("tick a step against the protocol", help_text)

    def test_out_of_order_tick_is_logged_and_changes_nothing(self):
        session = self.started_session()
        first = self.step(session, "Prepare the client and get consent")
        later = self.step(session, "Warm-up")  # "Positioning" not done yet
        # One call ticking a valid step and an out-of-order one: refused whole.
        self.refused((first | later).with_user(self.therapist).action_done)
        self.assertEqual((first | later).mapped("state"), ["todo", "todo"])
        refusal = (
            self.env["spa.session.refusal"]
            .with_user(self.manager)
            .search([("session_id", "=", session.id)])
        )
        self.assertEqual(len(refusal), 1)
        self.assertEqual(refusal.action, "tick")
        self.assertEqual(refusal.reason, "step_order")
        self.assertEqual(refusal.user_id, self.therapist)
        self.assertIn("step_out_of_order", refusal.problem_codes.split(","))
        self.assertIn("'Warm-up'", refusal.reasons)
        self.assertIn("'Positioning'", refusal.reasons)
        # The same tap again counts on that line; the therapist reads it too.
        self.refused(later.with_user(self.therapist).action_done)
        refusal.invalidate_recordset()
        self.assertEqual(refusal.attempt_count, 2)
        self.assertEqual(
            self.env["spa.session.refusal"]
            .with_user(self.therapist)
            .search_count([("session_id", "=", session.id)]),
            1,
        )
        # The analysis counts the blocked ticks as blocked attempts.
        self.env["spa.compliance.report"].invalidate_model()
        row = (
            self.env["spa.compliance.report"]
            .with_user(self.manager)
            .search([("session_id", "=", session.id)])
        )
        self.assertEqual(row.refusal_count, 2)
        # A tap on a step already done is no blocked attempt.
        first.with_user(self.therapist).action_done()
        self.refused(first.with_user(self.therapist).action_done)
        self.assertEqual(
            self.env["spa.session.refusal"].search_count(
                [("session_id", "=", session.id)]
            ),
            1,
        )

    def test_summary_defaults_to_the_last_30_days(self):
        wizard = Form(self.env["spa.compliance.summary.wizard"].with_user(self.manager))
        today = fields.Date.context_today(self.env["res.users"].with_user(self.manager))
        self.assertEqual(wizard.date_to, today)
        self.assertEqual(wizard.date_from, today - timedelta(days=29))

    def test_summary_counts_are_integers_and_print_closes(self):
        self.build_sessions()
        wizard = (
            self.env["spa.compliance.summary.wizard"].with_user(self.manager).create({})
        )
        action = wizard.action_print()
        self.assertTrue(action["close_on_report_download"])
        self.assertEqual(action["type"], "ir.actions.report")
        values = (
            self.env["report.spa_session_protocol.report_compliance_summary"]
            .with_user(self.manager)
            ._get_report_values(wizard.ids)
        )
        total = values["summaries"][wizard.id]["total"]
        for key in ("sessions", "finished", "pending", "refusals", "compliant"):
            self.assertIs(type(total[key]), int, key)
        self.assertGreaterEqual(total["refusals"], 3)
        # the rate is over the finished sessions
        self.assertAlmostEqual(
            total["rate"], 100.0 * total["compliant"] / total["finished"]
        )
        html, __ = (
            self.env["ir.actions.report"]
            .with_user(self.manager)
            ._render_qweb_html(
                "spa_session_protocol.action_report_compliance_summary", wizard.ids
            )
        )
        doc = lxml_html.fromstring(html.decode())
        header = doc.xpath("(//table[contains(@class, 'o_spa_summary_table')])[1]")[0]
        columns = [" ".join(th.text_content().split()) for th in header.xpath(".//th")]
        [total_row] = header.xpath("./tbody/tr")
        cells = dict(
            zip(
                columns,
                [" ".join(td.text_content().split()) for td in total_row.xpath("./td")],
                strict=True,
            )
        )
        self.assertEqual(cells["Blocked attempts"], str(total["refusals"]))
        self.assertEqual(cells["Sessions"], str(total["sessions"]))
        self.assertEqual(cells["Pending"], str(total["pending"]))
        self.assertNotIn(".0", cells["Blocked attempts"] + cells["Missing check-ins"])

    def test_referral_follow_up_goes_to_a_spa_manager(self):
        admin = self.env.ref("base.user_admin")
        self.assertTrue(admin.has_group("spa_session_protocol.group_spa_manager"))
        session = self.started_session()
        session.write({"positioning": "seated"})
        self.tick(session, *self.MANDATORY[:5])
        self.checkin(session, "Stabilise and apply pressure", pain=9)
        session.action_stop()
        followup = session.sudo().activity_ids
        self.assertEqual(len(followup), 1)
        self.assertNotEqual(followup.user_id, admin)
        self.assertTrue(
            followup.user_id.has_group("spa_session_protocol.group_spa_manager")
        )
        self.assertFalse(followup.user_id.has_group("base.group_system"))
        self.assertIn(session.company_id, followup.user_id.company_ids)


MANAGER_SCREEN = "1366x768"
ANALYSIS_URL = "/odoo/action-spa_session_protocol.spa_compliance_report_action"


@tagged("post_install", "-at_install", "spa_compliance")
class TestManagerUi(ManagerReadingCommon, HttpCase):
    """The manager's reading in Chromium at 1366x768: the rate's label and
    value, the graph's colours, the empty blocked attempts, the summary's
    period and its wizard closing on Print."""

    def test_tour_manager_reading(self):
        if not shutil.which("wkhtmltopdf"):
            self.skipTest("wkhtmltopdf is not installed: Print opens the HTML")
        self.rita_sessions()
        self.browser_size = MANAGER_SCREEN
        self.start_tour(
            ANALYSIS_URL, "spa_manager_reading", login="spa_mgr", timeout=180
        )


@tagged("post_install", "-at_install", "spa_screenshots")
@unittest.skipUnless(
    os.environ.get("SPA_SCREENSHOTS_DIR"),
    "set SPA_SCREENSHOTS_DIR (scripts/screenshots)",
)
class TestManagerScreenshots(ManagerReadingCommon, HttpCase):
    """The manager's screens at 1366x768, for review (scripts/screenshots)."""

    SCREENS = {
        "analysis": "spa_manager_shot_analysis",
        "graph": "spa_manager_shot_graph",
        "summary": "spa_manager_shot_summary",
    }

    def test_screenshots(self):
        out = pathlib.Path(os.environ["SPA_SCREENSHOTS_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        self.rita_sessions()
        self.browser_size = MANAGER_SCREEN
        for screen, tour in self.SCREENS.items():
            png = shoot_tour(self, ANALYSIS_URL, tour, "spa_mgr")
            (out / f"manager_{screen}_{MANAGER_SCREEN}.png").write_bytes(png)
