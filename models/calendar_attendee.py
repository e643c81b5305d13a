from odoo import Command, models


class CalendarAttendee(models.Model):
    _inherit = "calendar.attendee"

    def _subscribe_partner(self):
        """The attendees of spa appointments being booked follow them, as
        every attendee does, in one batch for all the appointments.

        Calendar subscribes the attendees through ``message_subscribe``, once
        per distinct set of attendees: two searches of the partners (active,
        external) then the existing followers, for each set. Booking gives
        each appointment its own client, so a batch of 500 appointments for
        50 clients made 50 rounds of 5 queries (issue 14, P1: 6 of the 10
        queries the attendees added to a single booking). The partners were
        read when booking (``_spa_prepare_booking_vals``): whether they are
        active and external comes from that read, the existing followers from
        one query for the batch, and the followers are created with the
        subtypes ``message_subscribe`` would give them (mail's defaults for
        the model, external ones for external partners)."""
        if not self.env.context.get("is_calendar_event_new"):
            return super()._subscribe_partner()
        booked = self.filtered(lambda a: a.event_id.spa_protocol_id)
        others = self - booked
        if others:
            super(CalendarAttendee, others)._subscribe_partner()
        events = booked.event_id
        if not events:
            return
        # As message_subscribe: the user adding followers may write the
        # appointments; the booking user (their author) follows them already.
        events.check_access("write")
        user_partner = self.env.user.partner_id
        # sudo: as message_subscribe, any active partner may follow.
        partners_sudo = (booked.partner_id - user_partner).sudo().filtered("active")
        if not partners_sudo:
            return
        Followers_sudo = self.env["mail.followers"].sudo()
        existing = {
            (res_id, partner_id)
            for __, res_id, partner_id, __ in Followers_sudo._get_subscription_data(
                [(events._name, events.ids)], partners_sudo.ids
            )
        }
        default, __, external = self.env["mail.message.subtype"].default_subtypes(
            events._name
        )
        vals_list = []
        for attendee in booked:
            key = (attendee.event_id.id, attendee.partner_id.id)
            if attendee.partner_id not in partners_sudo or key in existing:
                continue
            existing.add(key)
            subtypes = external if attendee.partner_id.sudo().partner_share else default
            vals_list.append(
                {
                    "res_model": events._name,
                    "res_id": key[0],
                    "partner_id": key[1],
                    "subtype_ids": [Command.set(subtypes.ids)],
                }
            )
        if vals_list:
            Followers_sudo.create(vals_list)
