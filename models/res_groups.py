from odoo import models

SPA_GROUPS = (
    "spa_session_protocol.group_spa_front_desk",
    "spa_session_protocol.group_spa_therapist",
    "spa_session_protocol.group_spa_manager",
)


class ResGroups(models.Model):
    _inherit = "res.groups"

    def write(self, vals):
        if "users" not in vals:
            return super().write(vals)
        # Users added to (or removed from) a spa group from the group itself
        # land where their new role's work is (res.users._spa_set_home_actions).
        spa_groups = self.browse()
        for xmlid in SPA_GROUPS:
            spa_groups |= self.env.ref(xmlid, raise_if_not_found=False) or self.browse()
        spa_groups &= self
        before = spa_groups.users
        res = super().write(vals)
        (before | spa_groups.users)._spa_set_home_actions()
        return res
