from . import portal
from . import tablet
from . import survey
