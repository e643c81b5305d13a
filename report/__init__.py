from . import spa_compliance_report
from . import spa_compliance_summary_report
from . import spa_session_record_report
