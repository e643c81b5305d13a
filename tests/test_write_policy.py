"""The declared write policy, enumerated.

For every stored field of every model of the addon (and the addon's fields on the
models it extends: appointments, contacts, companies; and the attachment behind a
consent's signature), as each role (front desk, the session's own therapist,
another therapist, a manager, the front desk through ``sudo()``, the superuser) and
in each state, a write is tried and the outcome compared with what the model's
declaration says. The fields are found from the registry, not listed here: a field
added later is refused until it is declared, and this test covers it unedited.
"""

import base64
from datetime import timedelta

import psycopg2

from odoo import SUPERUSER_ID, Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.spa_session_protocol.models.spa_write_policy_mixin import (
    MAGIC_FIELDS,
)

from .common import SpaCommon, drawn_signature

MODULE = "spa_session_protocol"
POLICY_PHRASE = "are set by the record's actions or are not yours"
PNG_1PX = base64.b64encode(
    base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA"
        "WjR9awAAAABJRU5ErkJggg=="
    )
)
# What a given consent's signature shows: ink across the box.
SIGNED = drawn_signature()[0].encode()


class _Rollback(Exception):
    """Undo a write that went through, once its outcome is known."""


def addon_fields(model):
    """The stored fields the addon is answerable for on ``model``: all of them
    on its own models, the ones it adds on models it extends."""
    own_model = MODULE in (model._original_module or "")
    names = []
    for name, field in model._fields.items():
        if not field.store or name in MAGIC_FIELDS:
            continue
        if own_model or MODULE in (field._modules or ()):
            names.append(name)
    return sorted(names)


