from . import portal
from . import tablet
from . import client_portal
