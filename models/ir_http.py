import logging

from odoo import http, models

_logger = logging.getLogger(__name__)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def _register_hook(self):
        super()._register_hook()
        # The map of the modules' static folders is built from every
        # manifest on the first static request, by each request thread that
        # gets there first. Python 3.11 before 3.11.8 cannot build syntax
        # trees in two threads at once (gh-106905): build the map once here,
        # in the thread that loads the registry, before any request.
        statics = http.root.statics
        _logger.debug("%s static folders mapped", len(statics))
