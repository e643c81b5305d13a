from odoo.tests import tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_body_regions")
class TestRegistryCache(SpaCommon):
    """Body regions and qualifications are read through the registry's
    cache (spa.registry.cache.mixin): a creation, a change, a translation or
    a deletion is seen by the next read, in every language."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")

    def qualification_names(self, lang="en_US"):
        return (
            self.env["spa.qualification"]
            .with_user(self.therapist)
            .with_context(lang=lang)
            ._spa_names()
        )

    def chart_names(self, lang="en_US"):
        regions = (
            self.env["spa.body.region"]
            .with_user(self.therapist)
            .with_context(lang=lang)
        )
        return {row["id"]: row["name"] for row in regions._spa_chart_payload()}

    def sensitive_ids(self):
        return (
            self.env["spa.body.region"].with_user(self.therapist)._spa_sensitive_ids()
        )

    def test_qualification_names_follow_every_change(self):
        self.qualification_names()  # in the registry's cache
        qualification = (
            self.env["spa.qualification"]
            .with_user(self.manager)
            .create({"name": "Hot stones"})
        )
        self.assertEqual(self.qualification_names()[qualification.id], "Hot stones")
        qualification.write({"name": "Hot stones, level 2"})
        self.assertEqual(
            self.qualification_names()[qualification.id], "Hot stones, level 2"
        )
        self.qualification_names("fr_FR")
        qualification.update_field_translations(
            "name", {"fr_FR": "Pierres chaudes, niveau 2"}
        )
        self.assertEqual(
            self.qualification_names("fr_FR")[qualification.id],
            "Pierres chaudes, niveau 2",
        )
        qualification.unlink()
        self.assertNotIn(qualification.id, self.qualification_names())

    def test_region_chart_and_sensitive_ids_follow_every_change(self):
        self.chart_names()  # in the registry's cache
        self.sensitive_ids()
        region = (
            self.env["spa.body.region"]
            .with_user(self.manager)
            .create({"name": "Left calf", "code": "test_left_calf", "side": "back"})
        )
        self.assertEqual(self.chart_names()[region.id], "Left calf")
        self.assertNotIn(region.id, self.sensitive_ids())
        region.write({"name": "Calf", "is_sensitive": True})
        self.assertEqual(self.chart_names()[region.id], "Calf")
        self.assertIn(region.id, self.sensitive_ids())
        self.chart_names("fr_FR")
        region.update_field_translations("name", {"fr_FR": "Mollet"})
        self.assertEqual(self.chart_names("fr_FR")[region.id], "Mollet")
        region.unlink()
        self.assertNotIn(region.id, self.chart_names())
        self.assertNotIn(region.id, self.sensitive_ids())
