"""Demo data only: the demo's sessions run at their planned times.

The demo data runs its sessions through the addon's own actions (start, tick,
log check-ins, complete or stop), so who did what is recorded as in real use;
but the server stamps each action with the moment it runs, which is the
moment the demo is installed: every session of the demo would have started
and finished within the same second, hours away from its appointment.
``spa.demo._spa_align_times`` moves what those actions stamped onto the
appointment's planned times, in the order it happened, before anyone used the
database, and chains the finished sessions' evidence again over the times
they now show.
"""

import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

_logger = logging.getLogger(__name__)

# Where a demo session's actions fall in its appointment: it starts a few
# minutes after the planned start and ends a few minutes before its end (a
# stopped session ends halfway: it was cut short).
START_AFTER = timedelta(minutes=3)
END_BEFORE = timedelta(minutes=4)
CONSENT_BEFORE = timedelta(minutes=20)


class SpaDemo(models.AbstractModel):
    _name = "spa.demo"
    _description = "Spa Demo Data Helpers"

    @api.model
    def _spa_align_times(self, event_ids):
        """``_spa_align_session_times`` for the sessions of the demo's
        appointments ``event_ids`` (read through the appointments, as the
        superuser: the demo data runs as several users in turn)."""
        self._spa_check_demo()
        events = self.env["calendar.event"].with_context(active_test=False)
        sessions = events.browse(event_ids).spa_session_ids
        _logger.info("Demo: sessions %s run at their appointments' times", sessions.ids)
        return self._spa_align_session_times(sessions)

    @api.model
    def _spa_check_demo(self):
        if not self.env.su:
            raise AccessError(self.env._("Only the demo data may align its times."))

    @api.model
    def _spa_align_session_times(self, sessions):
        """Move the moments the actions of the demo ``sessions`` stamped
        (start, ticks, check-ins, end, and the giving of the consents they
        rely on) onto their appointments' planned times, keeping their order.

        Only for the demo data, loaded as the superuser before anyone used
        the database: the evidence chain is secured again, from the first
        place these sessions held, over the times they now show.
        """
        self._spa_check_demo()
        sessions = sessions.sudo()
        now = fields.Datetime.now()
        sessions = sessions.filtered("date_start").sorted("date_start")
        finished = sessions.filtered(lambda s: s.state in ("done", "stopped"))
        for session in sessions:
            new_start = (session.date_planned + START_AFTER).replace(microsecond=0)
            if session.state == "done":
                new_end = session.date_planned_end - END_BEFORE
            elif session.state == "stopped":
                new_end = new_start + (session.date_planned_end - new_start) / 2
            else:
                new_end = min(now, session.date_planned_end)
            new_end = new_end.replace(microsecond=0)
            if new_start > now or new_end < new_start:
                raise UserError(
                    self.env._(
                        "Session %(session)s is planned in the future: its demo "
                        "times cannot be aligned.",
                        session=session.display_name,
                    )
                )
            # sudo: the demo's own records; the clinical lines are readable
            # by therapists only and the demo runs as the superuser anyway.
            session_sudo = session.sudo()
            vals = {"date_start": new_start}
            if session.date_done:
                vals["date_done"] = new_end
            session_sudo._write_server(vals)
            # The actions ran within a second or two (the server's clock has
            # whole seconds): their order is the steps' and the check-ins'
            # (a check-in follows its step), spread evenly over the session.
            steps = session_sudo.step_ids.filtered("done_at")
            moments = [
                ((step.done_at, step.sequence, 0, step.id), step) for step in steps
            ]
            for checkin in session_sudo.checkin_ids:
                step = checkin.session_step_id
                if step.done_at:
                    key = (step.done_at, step.sequence, 1, checkin.id)
                else:
                    key = (
                        checkin.device_at or checkin.create_date,
                        10**6,
                        1,
                        checkin.id,
                    )
                moments.append((key, checkin))
            moments.sort(key=lambda item: item[0])
            slot = (new_end - new_start) / (len(moments) + 1)
            for index, (__, record) in enumerate(moments, start=1):
                moment = (new_start + slot * index).replace(microsecond=0)
                if record._name == "spa.session.step":
                    record._write_server({"done_at": moment})
                    continue
                record._write_server({"device_at": moment})
                # The moment a check-in was logged is its creation date,
                # which no write changes: the demo moves it in SQL.
                record.flush_recordset()
                self.env.cr.execute(
                    "UPDATE spa_checkin SET create_date = %s WHERE id = %s",
                    [moment, record.id],
                )
                record.invalidate_recordset(["create_date"])
            consent = session_sudo.consent_id.with_context(tracking_disable=True)
            if consent.given_at and consent.given_at > new_start:
                consent._write_server({"given_at": new_start - CONSENT_BEFORE})
        if not finished:
            return True
        # Chain the finished sessions again, over the times they now show,
        # from the first place one of them held: the server's own evidence
        # columns, emptied in SQL (an empty place in the chain is NULL, which
        # no write of the ORM gives an integer), then secured as at the end.
        self.env.flush_all()
        for company in finished.company_id:
            first = min(
                finished.filtered(lambda s, c=company: s.company_id == c).mapped(
                    "evidence_sequence"
                )
            )
            tail = sessions.search(
                [
                    ("company_id", "=", company.id),
                    ("evidence_sequence", ">=", first),
                ]
            )
            self.env.cr.execute(
                """UPDATE spa_session
                      SET evidence_sequence = NULL, evidence_previous_hash = NULL,
                          evidence_text_digest = NULL, evidence_version = NULL,
                          evidence_hash = NULL
                    WHERE id IN %s""",
                [tuple(tail.ids)],
            )
            self.env.cr.execute(
                """UPDATE res_company
                      SET spa_evidence_sequence = %(before)s,
                          spa_evidence_head_hash = (
                              SELECT evidence_hash FROM spa_session
                               WHERE company_id = %(company)s
                                 AND evidence_sequence = %(before)s)
                    WHERE id = %(company)s""",
                {"before": first - 1, "company": company.id},
            )
            tail.invalidate_recordset()
            company.invalidate_recordset(
                ["spa_evidence_sequence", "spa_evidence_head_hash"]
            )
            tail.sudo()._secure_evidence()
        return True
