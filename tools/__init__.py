from . import session_rules
