from lxml import html

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import SpaCommon
from .test_evidence import TestEvidence

VERIFIED_FIELDS = (
    "spa_evidence_verified_sequence",
    "spa_evidence_verified_hash",
    "spa_evidence_verified_at",
)


@tagged("post_install", "-at_install", "spa_evidence")
class TestEvidenceIncremental(SpaCommon):
    """The full check and the incremental one (from the company's last
    verified link) over a chain changed in SQL before and after that link."""

    finished_session = TestEvidence.finished_session
    tamper = TestEvidence.tamper

    def setUp(self):
        super().setUp()
        self.Session = self.env["spa.session"].with_user(self.manager)
        # Four links verified by a full check, then two more.
        self.verified = self.chain(4)
        self.assertFalse(self.Session.check_evidence_integrity())
        self.assertEqual(
            self.company.spa_evidence_verified_sequence,
            self.verified[-1].evidence_sequence,
        )
        self.added = self.chain(2)

    def chain(self, count):
        sessions = self.env["spa.session"]
        for index in range(count):
            sessions |= self.finished_session(note=f"link {index}")
        return sessions.sorted("evidence_sequence")

    def full(self):
        return self.Session.check_evidence_integrity()

    def incremental(self):
        return self.Session.check_evidence_integrity(incremental=True)

    def results(self, incremental):
        self.env.flush_all()
        return self.env["spa.session"]._check_evidence_integrity(
            self.company, incremental=incremental
        )[0]

    def swap_places(self, first, second):
        a, b = first.evidence_sequence, second.evidence_sequence
        for session_id, place in ((first.id, 0), (second.id, a), (first.id, b)):
            self.tamper(
                "UPDATE spa_session SET evidence_sequence = %s WHERE id = %s",
                [place, session_id],
            )

    def delete(self, session):
        for query in (
            "DELETE FROM spa_checkin WHERE session_id = %s",
            "DELETE FROM spa_session_step WHERE session_id = %s",
            "DELETE FROM spa_session WHERE id = %s",
        ):
            self.tamper(query, [session.id])

    # ------------------------------------------------------------------
    # What each check reads
    # ------------------------------------------------------------------

    def test_incremental_check_reads_only_the_links_added(self):
        result = self.results(incremental=True)
        self.assertEqual(result["mode"], "incremental")
        self.assertFalse(result["fallback"])
        self.assertEqual(result["verified_place"], self.verified[-1].evidence_sequence)
        self.assertEqual(
            (result["first"], result["last"], result["checked"]),
            (self.added[0].evidence_sequence, self.added[-1].evidence_sequence, 2),
        )
        # It recorded its new verified link; the next one reads nothing.
        self.assertEqual(
            self.company.spa_evidence_verified_sequence,
            self.added[-1].evidence_sequence,
        )
        self.assertEqual(
            self.company.spa_evidence_verified_hash, self.added[-1].evidence_hash
        )
        self.assertEqual(self.results(incremental=True)["checked"], 0)
        full = self.results(incremental=False)
        self.assertEqual((full["mode"], full["first"]), ("full", 1))
        self.assertEqual(full["checked"], self.added[-1].evidence_sequence)

    def test_without_a_verified_link_the_incremental_check_reads_the_whole_chain(self):
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE res_company SET spa_evidence_verified_sequence = NULL, "
            "spa_evidence_verified_hash = NULL, spa_evidence_verified_at = NULL "
            "WHERE id = %s",
            [self.company.id],
        )
        self.env.invalidate_all()
        result = self.results(incremental=True)
        self.assertEqual(result["first"], 1)
        self.assertIn("nothing was verified", result["fallback"])

    # ------------------------------------------------------------------
    # After the verified link: both checks find every change
    # ------------------------------------------------------------------

    def test_tampered_link_after_the_verified_one_is_found_by_both(self):
        tampered = self.added[0]
        self.tamper(
            "UPDATE spa_checkin SET pain_level = 0 WHERE session_id = %s",
            [tampered.id],
        )
        self.assertEqual(self.incremental(), tampered)
        self.assertEqual(self.full(), tampered)
        # Nothing found intact was recorded as verified past the change.
        self.assertEqual(
            self.company.spa_evidence_verified_sequence,
            self.verified[-1].evidence_sequence,
        )

    def test_deleted_link_after_the_verified_one_is_found_by_both(self):
        removed = self.added[0]
        place = removed.evidence_sequence
        self.delete(removed)
        # Its neighbours are named, and its place is missing.
        expected = self.verified[-1] | self.added[-1]
        self.assertEqual(self.incremental(), expected)
        self.assertEqual(self.results(incremental=True)["missing"], [place])
        self.assertEqual(self.full(), expected)
        self.assertEqual(self.results(incremental=False)["missing"], [place])

    def test_reordered_links_after_the_verified_one_are_found_by_both(self):
        self.swap_places(*self.added)
        self.assertEqual(self.incremental(), self.added)
        self.assertEqual(self.full(), self.added)

    # ------------------------------------------------------------------
    # Up to the verified link
    # ------------------------------------------------------------------

    def test_deleted_link_before_the_verified_one_is_found_by_both(self):
        removed = self.verified[1]
        place = removed.evidence_sequence
        self.delete(removed)
        expected = self.verified[0] | self.verified[2]
        # The incremental check counts the places up to the verified link:
        # one is empty, so it reads the whole chain and says why.
        self.assertEqual(self.incremental(), expected)
        result = self.results(incremental=True)
        self.assertIn("hold the", result["fallback"])
        self.assertEqual(result["missing"], [place])
        self.assertEqual(self.full(), expected)

    def test_reordering_the_verified_link_is_found_by_both(self):
        last, verified = self.verified[-2:]
        self.swap_places(last, verified)
        # The link after them no longer follows the link before it either.
        expected = last | verified | self.added[0]
        self.assertEqual(self.incremental(), expected)
        self.assertIn(
            "no longer holds its hash", self.results(incremental=True)["fallback"]
        )
        self.assertEqual(self.full(), expected)

    def test_links_before_the_verified_one_are_the_full_checks(self):
        """What the incremental check does not read again: a change of the
        content, or the order, of links before the verified one (its place
        and hash, and the number of places up to it, unchanged). The full
        check finds them; the incremental one says it did not read them."""
        tampered = self.verified[1]
        self.tamper(
            "UPDATE spa_session SET stop_reason = 'other' WHERE id = %s",
            [tampered.id],
        )
        self.assertFalse(self.incremental())
        self.assertEqual(self.full(), tampered)
        self.tamper(
            "UPDATE spa_session SET stop_reason = NULL WHERE id = %s", [tampered.id]
        )
        self.assertFalse(self.full())
        self.swap_places(self.verified[0], self.verified[1])
        self.assertFalse(self.incremental())
        self.assertEqual(self.full(), self.verified[:3])

    # ------------------------------------------------------------------
    # The verified link is the server's
    # ------------------------------------------------------------------

    def test_the_verified_link_is_written_by_the_check_only(self):
        values = {
            "spa_evidence_verified_sequence": 99,
            "spa_evidence_verified_hash": "$3$forged",
            "spa_evidence_verified_at": "2020-01-01 00:00:00",
        }
        users = (
            self.front_desk,
            self.therapist,
            self.manager,
            self.env.ref("base.user_admin"),
        )
        for user in users:
            for sudo in (False, True):
                company = self.company.with_user(user)
                if sudo:
                    company = company.sudo()
                for fname, value in values.items():
                    with self.subTest(user=user.login, sudo=sudo, field=fname):
                        with self.assertRaises(AccessError):
                            with self.env.cr.savepoint():
                                company.write({fname: value})
                                company.flush_recordset()
        self.assertEqual(
            self.company.spa_evidence_verified_sequence,
            self.verified[-1].evidence_sequence,
        )

    def test_only_managers_check(self):
        for user in (self.front_desk, self.therapist):
            with self.assertRaises(AccessError):
                self.env["spa.session"].with_user(user).sudo().check_evidence_integrity(
                    incremental=True
                )

    # ------------------------------------------------------------------
    # The report says what was checked, from where and when
    # ------------------------------------------------------------------

    def test_report_says_what_the_incremental_check_read(self):
        wizard = (
            self.env["spa.evidence.integrity.wizard"]
            .with_user(self.manager)
            .create({"check_mode": "incremental"})
        )
        self.assertTrue(wizard.is_intact)
        first, last = self.added[0].evidence_sequence, self.added[-1].evidence_sequence
        verified = self.verified[-1].evidence_sequence
        self.assertIn(
            f"incremental check from the link at place {verified}",
            wizard.checked_summary,
        )
        self.assertIn(
            f"places {first} to {last} checked (2 sessions)", wizard.checked_summary
        )
        self.assertEqual(wizard.checked_count, 2)
        content, __ = (
            self.env["ir.actions.report"]
            .with_user(self.manager)
            ._render_qweb_html(
                "spa_session_protocol.report_evidence_integrity", wizard.ids
            )
        )
        text = " ".join(html.fromstring(content).text_content().split())
        self.assertIn("Links Added Since the Last Check", text)
        self.assertIn(f"places {first} to {last} checked", text)
        full = (
            self.env["spa.evidence.integrity.wizard"]
            .with_user(self.manager)
            .create({"check_mode": "full"})
        )
        self.assertIn(f"whole chain checked: places 1 to {last}", full.checked_summary)
        self.assertEqual(full.checked_count, last)
