"""Field lists of ``spa.session`` that several model files read with.

A module of names only: it defines no model, so importing it does not change
the order in which the session's model classes are defined.
"""

# What the rules' facts read of a session (``_rule_facts``): an operation
# that reads the session as superuser reads these in one query, rather than
# every stored field of the session.
RULE_SESSION_FIELDS = [
    "name",
    "state",
    "partner_id",
    "therapist_id",
    "protocol_id",
    "company_id",
    "consent_id",
    "intake_id",
    "date_start",
    "date_done",
    "min_checkin_count",
    "pain_stop_threshold",
]
# The stored counters recomputed from those facts when a line or check-in
# changes: read with the session, so that a value the recompute finds
# unchanged is not written again.
RULE_COUNTER_FIELDS = [
    "checkin_count",
    "checkin_required_count",
    "checkin_missing_count",
]
