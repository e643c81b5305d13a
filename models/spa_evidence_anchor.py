import base64
import logging

import requests

from odoo import api, fields, models

from ..tools import timestamp
from ..tools.verify_evidence import merkle_root, token_digest

_logger = logging.getLogger(__name__)

# Seconds the time-stamping authority has to answer.
TSA_TIMEOUT = 15


class SpaEvidenceAnchor(models.Model):
    """A company's evidence chain head, fixed at a moment.

    The daily scheduled action records, for each company whose chain grew,
    the place and hash of its last link and the Merkle root over the links
    since the previous anchor; when the company names a time-stamping
    authority, an RFC 3161 token over that root, signed by the authority,
    proves the links existed as they are at that time. Whoever can write the
    database can recompute the whole chain, but not the authority's token:
    a rewrite after an anchor is found by the integrity check and by the
    offline verifier. An anchor is evidence: nobody edits or deletes it.
    """

    _name = "spa.evidence.anchor"
    _description = "Spa Evidence Anchor"
    # Default-deny (see spa.write.policy.mixin): nothing is declared; anchors
    # are created by _anchor_companies only, never edited or deleted, sudo()
    # included.
    _inherit = ["spa.write.policy.mixin"]
    _order = "company_id, chain_sequence desc"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company", required=True, index=True, ondelete="restrict", readonly=True
    )
    date = fields.Datetime(
        string="Anchored At", required=True, default=fields.Datetime.now, readonly=True
    )
    first_sequence = fields.Integer(
        string="First Place",
        required=True,
        readonly=True,
        help="First place of the chain this anchor covers (the one after the "
        "previous anchor).",
    )
    chain_sequence = fields.Integer(
        string="Chain Head Place",
        required=True,
        readonly=True,
        help="Place of the company's last finished session when anchored.",
    )
    chain_hash = fields.Char(
        string="Chain Head Hash",
        required=True,
        readonly=True,
        help="Evidence hash of the last finished session when anchored.",
    )
    merkle_root = fields.Char(
        required=True,
        readonly=True,
        help="Root of the Merkle tree (RFC 6962) over the evidence hashes of the "
        "places this anchor covers, in chain order.",
    )
    tsa_url = fields.Char(
        string="Time-Stamping Authority",
        readonly=True,
        help="The RFC 3161 service that stamped the root.",
    )
    tsa_token = fields.Binary(
        string="Timestamp Token",
        attachment=False,
        readonly=True,
        help="RFC 3161 timestamp token (DER) over the Merkle root.",
    )
    tsa_time = fields.Datetime(
        string="Stamped At",
        readonly=True,
        help="The time the authority put in its token.",
    )

    _sql_constraints = [
        (
            "company_sequence_uniq",
            "UNIQUE(company_id, chain_sequence)",
            "A place of a chain is anchored once.",
        ),
        (
            "range_check",
            "CHECK(first_sequence >= 1 AND chain_sequence >= first_sequence)",
            "An anchor covers at least one place of its chain.",
        ),
    ]

    @api.depends("company_id", "chain_sequence")
    def _compute_display_name(self):
        for anchor in self:
            anchor.display_name = self.env._(
                "%(company)s, places %(first)s-%(last)s",
                company=anchor.company_id.name,
                first=anchor.first_sequence,
                last=anchor.chain_sequence,
            )

    # ------------------------------------------------------------------
    # Anchoring
    # ------------------------------------------------------------------

    def action_anchor_now(self):
        """Anchor the chains of the manager's companies now (as the daily
        action does), e.g. before exporting today's sessions; managers
        only. The list's header button calls it on the selection, which
        does not matter."""
        companies = self.env["spa.session"]._evidence_check_companies()
        anchors = self._anchor_companies(companies)
        if anchors:
            message = self.env._(
                "%(count)s chain(s) anchored.", count=len(anchors.company_id)
            )
            kind = "success"
        else:
            message = self.env._(
                "Nothing to anchor: no session finished since the last anchor, or "
                "the time-stamping authority did not answer."
            )
            kind = "warning"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": kind,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    @api.model
    def _cron_anchor_chains(self):
        """Daily: anchor the chain head of every company whose chain grew."""
        companies = self.env["res.company"].sudo().search([])
        return self._anchor_companies(companies)

    @api.model
    def _anchor_companies(self, companies):
        """Anchor each company of ``companies`` whose chain grew since its
        last anchor; returns the new anchors. A company whose authority does
        not answer is left for the next run (its next anchor covers more)."""
        anchors = self.browse()
        companies = companies.sudo()
        companies.invalidate_recordset(
            ["spa_evidence_sequence", "spa_evidence_head_hash"]
        )
        last = self._last_anchors(companies)
        for company in companies:
            head = company.spa_evidence_sequence or 0
            first = last[company.id].chain_sequence + 1 if company.id in last else 1
            if head < first:
                continue
            hashes = self._chain_hashes(company, first, head)
            root = merkle_root(hashes)
            vals = {
                "company_id": company.id,
                "date": fields.Datetime.now(),
                "first_sequence": first,
                "chain_sequence": head,
                "chain_hash": company.spa_evidence_head_hash,
                "merkle_root": root,
            }
            if company.spa_tsa_url:
                try:
                    token, stamped_at = self._request_timestamp(
                        company.spa_tsa_url, root
                    )
                except (requests.RequestException, timestamp.TimestampError) as err:
                    _logger.warning(
                        "Evidence anchor of company %s not made: the time-stamping "
                        "authority %s failed: %s",
                        company.id,
                        company.spa_tsa_url,
                        err,
                    )
                    continue
                vals.update(
                    tsa_url=company.spa_tsa_url,
                    tsa_token=base64.b64encode(token),
                    # naive UTC, as Odoo stores datetimes
                    tsa_time=stamped_at.replace(tzinfo=None),
                )
            # sudo: the server records the anchor, whoever triggers it.
            anchors |= self.sudo()._create_server([vals])
        return anchors

    @api.model
    def _last_anchors(self, companies):
        """``{company id: its last anchor}``."""
        groups = self.sudo()._read_group(
            [("company_id", "in", companies.ids)],
            ["company_id"],
            ["chain_sequence:max"],
        )
        last = {company.id: place for company, place in groups}
        anchors = self.sudo().search(
            [
                ("company_id", "in", companies.ids),
                ("chain_sequence", "in", list(last.values()) or [0]),
            ]
        )
        return {
            anchor.company_id.id: anchor
            for anchor in anchors
            if last.get(anchor.company_id.id) == anchor.chain_sequence
        }

    @api.model
    def _chain_hashes(self, company, first, last):
        """The stored evidence hashes of places ``first``..``last`` of
        ``company``'s chain, in place order (one query)."""
        # sudo: the chain of every session of the company, whoever asks;
        # only the hashes are read.
        sessions = (
            self.env["spa.session"]
            .sudo()
            .with_context(active_test=False)
            .search_fetch(
                [
                    ("company_id", "=", company.id),
                    ("evidence_sequence", ">=", first),
                    ("evidence_sequence", "<=", last),
                ],
                ["evidence_sequence", "evidence_hash"],
                order="evidence_sequence",
            )
        )
        return [session.evidence_hash or "" for session in sessions]

    @api.model
    def _request_timestamp(self, url, root):
        """``(token der, gen_time)``: an RFC 3161 token over ``root`` from the
        authority at ``url``."""
        digest = bytes.fromhex(token_digest(root))
        request_der, nonce = timestamp.build_request(digest)
        response = requests.post(
            url,
            data=request_der,
            headers={"Content-Type": timestamp.CONTENT_TYPE_QUERY},
            timeout=TSA_TIMEOUT,
        )
        response.raise_for_status()
        return timestamp.parse_response(response.content, digest, nonce)

    # ------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------

    def _token_matches_root(self):
        """Whether the token (if any) stamps the anchor's root."""
        self.ensure_one()
        if not self.tsa_token:
            return True
        try:
            info = timestamp.token_info(base64.b64decode(self.tsa_token))
        except (timestamp.TimestampError, ValueError):
            return False
        try:
            return info["digest"] == bytes.fromhex(token_digest(self.merkle_root))
        except ValueError:
            return False

    def _bundle_values(self):
        self.ensure_one()
        return {
            "id": self.id,
            "company_id": self.company_id.id,
            "date": fields.Datetime.to_string(self.date),
            "first_sequence": self.first_sequence,
            "chain_sequence": self.chain_sequence,
            "chain_hash": self.chain_hash,
            "merkle_root": self.merkle_root,
            "tsa_url": self.tsa_url or False,
            "tsa_time": fields.Datetime.to_string(self.tsa_time)
            if self.tsa_time
            else False,
            "tsa_token": self.tsa_token.decode() if self.tsa_token else False,
        }
