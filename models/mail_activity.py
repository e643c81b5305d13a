from odoo import api, models
from odoo.exceptions import AccessError


class MailActivity(models.Model):
    _inherit = "mail.activity"

    @api.model
    def _spa_create_once(self, res_model, vals_list):
        """Create the reminder activities of ``vals_list`` on ``res_model``
        records, skipping those already scheduled: an activity of the same
        type, on the same record, for the same user and deadline, open or
        done (kept archived). One search for the whole batch, one create.

        :param vals_list: dicts with ``res_id``, ``activity_type_id``,
            ``user_id``, ``date_deadline``, ``summary`` and ``note``
        :return: the created activities
        """
        if not vals_list:
            return self.browse()
        # sudo: reminders are scheduled by the system for the users they
        # concern; the existing ones count whoever may read them.
        existing_sudo = (
            self.sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("res_model", "=", res_model),
                    ("res_id", "in", list({v["res_id"] for v in vals_list})),
                    (
                        "activity_type_id",
                        "in",
                        list({v["activity_type_id"] for v in vals_list}),
                    ),
                ]
            )
        )
        seen = {
            (a.res_id, a.activity_type_id.id, a.user_id.id, a.date_deadline)
            for a in existing_sudo
        }
        model_id = self.env["ir.model"]._get_id(res_model)
        to_create = []
        for vals in vals_list:
            key = (
                vals["res_id"],
                vals["activity_type_id"],
                vals["user_id"],
                vals["date_deadline"],
            )
            if key in seen:
                continue
            seen.add(key)
            to_create.append({**vals, "res_model_id": model_id, "automated": True})
        return self.sudo().create(to_create)

    # ------------------------------------------------------------------
    # The follow-ups of finished sessions (a recommended referral) are the
    # assignee's: nobody else closes or deletes them, a manager excepted.
    # ------------------------------------------------------------------

    def _spa_check_followup_owner(self):
        # sudo: the session's state decides, whether the user reads it or not.
        followups = self.sudo().filtered(
            lambda a: (
                a.res_model == "spa.session"
                and self.env["spa.session"].sudo().browse(a.res_id).state
                in ("done", "stopped")
            )
        )
        if not followups:
            return
        user = self.env.user
        if user.has_group("spa_session_protocol.group_spa_manager"):
            return
        others = followups.filtered(lambda a: a.user_id != user)
        if others:
            raise AccessError(
                self.env._(
                    "The follow-up of a finished session is closed by the person it "
                    "is assigned to (or a manager): %(activities)s.",
                    activities=", ".join(others.mapped("display_name")),
                )
            )

    def _action_done(self, feedback=False, attachment_ids=None):
        self._spa_check_followup_owner()
        return super()._action_done(feedback=feedback, attachment_ids=attachment_ids)

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_followup(self):
        self._spa_check_followup_owner()

    def write(self, vals):
        self._spa_check_followup_owner()
        return super().write(vals)
