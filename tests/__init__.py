from . import test_booking
from . import test_consent
from . import test_performance
from . import test_security
from . import test_session_flow
