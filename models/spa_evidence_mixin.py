from odoo import fields, models
from odoo.exceptions import UserError


class SpaEvidenceMixin(models.AbstractModel):
    """Shared guards of the records that are evidence.

    Fields listed in ``_spa_server_fields`` prove something (who, when, in
    which state): only the records' own actions set them, through
    ``_write_server``, never a caller's ``create``/``write`` values, whatever
    the caller's rights or context.
    """

    _name = "spa.evidence.mixin"
    _description = "Spa Evidence Guards"

    _spa_server_fields = ()
    # values a caller may pass at create for a server field (defaults)
    _spa_server_defaults = {}

    def _spa_field_labels(self, fnames):
        return ", ".join(
            sorted(self._fields[f]._description_string(self.env) for f in fnames)
        )

    def _spa_check_server_vals_create(self, vals_list):
        bad = set()
        for vals in vals_list:
            for fname in self._spa_server_fields:
                if (
                    fname in vals
                    and vals[fname]
                    and vals[fname] != self._spa_server_defaults.get(fname)
                ):
                    bad.add(fname)
        if bad:
            raise UserError(
                self.env._(
                    "These fields of %(model)s are set by the record's actions and "
                    "cannot be given "
                    "at creation: %(fields)s.",
                    model=self._description,
                    fields=self._spa_field_labels(bad),
                )
            )

    def _spa_changed_fields(self, vals, fnames):
        """The fields among ``fnames`` whose value in ``vals`` differs from the
        stored value of at least one record of ``self``."""
        changed = set()
        for fname in fnames:
            if fname not in vals:
                continue
            field = self._fields[fname]
            for record in self:
                current = record[fname]
                new = vals[fname]
                if field.type == "many2one":
                    same = current.id == (
                        new.id if isinstance(new, models.BaseModel) else (new or False)
                    )
                elif field.type == "datetime":
                    same = current == (
                        fields.Datetime.to_datetime(new) if new else False
                    )
                elif field.type == "date":
                    same = current == (fields.Date.to_date(new) if new else False)
                elif field.type in ("one2many", "many2many"):
                    same = False
                else:
                    same = current == (new if new is not None else False) or (
                        not current and not new
                    )
                if not same:
                    changed.add(fname)
                    break
        return changed

    def _spa_check_server_vals_write(self, vals):
        bad = self._spa_changed_fields(vals, self._spa_server_fields)
        if bad:
            raise UserError(
                self.env._(
                    "These fields of %(model)s are set by the record's actions and "
                    "cannot be "
                    "written directly: %(fields)s.",
                    model=self._description,
                    fields=self._spa_field_labels(bad),
                )
            )
