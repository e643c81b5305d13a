from odoo import api, models
from odoo.exceptions import AccessError

# What a message says: once posted on a finished session or a given consent,
# it is part of that record's history (who did what, tracked changes).
MESSAGE_CONTENT_FIELDS = (
    "body",
    "subject",
    "author_id",
    "email_from",
    "message_type",
    "subtype_id",
    "tracking_value_ids",
    "attachment_ids",
    "model",
    "res_id",
    "date",
)


class MailMessage(models.Model):
    _inherit = "mail.message"

    def _spa_frozen_history(self):
        """The messages of finished sessions and of given or withdrawn
        consents: their record's history, never rewritten or deleted."""
        # sudo: the record's state decides, whoever reads the message.
        messages_sudo = self.sudo()
        frozen = self.browse()
        for model, states in (
            ("spa.session", ("done", "stopped")),
            ("spa.consent", ("given", "withdrawn")),
        ):
            mine = messages_sudo.filtered(lambda m, model=model: m.model == model)
            if not mine:
                continue
            records = self.env[model].sudo().browse(set(mine.mapped("res_id"))).exists()
            closed = set(records.filtered(lambda r, s=states: r.state in s).ids)
            frozen |= self.browse(mine.filtered(lambda m, c=closed: m.res_id in c).ids)
        return frozen

    def write(self, vals):
        if set(vals) & set(MESSAGE_CONTENT_FIELDS):
            frozen = self._spa_frozen_history()
            if frozen:
                raise AccessError(
                    self.env._(
                        "The history of a finished session or a given consent is "
                        "kept as it was: its messages cannot be changed."
                    )
                )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_spa_history(self):
        if self._spa_frozen_history():
            raise AccessError(
                self.env._(
                    "The history of a finished session or a given consent is kept as "
                    "it was: its messages cannot be deleted."
                )
            )
