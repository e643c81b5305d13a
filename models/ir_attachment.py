from odoo import api, models
from odoo.exceptions import ValidationError

from .spa_write_policy_mixin import is_server_granted


class IrAttachment(models.Model):
    """The files behind the addon's guarded binary fields (a consent's
    signature) are part of their record: they are written, replaced and
    deleted only through the field itself (whose write the record's declared
    policy and constraints judge), never as attachments."""

    _inherit = "ir.attachment"

    @api.model
    def _spa_guard_field_values(self, items, target=False):
        """``items``: (res_model, res_id, res_field) of field attachments being
        created, changed or deleted; refuse those the record's policy refuses.
        ``target``: where files are created or moved to, which must be an
        existing record (a file planted at the id a record will get would
        become its field's file: a signature nobody signed)."""
        by_record = {}
        for res_model, res_id, res_field in items:
            if not (res_model and res_field) or res_model not in self.env:
                continue
            Model = self.env[res_model]
            if not isinstance(Model, self.env.registry["spa.write.policy.mixin"]):
                continue
            if res_field not in Model._spa_guarded_fields():
                continue
            # The id as the ORM will store it (a caller may send "4").
            try:
                record_id = int(res_id or 0)
            except (TypeError, ValueError):
                record_id = 0
            if record_id <= 0:
                raise ValidationError(
                    self.env._(
                        "The file of %(field)s belongs to one record of %(model)s: "
                        "%(res_id)r is not one.",
                        field=Model._fields[res_field]._description_string(self.env),
                        model=Model._description,
                        res_id=res_id,
                    )
                )
            by_record.setdefault((res_model, res_field), set()).add(record_id)
        for (res_model, res_field), ids in by_record.items():
            Model = self.env[res_model]
            records = Model.browse(ids).exists()
            if target and len(records) < len(ids):
                raise ValidationError(
                    self.env._(
                        "The file of %(field)s belongs to an existing record of "
                        "%(model)s: %(res_ids)s is none.",
                        field=Model._fields[res_field]._description_string(self.env),
                        model=Model._description,
                        res_ids=", ".join(
                            str(i) for i in sorted(ids - set(records.ids))
                        ),
                    )
                )
            if not records or is_server_granted(records, {res_field}, "attachment"):
                continue
            raise ValidationError(
                self.env._(
                    "The file of %(field)s of %(records)s is written through the "
                    "field itself, not as an attachment.",
                    field=Model._fields[res_field]._description_string(self.env),
                    records=records._spa_record_labels(),
                )
            )

    def _spa_field_items(self):
        # sudo: the owning record decides, not the attachment's readability.
        return [(a.res_model, a.res_id, a.res_field) for a in self.sudo()]

    @api.model_create_multi
    def create(self, vals_list):
        # The context's defaults are values too (default_res_field=...).
        ctx = self.env.context
        items = [
            (
                vals.get("res_model", ctx.get("default_res_model")),
                vals.get("res_id", ctx.get("default_res_id")),
                vals.get("res_field", ctx.get("default_res_field")),
            )
            for vals in vals_list
        ]
        self._spa_guard_field_values(items, target=True)
        self._spa_guard_single_file(items)
        return super().create(vals_list)

    @api.model
    def _spa_guard_single_file(self, items):
        """A guarded binary field has one file: a second one beside it (which
        of the two "is" the signature?) is refused, even where the field may
        be written (the ORM replaces the file in place)."""
        keys = {
            (res_model, int(res_id), res_field)
            for res_model, res_id, res_field in items
            if res_model
            and res_field
            and res_model in self.env
            and isinstance(
                self.env[res_model], self.env.registry["spa.write.policy.mixin"]
            )
            and res_field in self.env[res_model]._spa_guarded_fields()
        }
        for res_model, res_id, res_field in keys:
            # sudo: field attachments are hidden from search; count them all.
            count = self.sudo().search_count(
                [
                    ("res_model", "=", res_model),
                    ("res_id", "=", res_id),
                    ("res_field", "=", res_field),
                ]
            )
            if count:
                Model = self.env[res_model]
                raise ValidationError(
                    self.env._(
                        "%(record)s already has its %(field)s file; write the field "
                        "itself to replace it.",
                        record=Model.browse(res_id).sudo().display_name,
                        field=Model._fields[res_field]._description_string(self.env),
                    )
                )

    def write(self, vals):
        items = self._spa_field_items()
        if {"res_model", "res_id", "res_field"} & set(vals):
            moved = [
                (
                    vals.get("res_model", a.res_model),
                    vals.get("res_id", a.res_id),
                    vals.get("res_field", a.res_field),
                )
                for a in self.sudo()
            ]
            self._spa_guard_field_values(moved, target=True)
            self._spa_guard_single_file(moved)
        self._spa_guard_field_values(items)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_field_attachments(self):
        self._spa_guard_field_values(self._spa_field_items())
