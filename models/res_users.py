from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from .spa_room import SECRET_GROUP
from .spa_write_policy_mixin import MANAGER_GROUP

PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 8
PIN_MAX_TRIES = 5
PIN_LOCK_MINUTES = 5

# Where each spa role lands after logging in (its home action), the first
# group a user holds deciding: a manager reads the compliance analysis, a
# therapist opens the tablet's session runner, the front desk the day's
# appointments of every therapist.
SPA_HOME_ACTIONS = (
    (MANAGER_GROUP, "spa_session_protocol.spa_compliance_report_action"),
    (
        "spa_session_protocol.group_spa_therapist",
        "spa_session_protocol.spa_session_runner_action",
    ),
    (
        "spa_session_protocol.group_spa_front_desk",
        "spa_session_protocol.calendar_event_action_spa",
    ),
)


class ResUsers(models.Model):
    _name = "res.users"
    _inherit = ["res.users", "spa.write.policy.mixin"]

    # Default-deny for the addon's fields (see spa.write.policy.mixin): the
    # PIN's hash and the kiosk's count of wrong tries are the server's, written
    # by the PIN's inverse and the kiosk's unlock; nobody writes them directly.
    _spa_guard_own_fields_only = True
    _spa_create_policy = {}
    _spa_write_policy = {}

    spa_pin = fields.Char(
        string="Kiosk PIN",
        compute="_compute_spa_pin",
        inverse="_inverse_spa_pin",
        copy=False,
        help="4 to 8 digits that unlock the treatment room's tablet for you. "
        "Stored hashed: nobody can read it, a new one replaces it.",
    )
    spa_has_pin = fields.Boolean(
        string="Has a Kiosk PIN", compute="_compute_spa_has_pin"
    )
    spa_pin_hash = fields.Char(
        string="Kiosk PIN Hash", groups=SECRET_GROUP, copy=False, readonly=True
    )
    spa_pin_failed_count = fields.Integer(
        string="Wrong Kiosk PIN Tries", groups=SECRET_GROUP, copy=False, readonly=True
    )
    spa_pin_locked_until = fields.Datetime(
        string="Kiosk Locked Until", groups=SECRET_GROUP, copy=False, readonly=True
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["spa_pin", "spa_has_pin"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["spa_pin"]

    @api.model_create_multi
    def create(self, vals_list):
        users = super().create(vals_list)
        users._spa_set_home_actions()
        return users

    def write(self, vals):
        res = super().write(vals)
        if any(
            key == "groups_id" or key.startswith(("in_group_", "sel_groups_"))
            for key in vals
        ):
            self._spa_set_home_actions()
        return res

    def _spa_set_home_actions(self):
        """Each spa user lands where their work is: the home action of their
        highest spa role, unless they (or an administrator) chose another
        one; a user whose spa role changes follows it."""
        homes = []
        for group_xmlid, action_xmlid in SPA_HOME_ACTIONS:
            action = self.env.ref(action_xmlid, raise_if_not_found=False)
            if action:
                homes.append((group_xmlid, action))
        ours = {action.id for __, action in homes}
        # The administrator runs the whole database, not only the spa: they
        # keep Odoo's landing.
        admins = self.env.ref("base.user_admin", raise_if_not_found=False)
        admins = (admins or self.browse()) | self.browse(SUPERUSER_ID)
        # sudo: the home action is set by the server for the spa roles, not
        # by the rights of whoever changed the groups.
        for user in (self - admins).sudo().filtered(lambda u: not u.share):
            if user.action_id and user.action_id.id not in ours:
                continue
            home = next(
                (action for group, action in homes if user.has_group(group)), None
            )
            if home and user.action_id != home:
                user.action_id = home.id
            elif not home and user.action_id:
                user.action_id = False

    @api.model
    def _spa_set_home_actions_all(self):
        """At install and update: the existing users of the spa groups."""
        groups = self.env.ref("spa_session_protocol.group_spa_front_desk")
        groups |= self.env.ref("spa_session_protocol.group_spa_therapist")
        self.with_context(active_test=False).search(
            [("groups_id", "in", groups.ids)]
        )._spa_set_home_actions()

    def _compute_spa_pin(self):
        # Never readable: the field only takes a new PIN.
        self.spa_pin = False

    @api.depends("spa_pin_hash")
    def _compute_spa_has_pin(self):
        # sudo: whether a PIN is set is no secret; its hash is.
        for user, user_sudo in zip(self, self.sudo(), strict=True):
            user.spa_has_pin = bool(user_sudo.spa_pin_hash)

    def _inverse_spa_pin(self):
        for user in self:
            # An empty PIN removes it (as _spa_set_pin says).
            user._spa_set_pin(user.spa_pin or "")
        # The PIN typed never stays readable, not even in this transaction.
        self.invalidate_recordset(["spa_pin"])

    def _spa_set_pin(self, pin):
        """The one place a kiosk PIN is written (stored hashed); an empty
        ``pin`` removes it.

        A PIN is the user's own secret: only the user themselves sets one
        (else whoever set it could unlock their sessions at the kiosk as
        them). A spa manager may only clear another user's PIN, who then
        sets a new one. The superuser (the server's own paths: data files,
        the shell) is not a caller and is not limited.
        """
        self.ensure_one()
        is_self = self.id == self.env.uid
        if pin and not (self.env.su or is_self):
            raise AccessError(
                self.env._(
                    "Only %(user)s can set %(user)s's kiosk PIN: a spa manager may "
                    "only reset it, and %(user)s then sets a new one.",
                    user=self.display_name,
                )
            )
        if not pin and not (
            self.env.su or is_self or self.env.user.has_group(MANAGER_GROUP)
        ):
            raise AccessError(
                self.env._(
                    "Only %(user)s or a spa manager can reset %(user)s's kiosk PIN.",
                    user=self.display_name,
                )
            )
        vals = {"spa_pin_failed_count": 0, "spa_pin_locked_until": False}
        if pin:
            if (
                not isinstance(pin, str)
                or not pin.isascii()
                or not pin.isdigit()
                or not PIN_MIN_LENGTH <= len(pin) <= PIN_MAX_LENGTH
            ):
                raise ValidationError(
                    self.env._(
                        "A kiosk PIN is %(min)s to %(max)s digits.",
                        min=PIN_MIN_LENGTH,
                        max=PIN_MAX_LENGTH,
                    )
                )
            vals["spa_pin_hash"] = self._crypt_context().hash(pin)
        else:
            vals["spa_pin_hash"] = False
        # sudo: the hash belongs to no group; only this path writes it.
        self.sudo()._write_server(vals)

    def action_spa_set_pin(self, pin):
        """Set one's own kiosk PIN (refused for anyone else's)."""
        self.ensure_one()
        self._spa_set_pin(pin)
        return True

    def action_spa_reset_pin(self):
        """Clear the kiosk PIN of each user (themselves or a spa manager, who
        may not write users otherwise): the user then sets a new one."""
        for user in self:
            user._spa_set_pin("")
        return True

    def _spa_kiosk_verify_pin(self, pin):
        """Check ``pin`` for the kiosk; returns an error message, or None when
        it is right. Five wrong tries lock the user on every kiosk for five
        minutes; the count is kept on the server."""
        self.ensure_one()
        # sudo: the PIN's hash and the count of tries are the server's.
        user_sudo = self.sudo()
        now = fields.Datetime.now()
        if user_sudo.spa_pin_locked_until and user_sudo.spa_pin_locked_until > now:
            minutes = (user_sudo.spa_pin_locked_until - now).seconds // 60 + 1
            return self.env._(
                "Too many wrong PINs: %(user)s is locked out of the kiosk for "
                "%(minutes)s more minute(s).",
                user=self.display_name,
                minutes=minutes,
            )
        if not user_sudo.spa_pin_hash:
            return self.env._(
                "%(user)s has no kiosk PIN yet: %(user)s sets one in their "
                "preferences.",
                user=self.display_name,
            )
        valid = (
            isinstance(pin, str)
            and 0 < len(pin) <= 64
            and self._crypt_context().verify(pin, user_sudo.spa_pin_hash)
        )
        if valid:
            if user_sudo.spa_pin_failed_count or user_sudo.spa_pin_locked_until:
                user_sudo._write_server(
                    {"spa_pin_failed_count": 0, "spa_pin_locked_until": False}
                )
            return None
        count = user_sudo.spa_pin_failed_count + 1
        if count >= PIN_MAX_TRIES:
            user_sudo._write_server(
                {
                    "spa_pin_failed_count": 0,
                    "spa_pin_locked_until": now + timedelta(minutes=PIN_LOCK_MINUTES),
                }
            )
            return self.env._(
                "Wrong PIN %(count)s times: %(user)s is locked out of the kiosk for "
                "%(minutes)s minutes.",
                count=PIN_MAX_TRIES,
                user=self.display_name,
                minutes=PIN_LOCK_MINUTES,
            )
        user_sudo._write_server({"spa_pin_failed_count": count})
        return self.env._(
            "Wrong PIN. %(left)s tries left before the kiosk locks %(user)s out.",
            left=PIN_MAX_TRIES - count,
            user=self.display_name,
        )
