from . import spa_compliance_report
