from datetime import timedelta

from odoo import Command, fields
from odoo.tests import tagged

from .common import SpaCommon


@tagged("post_install", "-at_install", "spa_body_regions")
class TestRegistryCache(SpaCommon):
    """Body regions, qualifications and the protocols' steps a booking
    copies are read through the registry's cache (spa.registry.cache.mixin):
    a creation, a change, a translation or a deletion is seen by the next
    read, in every language."""

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

    def checklist(self, lang="en_US"):
        """The checklist a new booking copies, as ``{step id: (line name,
        touched region ids)}``."""
        start = self.next_start()
        event = (
            self.env["calendar.event"]
            .with_user(self.front_desk)
            .with_context(lang=lang)
            .create(
                {
                    "name": "Checklist",
                    "start": start,
                    "stop": start + timedelta(minutes=50),
                    "spa_protocol_id": self.protocol.id,
                    "spa_client_id": self.client.id,
                    "spa_therapist_id": self.therapist.id,
                }
            )
        )
        lines = self.session_of(event).step_ids
        return {
            line.protocol_step_id.id: (
                line.name,
                frozenset(line.touched_region_ids.ids),
            )
            for line in lines
        }

    def next_start(self):
        self._start = getattr(self, "_start", fields.Datetime.now()) + timedelta(
            hours=2
        )
        return self._start

    def test_booking_copies_the_steps_as_they_are_now(self):
        """A booking copies the protocol's steps from the registry's cache:
        a step created, renamed, given other regions, translated or deleted
        is what the next booking copies."""
        steps = self.protocol.step_ids.with_user(self.manager)
        first, last = steps[0], steps[-1]
        self.assertEqual(self.checklist()[first.id][0], first.name)  # in cache
        self.checklist("fr_FR")
        first.write({"name": "Prepare the client (renamed)"})
        self.assertEqual(self.checklist()[first.id][0], "Prepare the client (renamed)")
        region = self.env["spa.body.region"].search([], limit=1)
        first.write({"body_region_ids": [Command.set(region.ids)]})
        self.assertEqual(self.checklist()[first.id][1], frozenset(region.ids))
        first.update_field_translations("name", {"fr_FR": "Préparer le client"})
        self.assertEqual(self.checklist("fr_FR")[first.id][0], "Préparer le client")
        added = (
            self.env["spa.protocol.step"]
            .with_user(self.manager)
            .create({"protocol_id": self.protocol.id, "name": "Rest", "sequence": 999})
        )
        self.assertEqual(self.checklist()[added.id][0], "Rest")
        last.unlink()
        copied = self.checklist()
        self.assertNotIn(last.id, copied)
        self.assertEqual(len(copied), len(self.protocol.step_ids))
