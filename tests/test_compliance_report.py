import io
import json
from datetime import timedelta

from odoo import fields, http
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from .common import SpaCommon

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
