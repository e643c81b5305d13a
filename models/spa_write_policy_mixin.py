"""Default-deny writes for the addon's records.

Each model that inherits ``spa.write.policy.mixin`` declares, next to its fields,
which stored fields each role may give at creation and write in which state; every
other value is refused, for every caller, ``sudo()`` and any context included. The
server's own paths (the records' actions, crons) write the rest through
``_write_server`` / ``_create_server`` / ``_unlink_server``: they grant themselves
the exact records and fields for the duration of the call, in a Python context
variable that no RPC caller can set (unlike the ORM context), and then go through
the normal ``write``/``create``/``unlink``, so every other module's override
still runs.
"""

import contextvars
from contextlib import contextmanager
from fnmatch import fnmatchcase

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

FRONT_DESK_GROUP = "spa_session_protocol.group_spa_front_desk"
THERAPIST_GROUP = "spa_session_protocol.group_spa_therapist"
MANAGER_GROUP = "spa_session_protocol.group_spa_manager"
SETTINGS_GROUP = "base.group_system"

# The roles a declaration names. A user has the roles of their groups (a manager
# is also front desk and therapist); "own_therapist" is a therapist on a record of
# a session they run; "settings" is an administrator of the database's settings.
ROLE_FRONT_DESK = "front_desk"
ROLE_THERAPIST = "therapist"
ROLE_OWN_THERAPIST = "own_therapist"
ROLE_MANAGER = "manager"
ROLE_SETTINGS = "settings"
ROLES = (
    ROLE_FRONT_DESK,
    ROLE_THERAPIST,
    ROLE_OWN_THERAPIST,
    ROLE_MANAGER,
    ROLE_SETTINGS,
)
ROLE_GROUPS = {
    ROLE_FRONT_DESK: FRONT_DESK_GROUP,
    ROLE_THERAPIST: THERAPIST_GROUP,
    ROLE_MANAGER: MANAGER_GROUP,
    ROLE_SETTINGS: SETTINGS_GROUP,
}

TEXT_TYPES = ("char", "text", "html")

# Columns the ORM itself maintains; never in a caller's values.
MAGIC_FIELDS = frozenset(models.MAGIC_COLUMNS) | {"display_name"}

_GRANTS = contextvars.ContextVar("spa_write_policy_grants", default=())


@contextmanager
def _server_grant(model, ids, fnames, operation):
    """Let the server's own path ``operation`` the fields ``fnames`` of the
    records ``ids`` of ``model`` (``ids`` None: records being created)."""
    grant = (
        model,
        None if ids is None else frozenset(ids),
        frozenset(fnames),
        operation,
    )
    token = _GRANTS.set((*_GRANTS.get(), grant))
    try:
        yield
    finally:
        _GRANTS.reset(token)


def is_server_granted(records, fnames, operation):
    """Whether a server path granted ``operation`` on ``fnames`` of ``records``."""
    ids = set(records._ids)
    fnames = set(fnames)
    for model, granted_ids, granted_fields, granted_op in _GRANTS.get():
        if model != records._name or granted_op != operation:
            continue
        if granted_ids is not None and not ids <= granted_ids:
            continue
        if fnames <= granted_fields:
            return True
    return False


