from . import spa_compliance_summary_wizard
from . import spa_evidence_integrity_wizard
from . import base_partner_merge
from . import spa_kiosk_pin_wizard
from . import spa_evidence_export_wizard
from . import spa_intake_clear_wizard
