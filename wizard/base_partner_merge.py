from odoo import models
from odoo.exceptions import UserError


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    """Merging contacts rewrites every reference to them in the database,
    past the models' own write paths: a client's consents and treatment
    records would change client (and the evidence chain break for good).
    Clients with such records are not merged."""

    _inherit = "base.partner.merge.automatic.wizard"

    def _merge(self, partner_ids, dst_partner=None, extra_checks=True):
        Partner = self.env["res.partner"]
        partners = Partner.browse(partner_ids)
        if dst_partner:
            partners |= dst_partner
        # sudo: every record of the clients counts, readable by the user or not.
        partners_sudo = partners.sudo()
        consents = (
            self.env["spa.consent"]
            .sudo()
            .search_count([("partner_id", "in", partners_sudo.ids)])
        )
        sessions = (
            self.env["spa.session"]
            .sudo()
            .search_count(
                [("partner_id", "in", partners_sudo.ids), ("state", "!=", "cancelled")]
            )
        )
        if consents or sessions:
            raise UserError(
                self.env._(
                    "%(clients)s have consents or treatment sessions: their records "
                    "are evidence and are not merged into another contact.",
                    clients=", ".join(partners_sudo.mapped("display_name")),
                )
            )
        return super()._merge(partner_ids, dst_partner, extra_checks)
