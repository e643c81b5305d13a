from . import portal
from . import tablet
from . import kiosk
from . import evidence
