from . import portal
from . import tablet
from . import kiosk
from . import evidence
from . import client_portal
from . import survey
from . import readonly_reports
