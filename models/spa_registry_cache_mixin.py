from odoo import api, models


class SpaRegistryCacheMixin(models.AbstractModel):
    """Configuration whose reading is kept in the registry's cache.

    Body regions (the body chart, the sensitive ids read by every tick),
    qualifications (their names on every tablet request) and protocol steps
    (what every booking copies onto its checklist) are read through
    ``tools.ormcache`` methods, which every worker keeps until the registry's
    cache is cleared. A model inheriting this mixin clears that cache (in
    every worker, through the registry's signalling) on any change of its
    records, their translations included, so that nobody reads stale names
    or charts."""

    _name = "spa.registry.cache.mixin"
    _description = "Spa Configuration Kept in the Registry Cache"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def update_field_translations(self, field_name, translations, source_lang=None):
        result = super().update_field_translations(
            field_name, translations, source_lang=source_lang
        )
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
