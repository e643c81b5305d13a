from odoo import Command, api, fields, models

from ..models.spa_write_policy_mixin import ROLE_MANAGER


class SpaEvidenceIntegrityWizard(models.TransientModel):
    """The manager's integrity check of the finished sessions' evidence."""

    _name = "spa.evidence.integrity.wizard"
    _description = "Spa Evidence Integrity Check"
    # Default-deny (see spa.write.policy.mixin): nothing is declared. What the
    # check found is the server's, filled in when the wizard is created
    # (_spa_prepare_create_vals): a caller cannot create or edit a wizard that
    # prints "Intact" over a changed record.
    _inherit = ["spa.write.policy.mixin"]
    # The manager chooses only how much to check.
    _spa_create_policy = {ROLE_MANAGER: ("check_mode",)}
    _spa_unlink_policy = {ROLE_MANAGER: ("*",)}

    check_mode = fields.Selection(
        [("incremental", "Links Added Since the Last Check"), ("full", "Whole Chain")],
        string="Check",
        default="full",
        required=True,
        help="Links added since the last check: the links after the last one "
        "a check found intact are recomputed (the verified link and the number "
        "of places before it are checked too; when they changed, the whole "
        "chain is). Whole chain: every link is recomputed.",
    )
    checked_at = fields.Datetime(readonly=True)
    company_ids = fields.Many2many("res.company", string="Companies", readonly=True)
    checked_count = fields.Integer(string="Finished Sessions Checked", readonly=True)
    checked_summary = fields.Text(
        string="What Was Checked",
        readonly=True,
        help="For each company: the places of its evidence chain that were "
        "read, the chain head it recorded and the hash versions found.",
    )
    broken_session_ids = fields.Many2many(
        "spa.session", string="Sessions Whose Evidence Changed", readonly=True
    )
    missing_places = fields.Text(
        string="Missing Links",
        readonly=True,
        help="Places of an evidence chain that no finished session holds any "
        "more: a finished session was removed from the chain.",
    )
    broken_anchor_ids = fields.Many2many(
        "spa.evidence.anchor",
        string="Anchors No Longer Matching",
        readonly=True,
        help="Anchors whose recorded chain head, Merkle root or timestamp token "
        "the chain no longer gives: the chain was rewritten after they were made.",
    )
    broken_count = fields.Integer(compute="_compute_broken_count")
    is_intact = fields.Boolean(compute="_compute_broken_count")

    @api.depends("broken_session_ids", "missing_places", "broken_anchor_ids")
    def _compute_broken_count(self):
        for wizard in self:
            wizard.broken_count = len(wizard.broken_session_ids)
            wizard.is_intact = not (
                wizard.broken_session_ids
                or wizard.missing_places
                or wizard.broken_anchor_ids
            )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "checked_at" in fields_list:
            # The dialog shows what a check finds now; the saved wizard holds
            # what the server finds when it is created.
            values.update(self._spa_check_values(values.get("check_mode") or "full"))
        return values

    @api.model
    def _spa_prepare_create_vals(self, vals_list):
        vals_list = super()._spa_prepare_create_vals(vals_list)
        return [
            {**vals, **self._spa_check_values(vals.get("check_mode") or "full")}
            for vals in vals_list
        ]

    @api.model
    def _spa_check_values(self, mode="full"):
        """What a fresh integrity check finds, as the wizard's values."""
        values = {}
        Session = self.env["spa.session"]
        companies = Session._evidence_check_companies()
        results = Session._check_evidence_integrity(
            companies, incremental=mode == "incremental"
        )
        values.update(
            checked_at=results[0]["checked_at"] if results else fields.Datetime.now(),
            company_ids=[Command.set(companies.ids)],
            checked_count=sum(result["checked"] for result in results),
            checked_summary="\n".join(map(self._summary_line, results)) or False,
            missing_places="\n".join(
                self.env._(
                    "%(company)s: place(s) %(places)s",
                    company=result["company"].name,
                    places=", ".join(str(place) for place in result["missing"]),
                )
                for result in results
                if result["missing"]
            )
            or False,
            broken_anchor_ids=[
                Command.set(
                    sorted(
                        {
                            anchor.id
                            for result in results
                            for anchor in result.get("broken_anchors") or []
                        }
                    )
                )
            ],
            broken_session_ids=[
                Command.set(
                    sorted(
                        {rid for result in results for rid in result["reported_ids"]}
                    )
                )
            ],
        )
        return values

    def _summary_line(self, result):
        company = result["company"].name
        if result["mode"] == "incremental" and not result["fallback"]:
            verified = self.env._(
                "incremental check from the link at place %(place)s, found intact "
                "on %(at)s (the places up to it were not read again; that link "
                "and their number were checked)",
                place=result["verified_place"],
                at=fields.Datetime.to_string(result["verified_at"]),
            )
        elif result["fallback"]:
            verified = self.env._(
                "whole chain checked (an incremental check was asked, but %(reason)s)",
                reason=result["fallback"],
            )
        else:
            verified = self.env._("whole chain checked")
        if not result["checked"]:
            return self.env._(
                "%(company)s: %(verified)s: no link to read "
                "(chain head recorded: place %(head)s).",
                company=company,
                verified=verified,
                head=result["head"],
            )
        return self.env._(
            "%(company)s: %(verified)s: places %(first)s to %(last)s checked "
            "(%(count)s sessions), chain head recorded: place %(head)s, hash "
            "versions %(versions)s, %(anchors)s anchor(s) checked.",
            company=company,
            verified=verified,
            anchors=result.get("anchors_checked", 0),
            first=result["first"],
            last=result["last"],
            count=result["checked"],
            head=result["head"],
            versions=", ".join(str(v) for v in sorted(result["versions"])),
        )

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
