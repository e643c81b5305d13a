import base64
import hashlib
import hmac
import uuid
from datetime import datetime

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..tools import evidence
from ..tools.verify_evidence import BUNDLE_FORMAT, PAIN_CODE, merkle_proof, merkle_root

LOINC = "http://loinc.org"
PAIN_DISPLAY = "Pain severity - 0-10 verbal numeric rating"
SYSTEM = "urn:spa-session-protocol"
BUNDLE_FORMAT_VERSION = 1


def _fhir_datetime(value):
    """FHIR ``dateTime``/``instant`` of a naive UTC datetime (or its Odoo
    string), ``None`` when empty."""
    if not value:
        return None
    if isinstance(value, str):
        value = fields.Datetime.to_datetime(value)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fhir_date(value):
    if not value:
        return None
    return fields.Date.to_string(value) if not isinstance(value, str) else value


def _compact(resource):
    """``resource`` without its empty elements (FHIR has no nulls)."""
    if isinstance(resource, dict):
        compact = {}
        for key, value in resource.items():
            value = _compact(value)
            if value not in (None, "", [], {}):
                compact[key] = value
        return compact
    if isinstance(resource, list):
        return [
            item for item in map(_compact, resource) if item not in (None, "", [], {})
        ]
    return resource


class SpaSessionEvidenceMixin(models.AbstractModel):
    """Evidence anyone can verify, for ``spa.session``: a finished session
    exported as a JSON bundle an inspector checks without Odoo
    (``tools/verify_evidence.py``): an HL7 FHIR R4 Bundle of what happened,
    the exact text its evidence hash covers (the payload the integrity check
    recomputes), its place in the company's chain, and the Merkle inclusion
    proof against the anchor of its chain with the anchor's RFC 3161
    timestamp token."""

    _name = "spa.session.evidence.mixin"
    _description = "Spa Session Evidence Bundle"

    # ------------------------------------------------------------------
    # Entry points: a button (the export wizard) and RPC
    # ------------------------------------------------------------------

    def action_export_evidence(self):
        """Open the export of these sessions' evidence (managers)."""
        self._evidence_check_companies()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Export Evidence"),
            "res_model": "spa.evidence.export.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_session_ids": self.ids},
        }

    @api.model
    def get_evidence_bundle(
        self,
        session_ids=None,
        partner_id=None,
        date_from=None,
        date_to=None,
        pseudonymous=True,
    ):
        """The evidence bundle (a JSON-serialisable dict) of the finished
        sessions given by ids, of a client, or finished in a period
        (dates, the company's days, inclusive); managers only."""
        sessions = self._evidence_export_sessions(
            session_ids, partner_id, date_from, date_to
        )
        return sessions._evidence_bundle(pseudonymous=pseudonymous)

    @api.model
    def _evidence_export_sessions(
        self, session_ids=None, partner_id=None, date_from=None, date_to=None
    ):
        """The finished, secured sessions the caller may export that match
        the criteria (at least one criterion is needed)."""
        self._evidence_check_companies()
        if not (session_ids or partner_id or date_from or date_to):
            raise UserError(
                self.env._(
                    "Choose the sessions to export: give sessions, a client or a "
                    "period."
                )
            )
        domain = [
            ("state", "in", self._evidence_final_states),
            ("evidence_hash", "!=", False),
        ]
        if session_ids:
            domain.append(("id", "in", list(session_ids)))
        if partner_id:
            domain.append(("partner_id", "=", int(partner_id)))
        if date_from:
            start = datetime.combine(
                fields.Date.to_date(date_from), datetime.min.time()
            )
            domain.append(("date_done", ">=", start))
        if date_to:
            end = datetime.combine(fields.Date.to_date(date_to), datetime.max.time())
            domain.append(("date_done", "<=", end))
        # The caller's own access decides what they may export (their
        # companies; managers read every session of theirs).
        return self.search(domain)

    # ------------------------------------------------------------------
    # The bundle
    # ------------------------------------------------------------------

    def _evidence_bundle(self, pseudonymous=True):
        """A JSON-serialisable dict with the evidence of the finished
        sessions of ``self`` (others are left out): per session an HL7 FHIR
        R4 Bundle, the hash input exactly as the integrity check recomputes
        it, the session's place in its company's chain, the Merkle inclusion
        proof against the anchor covering it (if anchored yet); the chain
        links of the places involved and the anchors with their tokens.

        Managers only (``AccessError`` otherwise, ``sudo()`` included): a
        bundle discloses clinical data. With ``pseudonymous`` (the default:
        an inspector rarely needs more), the client is named by a keyed
        pseudonym only, stable within this database; without it, by name
        and contact details.
        """
        self._evidence_check_companies()
        self.check_access("read")
        # sudo: the caller is a manager who may read these sessions (checked
        # above); the evidence reads every field the hash covers.
        sessions = self.sudo().filtered(
            lambda s: s.state in self._evidence_final_states and s.evidence_hash
        )
        sessions._evidence_refresh()
        sessions = sessions.sorted(lambda s: (s.company_id.id, s.evidence_sequence))
        payloads, texts = sessions._evidence_stored_payloads()
        Anchor = self.env["spa.evidence.anchor"].sudo()
        anchors = Anchor.search(
            [("company_id", "in", sessions.company_id.ids)], order="chain_sequence"
        )
        chains = []
        entries = []
        used_anchors = Anchor.browse()
        for company in sessions.company_id:
            company_sessions = sessions.filtered(lambda s, c=company: s.company_id == c)
            company_anchors = anchors.filtered(lambda a, c=company: a.company_id == c)
            pending_first = (company_anchors[-1:].chain_sequence or 0) + 1
            head = company.sudo().spa_evidence_sequence or 0
            ranges = {}
            for session in company_sessions:
                place = session.evidence_sequence
                anchor = company_anchors.filtered(
                    lambda a, p=place: a.first_sequence <= p <= a.chain_sequence
                )[:1]
                if anchor:
                    ranges[session.id] = (
                        anchor,
                        anchor.first_sequence,
                        anchor.chain_sequence,
                    )
                else:
                    # Not anchored yet: the proof is against the root of the
                    # links since the last anchor, which the next anchor
                    # will fix.
                    ranges[session.id] = (anchor, pending_first, max(head, place))
            low = min((first for __, first, __ in ranges.values()), default=None)
            high = max((last for __, __, last in ranges.values()), default=None)
            links = self._evidence_chain_links(company, low, high)
            hashes = {link["sequence"]: link["hash"] for link in links}
            company_used = Anchor.browse()
            # One tree per anchored range (a day's links, typically): its
            # leaves and root are computed once for all its sessions.
            trees = {}
            for session in company_sessions:
                anchor, first, last = ranges[session.id]
                company_used |= anchor
                if (first, last) not in trees:
                    leaves = [hashes.get(place, "") for place in range(first, last + 1)]
                    trees[first, last] = (leaves, merkle_root(leaves))
                leaves, root = trees[first, last]
                proof = {
                    "anchor_id": anchor.id or False,
                    "first_sequence": first,
                    "leaf_index": session.evidence_sequence - first,
                    "tree_size": len(leaves),
                    "root": root,
                    "path": merkle_proof(leaves, session.evidence_sequence - first),
                }
                entries.append(
                    session._evidence_bundle_entry(
                        payloads[session.id], texts[session.id], proof, pseudonymous
                    )
                )
            used_anchors |= company_used
            chains.append(
                {
                    "company_id": company.id,
                    "company": company.name,
                    "anchor_ids": company_used.sorted("chain_sequence").ids,
                    "links": links,
                }
            )
        return {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "generated_at": _fhir_datetime(fields.Datetime.now()),
            "generated_by": self.env.user.name,
            "hash_scheme": {
                "evidence_hash": "$<version>$ + hex SHA-256 of the previous link's "
                "hex digest followed by the hash input",
                "hash_input": "JSON, keys sorted, no spaces, ASCII only; from "
                'version 4 on, the lines of a section as columns: {"columns": '
                '[field, ...], "rows": [[value, ...], ...]}',
                "merkle_tree": "RFC 6962: leaf SHA-256(0x00 || evidence hash as "
                "ASCII), node SHA-256(0x01 || left || right)",
                "timestamp": "RFC 3161 token over SHA-256 of the Merkle root "
                "(32 bytes)",
            },
            "sessions": entries,
            "chains": chains,
            "anchors": [anchor._bundle_values() for anchor in used_anchors],
        }

    @api.model
    def _evidence_chain_links(self, company, first, last):
        """The links (place, hash, previous hash) of ``company``'s chain from
        ``first`` to ``last``, in place order, as stored (one query)."""
        if first is None:
            return []
        # sudo: every link of the company's chain, whoever's session it is;
        # only hashes and places leave.
        links = (
            self.sudo()
            .with_context(active_test=False)
            .search_fetch(
                [
                    ("company_id", "=", company.id),
                    ("evidence_sequence", ">=", first),
                    ("evidence_sequence", "<=", last),
                ],
                ["evidence_sequence", "evidence_hash", "evidence_previous_hash"],
                order="evidence_sequence",
            )
        )
        return [
            {
                "sequence": link.evidence_sequence,
                "hash": link.evidence_hash,
                "previous_hash": link.evidence_previous_hash or False,
            }
            for link in links
        ]

    def _evidence_bundle_entry(self, payload, texts, proof, pseudonymous):
        self.ensure_one()
        entry = {
            "reference": self.name,
            "company_id": self.company_id.id,
            "fhir": self._evidence_fhir_bundle(payload, pseudonymous),
            "evidence": {
                "hash": self.evidence_hash,
                "previous_hash": self.evidence_previous_hash or False,
                "sequence": self.evidence_sequence,
                "version": self.evidence_version or 1,
                # The exact text the hash covers: the payload the integrity
                # check recomputes, in canonical form.
                "hash_input": evidence.canonical(payload),
            },
            "merkle_proof": proof,
        }
        if not self.anonymised_at:
            # The clinical free text, whose digest the hash input carries.
            entry["evidence"]["clinical_text"] = texts
        return entry

    # ------------------------------------------------------------------
    # HL7 FHIR R4
    # ------------------------------------------------------------------

    def _fhir_uuid(self, record, kind=""):
        """A stable uuid for ``record`` (and ``kind`` of resource) within
        this database."""
        database = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        name = f"{database}/{record._name}/{record.id}/{kind}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))

    def _fhir_pseudonym(self, partner):
        """A keyed pseudonym of the client: stable in this database, not
        reversible without its secret."""
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        return hmac.new(
            (secret or "").encode(),
            f"res.partner/{partner.id}".encode(),
            hashlib.sha256,
        ).hexdigest()

    def _evidence_fhir_bundle(self, payload, pseudonymous):
        """The session as an HL7 FHIR R4 ``Bundle`` (collection): Patient,
        Consent, Procedure, one Observation per check-in (LOINC 72514-3) and
        Provenance. What the hash covers is read from ``payload`` (the hash
        input), so the resources say what the hashed record says."""
        self.ensure_one()
        facts = payload["facts"]
        record = facts["session"]
        partner = self.partner_id
        ids = {
            "patient": self._fhir_uuid(partner),
            "procedure": self._fhir_uuid(self),
            "consent": self._fhir_uuid(self.consent_id) if self.consent_id else None,
        }
        patient_ref = {"reference": f"urn:uuid:{ids['patient']}"}
        procedure_ref = {"reference": f"urn:uuid:{ids['procedure']}"}
        if pseudonymous:
            patient = {
                "resourceType": "Patient",
                "id": ids["patient"],
                "identifier": [
                    {
                        "system": f"{SYSTEM}:pseudonym",
                        "value": self._fhir_pseudonym(partner),
                    }
                ],
            }
        else:
            patient = {
                "resourceType": "Patient",
                "id": ids["patient"],
                "identifier": [
                    {"system": f"{SYSTEM}:partner", "value": str(partner.id)}
                ],
                "name": [{"text": partner.name}],
                "telecom": [
                    {"system": system, "value": value}
                    for system, value in (
                        ("email", partner.email),
                        ("phone", partner.phone),
                    )
                    if value
                ],
            }
        resources = [patient]
        consent = facts.get("consent") or {}
        if ids["consent"]:
            text = consent.get("consent_text") or ""
            status = {"given": "active", "withdrawn": "inactive"}.get(
                consent.get("state"), "active" if consent.get("given_at") else "draft"
            )
            resources.append(
                {
                    "resourceType": "Consent",
                    "id": ids["consent"],
                    "identifier": [
                        {
                            "system": f"{SYSTEM}:consent-text-sha256",
                            "value": hashlib.sha256(text.encode()).hexdigest(),
                        }
                    ],
                    "status": status,
                    "scope": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "consentscope",
                                "code": "treatment",
                                "display": "Treatment",
                            }
                        ]
                    },
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": LOINC,
                                    "code": "59284-0",
                                    "display": "Patient Consent",
                                }
                            ]
                        }
                    ],
                    "patient": patient_ref,
                    "dateTime": _fhir_datetime(consent.get("given_at")),
                    "performer": [patient_ref],
                    "sourceAttachment": {
                        "contentType": "text/html",
                        "title": self.env._("Consent text agreed to"),
                        # FHIR's Attachment.hash is the base64 SHA-1 of the
                        # data; the SHA-256 is the identifier above.
                        "hash": base64.b64encode(
                            hashlib.sha1(text.encode()).digest()
                        ).decode(),
                    },
                    "policyRule": {
                        "text": self.env._("Informed consent to the protocol")
                    },
                    "provision": {
                        "period": {
                            "start": _fhir_datetime(consent.get("given_at")),
                            "end": _fhir_date(consent.get("valid_until")),
                        }
                    },
                }
            )
        stopped = record.get("state") == "stopped"
        stop_labels = dict(self._fields["stop_reason"]._description_selection(self.env))
        resources.append(
            {
                "resourceType": "Procedure",
                "id": ids["procedure"],
                "identifier": [{"system": f"{SYSTEM}:session", "value": self.name}],
                "status": "stopped" if stopped else "completed",
                "statusReason": {
                    "text": stop_labels.get(record.get("stop_reason"))
                    or (self.env._("Stopped") if stopped else None)
                }
                if stopped
                else None,
                "code": {"text": self.protocol_id.name},
                "subject": patient_ref,
                "performedPeriod": {
                    "start": _fhir_datetime(record.get("date_start")),
                    "end": _fhir_datetime(record.get("date_done")),
                },
                "performer": [{"actor": {"display": self.therapist_id.name}}],
                "followUp": [
                    {
                        "text": self.env._(
                            "Referral to a healthcare professional recommended"
                        )
                    }
                ]
                if record.get("referral_recommended")
                else None,
            }
        )
        observation_refs = []
        for checkin in evidence.line_records(facts.get("checkins")) or []:
            observation_id = self._fhir_uuid(
                self.env["spa.checkin"].browse(checkin["id"])
            )
            observation_refs.append({"reference": f"urn:uuid:{observation_id}"})
            resources.append(
                {
                    "resourceType": "Observation",
                    "id": observation_id,
                    "identifier": [
                        {"system": f"{SYSTEM}:checkin", "value": str(checkin["id"])}
                    ],
                    "status": "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "observation-category",
                                    "code": "survey",
                                    "display": "Survey",
                                }
                            ]
                        }
                    ],
                    "code": {
                        "coding": [
                            {
                                "system": LOINC,
                                "code": PAIN_CODE,
                                "display": PAIN_DISPLAY,
                            }
                        ],
                        "text": PAIN_DISPLAY,
                    },
                    "subject": patient_ref,
                    "partOf": [procedure_ref],
                    "effectiveDateTime": _fhir_datetime(checkin.get("create_date")),
                    "valueInteger": checkin.get("pain_level"),
                    "component": [
                        {
                            "code": {"text": self.env._("Client asked to stop")},
                            "valueBoolean": bool(checkin.get("stop_requested")),
                        }
                    ],
                }
            )
        targets = [procedure_ref, *observation_refs]
        if ids["consent"]:
            targets.append({"reference": f"urn:uuid:{ids['consent']}"})
        resources.append(
            {
                "resourceType": "Provenance",
                "id": self._fhir_uuid(self, "provenance"),
                "target": targets,
                "recorded": _fhir_datetime(record.get("date_done")),
                "activity": {
                    "text": self.env._("Session record secured in the evidence chain")
                },
                "agent": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/"
                                    "provenance-participant-type",
                                    "code": "performer",
                                }
                            ]
                        },
                        "who": {"display": self.therapist_id.name},
                    }
                ],
            }
        )
        return _compact(
            {
                "resourceType": "Bundle",
                "type": "collection",
                "identifier": {
                    "system": f"{SYSTEM}:evidence-hash",
                    "value": self.evidence_hash,
                },
                "timestamp": _fhir_datetime(fields.Datetime.now()),
                "entry": [
                    {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
                    for resource in resources
                ],
            }
        )
