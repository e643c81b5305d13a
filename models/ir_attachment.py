from odoo import api, models

from .spa_write_policy_mixin import is_server_granted


class IrAttachment(models.Model):
    """The files behind the addon's binary fields (a consent's signature) are
    part of their record: writing, replacing or deleting one is a write of that
    field, judged by the record's declared write policy."""

    _inherit = "ir.attachment"

    @api.model
    def _spa_guard_field_values(self, items):
        """``items``: (res_model, res_id, res_field) of field attachments being
        created, changed or deleted; refuse those the record's policy refuses."""
        by_record = {}
        for res_model, res_id, res_field in items:
            if not (res_model and res_id and res_field) or res_model not in self.env:
                continue
            Model = self.env[res_model]
            if not isinstance(Model, self.env.registry["spa.write.policy.mixin"]):
                continue
            if res_field not in Model._spa_guarded_fields():
                continue
            by_record.setdefault((res_model, res_field), set()).add(res_id)
        for (res_model, res_field), ids in by_record.items():
            records = self.env[res_model].browse(ids).exists()
            if not records or is_server_granted(records, {res_field}, "write"):
                continue
            # A value that can never be the stored one: any change is judged.
            records._spa_check_write_policy({res_field: object()})

    def _spa_field_items(self):
        # sudo: the owning record decides, not the attachment's readability.
        return [(a.res_model, a.res_id, a.res_field) for a in self.sudo()]

    @api.model_create_multi
    def create(self, vals_list):
        self._spa_guard_field_values(
            [
                (vals.get("res_model"), vals.get("res_id"), vals.get("res_field"))
                for vals in vals_list
            ]
        )
        return super().create(vals_list)

    def write(self, vals):
        items = self._spa_field_items()
        if {"res_model", "res_id", "res_field"} & set(vals):
            items += [
                (
                    vals.get("res_model", a.res_model),
                    vals.get("res_id", a.res_id),
                    vals.get("res_field", a.res_field),
                )
                for a in self.sudo()
            ]
        self._spa_guard_field_values(items)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_field_attachments(self):
        self._spa_guard_field_values(self._spa_field_items())
