"""Text fields take text, on every path.

A dict or a list written to a ``Char``/``Text``/``Html`` field would be
stored as its ``repr`` (a tampered tablet or RPC call sending
``{"note": {...}}``): the addon's models where people type free text refuse
such values with a clear message instead.
"""

from odoo import api, models
from odoo.exceptions import ValidationError

TEXT_TYPES = ("char", "text", "html")


class SpaTextValuesMixin(models.AbstractModel):
    _name = "spa.text.values.mixin"
    _description = "Spa Text Values Check"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._spa_check_text_values(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._spa_check_text_values(vals)
        return super().write(vals)

    @api.model
    def _spa_check_text_values(self, vals):
        bad = sorted(
            fname
            for fname, value in vals.items()
            if value
            and fname in self._fields
            and self._fields[fname].type in TEXT_TYPES
            and not isinstance(value, str)
        )
        if bad:
            raise ValidationError(
                self.env._(
                    "These fields take text: %(fields)s.",
                    fields=", ".join(self._fields[fname].string for fname in bad),
                )
            )


class SpaSession(models.Model):
    _name = "spa.session"
    _inherit = ["spa.session", "spa.text.values.mixin"]


class SpaSessionStep(models.Model):
    _name = "spa.session.step"
    _inherit = ["spa.session.step", "spa.text.values.mixin"]


class SpaConsent(models.Model):
    _name = "spa.consent"
    _inherit = ["spa.consent", "spa.text.values.mixin"]


class SpaCheckin(models.Model):
    _name = "spa.checkin"
    _inherit = ["spa.checkin", "spa.text.values.mixin"]
