from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    spa_retention_years = fields.Integer(
        related="company_id.spa_retention_years", readonly=False
    )
    spa_consent_link_on_booking = fields.Boolean(
        related="company_id.spa_consent_link_on_booking", readonly=False
    )
    spa_consent_link_days = fields.Integer(
        related="company_id.spa_consent_link_days", readonly=False
    )
    spa_kiosk_idle_minutes = fields.Integer(
        related="company_id.spa_kiosk_idle_minutes", readonly=False
    )
    spa_tsa_url = fields.Char(related="company_id.spa_tsa_url", readonly=False)
    spa_aftercare_enabled = fields.Boolean(
        related="company_id.spa_aftercare_enabled", readonly=False
    )
