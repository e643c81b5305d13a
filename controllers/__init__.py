from . import portal
from . import tablet
