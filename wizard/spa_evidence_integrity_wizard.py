from odoo import Command, api, fields, models


class SpaEvidenceIntegrityWizard(models.TransientModel):
    """The manager's integrity check of the finished sessions' evidence."""

    _name = "spa.evidence.integrity.wizard"
    _description = "Spa Evidence Integrity Check"

    checked_at = fields.Datetime(readonly=True)
    company_ids = fields.Many2many("res.company", string="Companies", readonly=True)
    checked_count = fields.Integer(string="Finished Sessions Checked", readonly=True)
    broken_session_ids = fields.Many2many(
        "spa.session", string="Sessions Whose Evidence Changed", readonly=True
    )
    missing_places = fields.Text(
        string="Missing Links",
        readonly=True,
        help="Places of an evidence chain that no finished session holds any "
        "more: a finished session was removed or taken out of the chain.",
    )
    broken_count = fields.Integer(compute="_compute_broken_count")
    is_intact = fields.Boolean(compute="_compute_broken_count")

    @api.depends("broken_session_ids", "missing_places")
    def _compute_broken_count(self):
        for wizard in self:
            wizard.broken_count = len(wizard.broken_session_ids)
            wizard.is_intact = not wizard.broken_session_ids and not (
                wizard.missing_places
            )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        Session = self.env["spa.session"]
        broken = Session.check_evidence_integrity()
        # sudo: a count over the companies checked, not a read of sessions.
        checked = (
            Session.sudo()
            .with_context(active_test=False)
            .search_count(
                [
                    ("state", "in", ("done", "stopped")),
                    ("company_id", "in", self.env.companies.ids),
                ]
            )
        )
        missing = Session._evidence_missing_places()
        values.update(
            missing_places="\n".join(
                self.env._(
                    "%(company)s: place(s) %(places)s",
                    company=company.name,
                    places=", ".join(str(place) for place in places),
                )
                for company, places in missing.items()
            )
            or False,
            checked_at=fields.Datetime.now(),
            company_ids=[Command.set(self.env.companies.ids)],
            checked_count=checked,
            broken_session_ids=[Command.set(broken.ids)],
        )
        return values

    def action_print(self):
        self.ensure_one()
        return self.env.ref(
            "spa_session_protocol.action_report_evidence_integrity"
        ).report_action(self)

    def action_open_broken_sessions(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Sessions Whose Evidence Changed"),
            "res_model": "spa.session",
            "view_mode": "list,form",
            "domain": [("id", "in", self.broken_session_ids.ids)],
        }