@tagged("post_install", "-at_install", "spa_write_policy")
class TestWritePolicy(SpaCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.env(user=SUPERUSER_ID, su=True)
        cls.other_client = cls.env["res.partner"].create({"name": "Olga Other"})
        cls.other_protocol = cls.protocol.copy(
            {"name": "Other protocol", "code": "OTH"}
        )
        # A second company, so that every many2one has another value to try.
        cls.env["res.company"].create({"name": "Other Spa"})

    # ------------------------------------------------------------------
    # Who is who: the roles the declaration names, as this test knows them
    # ------------------------------------------------------------------

    def callers(self):
        """(label, env, roles on a record whose session therapist is
        ``self.therapist``)."""
        env = self.env
        return [
            ("front desk", env(user=self.front_desk), {"front_desk"}),
            ("front desk sudo", env(user=self.front_desk, su=True), {"front_desk"}),
            (
                "own therapist",
                env(user=self.therapist),
                {"therapist", "own_therapist"},
            ),
            ("other therapist", env(user=self.therapist2), {"therapist"}),
            ("manager", env(user=self.manager), {"manager", "front_desk", "therapist"}),
            (
                "superuser",
                self.root,
                {"manager", "front_desk", "therapist", "settings"},
            ),
        ]

    def declared(self, model, roles, state):
        from fnmatch import fnmatchcase

        allowed = set()
        for role in roles:
            for pattern, fnames in model._spa_write_policy.get(role, {}).items():
                if fnmatchcase(state, pattern):
                    allowed |= set(fnames)
        return allowed

    # ------------------------------------------------------------------
    # Values that differ from the stored one
    # ------------------------------------------------------------------

    def other_value(self, record, fname):
        field = record._fields[fname]
        current = record.sudo()[fname]
        if field.type == "boolean":
            return not current
        if field.type in ("integer", "float", "monetary"):
            return (current or 0) + 3
        if field.type in ("char", "text"):
            return f"{current or ''} tampered"
        if field.type == "html":
            return "<p>tampered</p>"
        if field.type == "json":
            return {"tampered": 1}
        if field.type == "binary":
            return PNG_1PX
        if field.type == "selection":
            values = [
                v for v, __ in field._description_selection(self.env) if v != current
            ]
            return values[0]
        if field.type == "date":
            return (current or fields.Date.today()) + timedelta(days=3)
        if field.type == "datetime":
            return (current or fields.Datetime.now()) + timedelta(days=3)
        if field.type == "many2one":
            Comodel = (
                self.env[field.comodel_name].sudo().with_context(active_test=False)
            )
            other = Comodel.search([("id", "!=", current.id)], limit=1)
            self.assertTrue(other, f"no other {field.comodel_name} to try {fname}")
            return other.id
        if field.type == "many2many":
            if current:
                return [Command.clear()]
            Comodel = self.env[field.comodel_name].sudo()
            return [Command.link(Comodel.search([], limit=1).id)]
        if field.type == "one2many":
            if current:
                return [Command.unlink(current[:1].id)]
            return [Command.create({})]
        raise AssertionError(f"no test value for {field.type} field {fname}")

    def create_value(self, Model, fname):
        """A value that is not the same as leaving ``fname`` out."""
        field = Model._fields[fname]
        if field.type == "boolean":
            return True
        if field.type in ("integer", "float", "monetary"):
            return 7
        return self.other_value(Model.new({}), fname)

    def outcome(self, env, operation):
        """Run ``operation()`` as ``env`` up to the database, then undo it.
        Return the exception that refused it, or None."""
        try:
            with self.env.cr.savepoint():
                operation()
                env.flush_all()
                raise _Rollback()
        except _Rollback:
            return None
        except (AccessError, UserError, ValidationError, psycopg2.Error) as exc:
            return exc
        finally:
            self.env.invalidate_all()

    def attempt(self, env, record, vals):
        """Write ``vals`` on ``record`` as ``env`` (undone afterwards)."""
        return self.outcome(env, lambda: record.with_env(env).write(vals))

    def check_model(self, records_by_state, callers=None, therapist_of=None):
        """Try every addon field of the records (``{state: record}``) as every
        caller; assert each refusal and each allowance the declaration states."""
        model = next(iter(records_by_state.values()))
        fnames = addon_fields(model)
        self.assertTrue(fnames)
        failures = []
        tried = 0
        for label_state, record in records_by_state.items():
            # The state the declaration is keyed by, as the model tells it.
            state = record._spa_policy_state()[record.id]
            self.assertTrue(
                state.startswith(label_state.split(":")[0]) or label_state == "*",
                f"{record} is {state}, not {label_state}",
            )
            for label, env, roles in callers or self.callers():
                roles = set(roles)
                if (
                    therapist_of
                    and "own_therapist" in roles
                    and therapist_of(record) != env.user
                ):
                    roles.discard("own_therapist")
                allowed = self.declared(model, roles, state)
                for fname in fnames:
                    vals = {fname: self.other_value(record, fname)}
                    accepted = model._spa_x2many_commands.get(fname)
                    if accepted and fname in allowed:
                        # A declared x2many takes only the declared commands.
                        if any(command[0] not in accepted for command in vals[fname]):
                            allowed = allowed - {fname}
                    exc = self.attempt(env, record, vals)
                    tried += 1
                    if fname not in allowed and (
                        exc is None or isinstance(exc, psycopg2.Error)
                    ):
                        # Not refused, or refused only by the database: the
                        # write went past the policy.
                        failures.append(
                            f"{model._name}.{fname} [{state}] written by {label}, "
                            f"not declared{f' ({exc})' if exc else ''}"
                        )
                    elif fname in allowed and exc and POLICY_PHRASE in str(exc):
                        failures.append(
                            f"{model._name}.{fname} [{state}] declared for {label}, "
                            f"refused by the policy: {exc}"
                        )
        self.assertFalse(failures, "\n".join(failures))
        return tried

    def check_unlink(self, records_by_state, therapist_of=None):
        """Try deleting each record as every caller; a deletion the model's
        ``_spa_unlink_policy`` does not declare must be refused."""
        from fnmatch import fnmatchcase

        model = next(iter(records_by_state.values()))
        failures = []
        for record in records_by_state.values():
            state = record._spa_policy_state()[record.id]
            for label, env, roles in self.callers():
                roles = set(roles)
                if therapist_of and therapist_of(record) != env.user:
                    roles.discard("own_therapist")
                patterns = set()
                for role in roles:
                    patterns |= set(model._spa_unlink_policy.get(role, ()))
                declared = any(fnmatchcase(state, p) for p in patterns)
                exc = self.outcome(
                    env, lambda record=record, env=env: record.with_env(env).unlink()
                )
                if not declared and (exc is None or isinstance(exc, psycopg2.Error)):
                    failures.append(f"{model._name} [{state}] deleted by {label}")
                if declared and exc and "cannot be deleted by you" in str(exc):
                    failures.append(f"{model._name} [{state}] {label}: {exc}")
        self.assertFalse(failures, "\n".join(failures))

    # ------------------------------------------------------------------
    # Records in each state
    # ------------------------------------------------------------------

    def sessions_by_state(self):
        """One session of ``self.therapist`` in each state."""
        Session = self.env["spa.session"]
        draft = self.session_of(self.book())
        start = fields.Datetime.now() + timedelta(days=3)
        free = Session.with_user(self.front_desk).create(
            {
                "partner_id": self.client.id,
                "protocol_id": self.protocol.id,
                "therapist_id": self.therapist.id,
                "date_planned": start,
                "date_planned_end": start + timedelta(hours=1),
            }
        )
        past = Session.with_user(self.front_desk).create(
            {
                "partner_id": self.client.id,
                "protocol_id": self.protocol.id,
                "therapist_id": self.therapist.id,
                "date_planned": start - timedelta(days=9),
                "date_planned_end": start - timedelta(days=9, hours=-1),
            }
        )
        cancelled = self.session_of(self.book(partner=self.client2))
        cancelled.with_user(self.front_desk).action_cancel()
        running = self.started_session()
        done = self.started_session(partner=self.client)
        self.run_compliant_protocol(done)
        done.action_done()
        stopped = self.started_session()
        stopped.write({"positioning": "seated"})
        self.tick(stopped, *self.MANDATORY[:5])
        self.checkin(stopped, "Stabilise and apply pressure", pain=9)
        stopped.action_stop()
        return {
            "draft:booked": Session.browse(draft.id),
            "draft": Session.browse(free.id),
            "draft:past": Session.browse(past.id),
            "in_progress": Session.browse(running.id),
            "done": Session.browse(done.id),
            "stopped": Session.browse(stopped.id),
            "cancelled": Session.browse(cancelled.id),
        }

    def test_every_addon_model_declares_a_policy(self):
        """A model of the addon (or a model it adds stored fields to) without
        a declared policy would be open: there is none."""
        Mixin = self.env.registry["spa.write.policy.mixin"]
        missing = []
        for name in self.env.registry:
            model = self.env[name]
            if model._abstract:
                continue
            if addon_fields(model) and not isinstance(model, Mixin):
                missing.append(name)
        self.assertFalse(missing, f"models without a write policy: {missing}")

    def test_session_fields(self):
        sessions = self.sessions_by_state()
        tried = self.check_model(sessions, therapist_of=lambda s: s.therapist_id)
        self.assertGreaterEqual(tried, 7 * 6 * 35)

    def test_deletions(self):
        sessions = self.sessions_by_state()
        self.check_unlink(sessions, therapist_of=lambda s: s.therapist_id)
        lines = {
            f"{state}/{s.step_ids[:1].state}": s.step_ids[:1]
            for state, s in sessions.items()
        }
        self.check_unlink(lines, therapist_of=lambda line: line.session_id.therapist_id)
        self.check_unlink(
            {
                state: s.sudo().checkin_ids[:1]
                for state, s in sessions.items()
                if s.sudo().checkin_ids
            },
            therapist_of=lambda c: c.session_id.therapist_id,
        )
        given = self.give_consent(partner=self.client2)
        withdrawn = self.give_consent(partner=self.other_client)
        withdrawn.action_withdraw()
        self.check_unlink(
            {"draft": self.new_consent(), "given": given, "withdrawn": withdrawn}
        )

    def test_session_step_fields(self):
        sessions = self.sessions_by_state()
        running = sessions["in_progress"]
        running.write({"positioning": "prone_table"})
        self.tick(running, self.MANDATORY[0])
        lines = {}
        for state, session in sessions.items():
            for line in session.step_ids:
                lines.setdefault(f"{state}/{line.state}", line)
        self.assertIn("in_progress/todo", lines)
        self.assertIn("in_progress/done", lines)
        self.assertIn("done/done", lines)
        self.check_model(lines, therapist_of=lambda line: line.session_id.therapist_id)

    def test_checkin_fields(self):
        sessions = self.sessions_by_state()
        checkins = {
            state: session.sudo().checkin_ids[:1]
            for state, session in sessions.items()
            if session.sudo().checkin_ids
        }
        running = sessions["in_progress"]
        running.write({"positioning": "prone_table"})
        self.tick(running, *self.MANDATORY[:5])
        checkins["in_progress"] = self.checkin(
            running, "Stabilise and apply pressure", pain=3, note="fine"
        )
        self.assertEqual(set(checkins), {"in_progress", "done", "stopped"})
        self.check_model(checkins, therapist_of=lambda c: c.session_id.therapist_id)

    def test_consent_fields(self):
        draft = self.new_consent(method="signature", signature=PNG_1PX)
        given = self.give_consent(partner=self.client2)
        withdrawn = self.give_consent(partner=self.other_client)
        withdrawn.action_withdraw()
        self.check_model(
            {"draft": draft, "given": given.sudo(), "withdrawn": withdrawn.sudo()}
        )

    def test_configuration_fields(self):
        certification = self.env["spa.certification"].search(
            [("user_id", "=", self.therapist.id)], limit=1
        )
        for record in (
            self.other_protocol,
            self.other_protocol.step_ids[:1],
            self.qualification,
            certification,
        ):
            with self.subTest(model=record._name):
                self.check_model({"*": record})

    def test_calendar_event_spa_fields(self):
        sessions = self.sessions_by_state()
        plain = self.env["calendar.event"].create(
            {
                "name": "Team meeting",
                "start": fields.Datetime.now(),
                "stop": fields.Datetime.now() + timedelta(hours=1),
            }
        )
        self.check_model(
            {
                "none": plain,
                "draft": sessions["draft:booked"].event_id,
                "in_progress": sessions["in_progress"].event_id,
                "done": sessions["done"].event_id,
            }
        )

    def test_partner_and_company_spa_fields(self):
        self.check_model({"*": self.other_client})
        self.check_model({"*": self.env.company})

    def test_room_and_user_spa_fields(self):
        other_room = self.env["spa.room"].create({"name": "Room Two"})
        self.check_model({"*": other_room})
        self.check_model({"*": self.therapist2})
        wizard = self.env(user=self.manager)["spa.kiosk.pin.wizard"].create(
            {"user_id": self.therapist.id}
        )
        self.check_model({"*": wizard.sudo()})

    def test_refusal_and_report_rows_are_the_servers(self):
        sessions = self.sessions_by_state()
        self.env.flush_all()
        rows = self.env["spa.compliance.report"].search(
            [("session_id", "in", [s.id for s in sessions.values()])]
        )
        self.assertTrue(rows)
        for label, env, __ in self.callers():
            for fname in addon_fields(rows):
                exc = self.attempt(
                    env, rows[:1], {fname: self.other_value(rows[:1], fname)}
                )
                self.assertIsNotNone(exc, f"{label} wrote report column {fname}")

    # ------------------------------------------------------------------
    # Creation, deletion, attachments
    # ------------------------------------------------------------------

    def try_create(self, env, model_name, vals):
        """Create a ``model_name`` record as ``env`` (undone afterwards)."""
        return self.outcome(env, lambda: env[model_name].create(vals))

    def test_create_accepts_only_declared_fields(self):
        """With a valid base, every other addon field given at creation is
        refused unless the caller's create policy lists it."""
        running = self.started_session()
        bases = {
            "spa.session": {
                "partner_id": self.client.id,
                "protocol_id": self.protocol.id,
                "therapist_id": self.therapist.id,
            },
            "spa.consent": {
                "partner_id": self.client.id,
                "protocol_ids": [Command.set(self.protocol.ids)],
                "method": "verbal",
            },
            "spa.checkin": {"session_id": running.id, "pain_level": 1},
        }
        failures = []
        for model_name, base in bases.items():
            Model = self.env[model_name]
            for label, env, roles in self.callers():
                if self.try_create(env, model_name, dict(base)) is not None:
                    continue  # this caller may not create at all (rights)
                creatable = set()
                for role in roles:
                    creatable |= set(Model._spa_create_policy.get(role, ()))
                for fname in addon_fields(Model):
                    if fname in base or fname in creatable:
                        continue
                    if fname in Model._spa_create_constants:
                        continue
                    value = self.create_value(Model, fname)
                    exc = self.try_create(env, model_name, {**base, fname: value})
                    if exc is None or isinstance(exc, psycopg2.Error):
                        failures.append(f"{model_name}.{fname} given by {label}")
        self.assertFalse(failures, "\n".join(failures))

    def test_checklist_lines_are_the_servers(self):
        """Nobody creates, deletes or re-links checklist lines, on any path."""
        draft = self.session_of(self.book())
        running = self.started_session()
        line = running.step_ids[:1]
        for label, env, __ in self.callers():
            exc = self.try_create(
                env,
                "spa.session.step",
                {"session_id": draft.id, "name": "Say hello", "is_mandatory": False},
            )
            self.assertIsNotNone(exc, f"{label} created a checklist line")
            for session in (draft, running):
                for command in (
                    [Command.create({"name": "Say hello"})],
                    [Command.unlink(session.step_ids[:1].id)],
                    [Command.delete(session.step_ids[:1].id)],
                    [Command.set(session.step_ids[1:].ids)],
                    [Command.link(line.id)] if session == draft else [Command.clear()],
                ):
                    exc = self.attempt(env, session, {"step_ids": command})
                    self.assertIsNotNone(
                        exc, f"{label} reshaped {session.state} checklist: {command}"
                    )
            for session in (draft, running):
                try:
                    with self.env.cr.savepoint():
                        session.step_ids[:1].with_env(env).unlink()
                        unlinked = True
                except (AccessError, UserError):
                    unlinked = False
                self.env.invalidate_all()
                self.assertFalse(unlinked, f"{label} deleted a {session.state} line")
        self.assertEqual(len(draft.step_ids), len(self.protocol.step_ids))

    def test_signature_attachment_follows_its_consent(self):
        given = self.new_consent(method="signature", signature=SIGNED)
        given.action_give()
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "spa.consent"),
                    ("res_id", "=", given.id),
                    ("res_field", "=", "signature"),
                ]
            )
        )
        self.assertTrue(attachment)
        other = base64.b64encode(b"\x89PNG\r\n\x1a\nforged")
        for label, env, __ in self.callers():
            for vals in ({"datas": other}, {"res_id": self.new_consent().id}):
                exc = self.attempt(env, attachment, vals)
                self.assertIsNotNone(exc, f"{label} rewrote the signature: {vals}")
            try:
                with self.env.cr.savepoint():
                    attachment.with_env(env).unlink()
                    removed = True
            except (AccessError, UserError):
                removed = False
            self.env.invalidate_all()
            self.assertFalse(removed, f"{label} deleted a given consent's signature")
            exc = self.try_create(
                env,
                "ir.attachment",
                {
                    "name": "signature",
                    "res_model": "spa.consent",
                    "res_id": given.id,
                    "res_field": "signature",
                    "datas": other,
                },
            )
            self.assertIsNotNone(exc, f"{label} added a signature to a given consent")
        self.assertEqual(given.sudo().signature, SIGNED)

    def test_wizards(self):
        """The wizards are models of the addon too: a summary's period is the
        manager's; what an integrity check found is the server's."""
        manager = self.env(user=self.manager)
        summary = manager["spa.compliance.summary.wizard"].create({})
        self.check_model({"*": summary.sudo()})
        integrity = manager["spa.evidence.integrity.wizard"].create({})
        self.check_model({"*": integrity.sudo()})
        exc = self.try_create(
            manager,
            "spa.evidence.integrity.wizard",
            {"checked_count": 0, "broken_session_ids": [Command.clear()]},
        )
        self.assertIsNotNone(exc, "a manager created an integrity report of their own")

    def test_intake_spa_fields(self):
        """Rule 7's fields on Survey's models: which answers are
        contraindications is the managers'; a clearance is written by
        ``action_spa_clear`` only, never by a caller's write."""
        answer = self.env.ref("spa_session_protocol.survey_intake_q_allergy_yes")
        self.check_model({"*": answer})
        self.check_model({"*": self.intake})
        manager = self.env(user=self.manager)
        wizard = manager["spa.intake.clear.wizard"].create(
            {"user_input_id": self.intake.id, "note": "Letter"}
        )
        self.check_model({"*": wizard.sudo()})