class SpaWritePolicyMixin(models.AbstractModel):
    """Declare what may be written; refuse everything else.

    A model declares (class attributes, fields by name):

    - ``_spa_write_policy``: ``{role: {state pattern: (fields, ...)}}``: the stored
      fields ``role`` may write while the record's policy state
      (``_spa_policy_state``) matches the pattern (``fnmatch``: ``"*"`` is any);
    - ``_spa_create_policy``: ``{role: (fields, ...)}``: the fields ``role`` may
      give when creating a record; other fields may only be absent, empty, or hold
      the constant of ``_spa_create_constants``;
    - ``_spa_unlink_policy``: ``{role: (state patterns, ...)}``: who may delete a
      record in which state.

    The guarded fields are the stored fields of the model (``_spa_guarded_fields``:
    for a model the addon only extends, the fields the addon adds). A stored field
    nobody declares is refused for everyone until it is declared.
    """

    _name = "spa.write.policy.mixin"
    _description = "Spa Default-Deny Write Policy"

    _spa_write_policy = {}
    _spa_create_policy = {}
    _spa_unlink_policy = {}
    # Values a caller may pass at creation for a field it may not give (what a
    # form sends as the default): {field: value}.
    _spa_create_constants = {}
    # Only the addon's own fields are guarded on models it extends.
    _spa_guard_own_fields_only = False
    # For declared one2many/many2many fields: the only commands accepted
    # ({field: (Command.UPDATE, ...)}); the lines' own policy then judges each.
    _spa_x2many_commands = {}

    # ------------------------------------------------------------------
    # The declaration, read
    # ------------------------------------------------------------------

    @api.model
    def _spa_guarded_fields(self):
        """Names of the stored fields the policy governs (a frozenset, kept per
        registry: fields only change with a new registry)."""
        cache = self.env.registry.__dict__.setdefault("_spa_guarded_fields", {})
        if self._name not in cache:
            cache[self._name] = frozenset(self._spa_compute_guarded_fields())
        return cache[self._name]

    @api.model
    def _spa_compute_guarded_fields(self):
        names = set()
        for name, field in self._fields.items():
            if not field.store or name in MAGIC_FIELDS:
                continue
            if self._spa_guard_own_fields_only and (
                "spa_session_protocol" not in (field._modules or ())
            ):
                continue
            names.add(name)
        return names

    @api.model
    def _spa_user_roles(self):
        """The roles the current user holds by their groups (not by sudo):
        what ``res.users.has_group`` answers for each role's group, from the
        two registry-cached lookups it makes (the user's groups, the groups'
        ids by external id) made once for every role, rather than twice per
        role: every create and write of the addon's records asks.

        This relies on Odoo 18's private ``res.users._get_group_ids`` and
        ``res.groups._get_group_definitions`` (what ``_has_group`` reads),
        for a measured need: four ``has_group`` calls took 115 us of CPU,
        these two lookups 31 us, and a tablet tick or check-in asks for the
        roles in several write-policy and access checks."""
        group_ids = self.env.user._get_group_ids()
        definitions = self.env["res.groups"]._get_group_definitions()
        return {
            role
            for role, group in ROLE_GROUPS.items()
            if definitions.get_id(group) in group_ids
        }

    def _spa_policy_therapist(self):
        """The user who runs each record's session ({record id: res.users}),
        for the ``own_therapist`` role; models tied to a session override it."""
        return {}

    def _spa_policy_state(self):
        """The state each record's policy entries are matched against
        ({record id: str}); models with a state override it."""
        return {record.id: "*" for record in self}

    def _spa_record_roles(self):
        """{record id: roles of the current user on that record}."""
        base = self._spa_user_roles()
        own = {}
        if ROLE_THERAPIST in base:
            own = self._spa_policy_therapist()
        user = self.env.user
        return {
            record.id: frozenset(
                base | ({ROLE_OWN_THERAPIST} if own.get(record.id) == user else set())
            )
            for record in self
        }

    @api.model
    def _spa_allowed_fields(self, roles, state):
        allowed = set()
        for role in roles:
            for pattern, fnames in self._spa_write_policy.get(role, {}).items():
                if fnmatchcase(state, pattern):
                    allowed.update(fnames)
        return allowed

    @api.model
    def _spa_creatable_fields(self, roles):
        allowed = set()
        for role in roles:
            allowed.update(self._spa_create_policy.get(role, ()))
        return allowed

    # ------------------------------------------------------------------
    # Helpers for messages and comparisons
    # ------------------------------------------------------------------

    def _spa_field_labels(self, fnames):
        return ", ".join(
            sorted(self._fields[f]._description_string(self.env) for f in fnames)
        )

    def _spa_record_labels(self, records=None):
        records = self if records is None else records
        # sudo: name the records refused to the caller, whatever they may read.
        return ", ".join(records.sudo().mapped("display_name"))

    def _spa_state_label(self, record_id):
        state = self._spa_policy_state().get(record_id, "*")
        if "state" in self._fields and self._fields["state"].type == "selection":
            record = self.browse(record_id)
            return dict(self._fields["state"]._description_selection(self.env)).get(
                record.state, state
            )
        return state

    def _spa_changed_fields(self, vals, fnames):
        """The fields among ``fnames`` whose value in ``vals`` differs from the
        stored value of at least one record of ``self`` (x2many commands always
        count as a change)."""
        changed = set()
        for fname in fnames:
            if fname not in vals:
                continue
            field = self._fields[fname]
            new = vals[fname]
            for record in self:
                if not self._spa_same_value(field, record[fname], new):
                    changed.add(fname)
                    break
        return changed

    @api.model
    def _spa_same_value(self, field, current, new):
        if field.type in ("one2many", "many2many"):
            return False
        if field.type == "many2one":
            return current.id == (
                new.id if isinstance(new, models.BaseModel) else (new or False)
            )
        if field.type == "datetime":
            try:
                return current == (fields.Datetime.to_datetime(new) if new else False)
            except (TypeError, ValueError):
                return False
        if field.type == "date":
            try:
                return current == (fields.Date.to_date(new) if new else False)
            except (TypeError, ValueError):
                return False
        if field.type in ("binary", "html", "text", "char", "json"):
            return (current or False) == (new or False)
        if field.type in ("integer", "float", "monetary"):
            return (current or 0) == (new or 0)
        return current == (new if new is not None else False) or (
            not current and not new and type(current) is type(new)
        )

    @api.model
    def _spa_commands_allowed(self, fname, value):
        accepted = self._spa_x2many_commands[fname]
        if not isinstance(value, list | tuple):
            return False
        return all(
            isinstance(command, list | tuple) and command and command[0] in accepted
            for command in value
        )

    @api.model
    def _spa_empty_value(self, field, value):
        """Whether ``value`` at creation is the same as not giving the field."""
        if value is None or value is False:
            return True
        if field.type in ("one2many", "many2many"):
            return value == [] or all(
                isinstance(cmd, list | tuple) and cmd and cmd[0] == 5 for cmd in value
            )
        if field.type in ("char", "text", "html", "binary"):
            return value == ""
        return False

    # ------------------------------------------------------------------
    # The guard
    # ------------------------------------------------------------------

    def _spa_check_write_policy(self, vals):
        guarded = self._spa_guarded_fields() & set(vals)
        if not guarded or not self:
            return
        roles_by_record = self._spa_record_roles()
        states = self._spa_policy_state()
        refused = {}
        for record in self:
            allowed = self._spa_allowed_fields(
                roles_by_record[record.id], states.get(record.id, "*")
            )
            denied = set(guarded - allowed)
            for fname in (guarded & allowed) & set(self._spa_x2many_commands):
                if not self._spa_commands_allowed(fname, vals[fname]):
                    denied.add(fname)
            if denied:
                # Re-sending a field's current value changes nothing.
                denied = record._spa_changed_fields(vals, denied)
            if denied:
                refused[record] = denied
        if refused:
            records = self.browse([r.id for r in refused])
            fnames = set().union(*refused.values())
            first = next(iter(refused))
            raise AccessError(
                self.env._(
                    "You cannot change %(fields)s of %(records)s (%(model)s, "
                    "%(state)s): these fields are set by the record's actions or are "
                    "not yours to change in this state.",
                    fields=self._spa_field_labels(fnames),
                    records=self._spa_record_labels(records),
                    model=self._description,
                    state=self._spa_state_label(first.id),
                )
            )

    @api.model
    def _spa_check_create_policy(self, vals_list):
        guarded = self._spa_guarded_fields()
        allowed = self._spa_creatable_fields(self._spa_user_roles())
        refused = set()
        for vals in vals_list:
            for fname in (set(vals) & guarded) - allowed:
                value = vals[fname]
                if fname in self._spa_create_constants and (
                    value == self._spa_create_constants[fname]
                ):
                    continue
                if self._spa_empty_value(self._fields[fname], value):
                    continue
                refused.add(fname)
        if refused:
            raise AccessError(
                self.env._(
                    "You cannot give %(fields)s when creating a record of %(model)s: "
                    "these fields are set by the record's actions or are not yours to "
                    "set.",
                    fields=self._spa_field_labels(refused),
                    model=self._description,
                )
            )

    def _spa_check_unlink_policy(self):
        if not self:
            return
        roles_by_record = self._spa_record_roles()
        states = self._spa_policy_state()
        refused = self.browse()
        for record in self:
            patterns = set()
            for role in roles_by_record[record.id]:
                patterns.update(self._spa_unlink_policy.get(role, ()))
            state = states.get(record.id, "*")
            if not any(fnmatchcase(state, pattern) for pattern in patterns):
                refused |= record
        if refused:
            raise AccessError(
                self.env._(
                    "%(records)s (%(model)s, %(state)s) cannot be deleted by you: "
                    "records that are evidence, or not yours to remove in this state, "
                    "are kept.",
                    records=self._spa_record_labels(refused),
                    model=self._description,
                    state=self._spa_state_label(refused[0].id),
                )
            )

    @api.model
    def _spa_prepare_create_vals(self, vals_list):
        """Hook: fill in the values the server sets at creation (references,
        who logged it), after the caller's values were checked."""
        return vals_list

    @api.model
    def _spa_guarded_fields_of_types(self, types):
        """The guarded fields of the given field types (a frozenset, kept per
        registry like ``_spa_guarded_fields``): a create of thousands of
        records asks for them once, not once per value."""
        cache = self.env.registry.__dict__.setdefault("_spa_guarded_typed", {})
        key = (self._name, tuple(sorted(types)))
        if key not in cache:
            cache[key] = frozenset(
                fname
                for fname in self._spa_guarded_fields()
                if self._fields[fname].type in types
            )
        return cache[key]

    @api.model
    def _spa_check_text_values(self, vals):
        """Text fields take text, on every path: a dict or a list (a tampered
        tablet or RPC call) would be stored as its repr."""
        text_fields = self._spa_guarded_fields_of_types(TEXT_TYPES)
        bad = sorted(
            fname
            for fname in text_fields
            if vals.get(fname) and not isinstance(vals[fname], str)
        )
        if bad:
            raise ValidationError(
                self.env._(
                    "These fields take text: %(fields)s.",
                    fields=self._spa_field_labels(bad),
                )
            )

    @api.model
    def _spa_context_defaults(self):
        """The ``default_<field>`` values of the caller's context for guarded
        fields: the ORM fills them in at creation, so they are the caller's
        values as much as the ones passed."""
        guarded = self._spa_guarded_fields()
        return {
            key[8:]: value
            for key, value in self.env.context.items()
            if key.startswith("default_") and key[8:] in guarded
        }

    @api.model
    def _spa_sequence(self):
        """``ir.sequence`` for the record's references: today's, whatever
        date a caller's context asks for (``ir_sequence_date``)."""
        context = {
            key: value
            for key, value in self.env.context.items()
            if not key.startswith("ir_sequence_date")
        }
        return self.env["ir.sequence"].with_env(self.env(context=context))

    @api.model
    def _spa_without_context_defaults(self):
        """``self`` without the caller's ``default_*`` keys: the server's own
        creations take no value from the caller's context."""
        context = {
            key: value
            for key, value in self.env.context.items()
            if not key.startswith("default_")
        }
        return self.with_env(self.env(context=context))

    # ------------------------------------------------------------------
    # Searching: a field the caller may not read is no criterion either
    # ------------------------------------------------------------------

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None):
        if not self.env.su:
            self._spa_check_domain_groups(domain)
        return super()._search(domain, offset=offset, limit=limit, order=order)

    @api.model
    def _spa_check_domain_groups(self, domain):
        """Refuse a search whose criteria name a field of a group the caller
        lacks, anywhere along a path (``step_ids.touched_region_ids``): the
        ORM checks a field's groups when it reads it, not every relation of a
        search path, and a criterion answers questions about the value."""
        for leaf in domain or ():
            if not isinstance(leaf, (list, tuple)) or len(leaf) != 3:
                continue
            path = leaf[0]
            if not isinstance(path, str):
                continue
            model = self
            for name in path.split("."):
                field = model._fields.get(name)
                if field is None:
                    break
                if field.groups and not self.env.user.has_groups(field.groups):
                    raise AccessError(
                        self.env._(
                            "You may not search on %(field)s (%(model)s).",
                            field=field.string,
                            model=model._description,
                        )
                    )
                if not field.relational:
                    break
                model = self.env[field.comodel_name]

    @api.model_create_multi
    def create(self, vals_list):
        defaults = self._spa_context_defaults()
        for vals in vals_list:
            self._spa_check_text_values({**defaults, **vals})
        if not is_server_granted(self, (), "create"):
            self._spa_check_create_policy([{**defaults, **vals} for vals in vals_list])
        # The caller's dicts stay theirs: the server's values go into copies.
        vals_list = self._spa_prepare_create_vals([dict(vals) for vals in vals_list])
        binary_fields = self._spa_guarded_fields_of_types(("binary",))
        binaries = {
            fname for vals in vals_list for fname in binary_fields if fname in vals
        }
        # The files behind guarded binary fields are written through them only.
        with _server_grant(self._name, None, binaries, "attachment"):
            return super().create(vals_list)

    def write(self, vals):
        self._spa_check_text_values(vals)
        if not is_server_granted(self, vals, "write"):
            self._spa_check_write_policy(vals)
        binaries = self._spa_guarded_fields_of_types(("binary",)) & set(vals)
        with _server_grant(self._name, self.ids, binaries, "attachment"):
            return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_spa_policy(self):
        # Deleting a record of a model the addon only extends (a contact, an
        # appointment) is that model's business, not the addon's policy.
        if self._spa_guard_own_fields_only:
            return
        if not is_server_granted(self, (), "unlink"):
            self._spa_check_unlink_policy()

    # ------------------------------------------------------------------
    # The server's own paths
    # ------------------------------------------------------------------

    def _write_server(self, vals):
        """Write ``vals`` on ``self`` past the declared policy: only the
        records' own actions and the server's duties call this."""
        with _server_grant(self._name, self.ids, vals, "write"):
            return self._spa_without_context_defaults().write(vals)

    @api.model
    def _create_server(self, vals_list):
        """Create records with server-set values (checklist lines copied from
        the protocol, log rows)."""
        with _server_grant(self._name, None, (), "create"):
            return self._spa_without_context_defaults().create(vals_list)

    def _unlink_server(self):
        """Delete ``self`` past the declared policy (a planned session's
        checklist replaced from its new protocol)."""
        with _server_grant(self._name, self.ids, (), "unlink"):
            return self.unlink()
