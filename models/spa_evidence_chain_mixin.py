from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..tools import evidence
from ..tools.verify_evidence import merkle_root

MANAGER_GROUP = "spa_session_protocol.group_spa_manager"
# Records read per query by the integrity check (as account checks its
# journals' hashes in batches).
INTEGRITY_BATCH_SIZE = 1000


class SpaEvidenceChainMixin(models.AbstractModel):
    """A chain of tamper-evident records per company, as posted journal
    entries are secured in ``account``.

    When a record reaches a final state it takes the next place of its
    company's chain and a hash over what it proves (the fields the model
    declares in ``_get_evidence_hash_fields``, for the version of the
    scheme), chained to the hash of the link before. The company keeps the
    place and the hash of its last link (the chain head), so removing the
    last links is found too.

    The model provides ``company_id``, ``state`` and the date it reached a
    final state (``_evidence_date_field``), and declares what it proves.
    """

    _name = "spa.evidence.chain.mixin"
    _description = "Spa Evidence Chain"

    # States in which a record is evidence and holds a place in the chain.
    _evidence_final_states = ("done", "stopped")
    # When the record reached its final state (orders the links).
    _evidence_date_field = "date_done"
    # Whether the chain is anchored (spa.evidence.anchor records its heads).
    _evidence_anchored = False
    # The clinical free text: covered by a digest (``evidence_text_digest``)
    # until it is anonymised, then it must be empty. Declared by the model,
    # shared with ``spa.retention.mixin``: ``(field, ...)`` of the record and
    # ``{relation: (field, ...)}`` of its lines.
    _spa_free_text_fields = ()
    _spa_free_text_line_fields = {}

    evidence_hash = fields.Char(readonly=True, copy=False)
    # Position in the company's chain of finished records and the hash of
    # the link before (see _secure_evidence).
    evidence_sequence = fields.Integer(readonly=True, copy=False, index=True)
    evidence_previous_hash = fields.Char(readonly=True, copy=False)
    # Managers only: an unsalted digest of the clinical notes would let
    # whoever reads it confirm a guess of their text.
    evidence_text_digest = fields.Char(
        readonly=True,
        copy=False,
        groups="spa_session_protocol.group_spa_manager",
        help="Digest of the clinical free text when the record was secured; "
        "covered by the evidence hash, checked until the text is anonymised.",
    )
    evidence_version = fields.Integer(
        string="Evidence Hash Version",
        readonly=True,
        copy=False,
        help="Version of the evidence hash scheme the record was secured with; "
        "it keeps verifying under that version.",
    )

    # ------------------------------------------------------------------
    # What a record proves (declared by the model)
    # ------------------------------------------------------------------

    @api.model
    def _get_evidence_hash_fields(self, version):
        """What the hash of ``version`` covers:
        ``{section: (relation, (field, ...))}``, where ``relation`` is
        ``None`` for the record itself, else a many2one or one2many field of
        it (its records are hashed with their id, one2many lines in id
        order). Declared once; a new version adds to it, an old version is
        never changed."""
        raise NotImplementedError(
            f"{self._name} must declare what its evidence hash covers"
        )

    def _evidence_normalise_facts(self, version, facts):
        """Hook: turn the facts read from the database into what the record
        proved when it was secured (``facts`` is changed in place)."""
        return facts

    @api.model
    def _evidence_payload(self, version, facts, sequence, text_digest):
        payload = {"facts": facts, "sequence": sequence, "text_digest": text_digest}
        if version >= 2:
            payload["version"] = version
        return payload

    @api.model
    def _evidence_value(self, record, fname):
        value = record[fname]
        field = record._fields[fname]
        if field.type == "many2one":
            return value.id or False
        if field.type in ("one2many", "many2many"):
            return sorted(value.ids)
        if field.type == "datetime":
            return fields.Datetime.to_string(value) if value else False
        if field.type == "date":
            return fields.Date.to_string(value) if value else False
        if field.type == "html":
            return str(value) if value else False
        return value if value is not None else False

    # ------------------------------------------------------------------
    # Reading the evidence from the database, in batches
    # ------------------------------------------------------------------

    @api.model
    def _evidence_read_fields(self):
        """``{model: {field, ...}}``: every stored field any version of the
        scheme, the free text and the chain read, by model."""
        read = defaultdict(set)
        read[self._name] |= {
            "company_id",
            "state",
            self._evidence_date_field,
            "evidence_hash",
            "evidence_sequence",
            "evidence_previous_hash",
            "evidence_text_digest",
            "evidence_version",
            *self._spa_free_text_fields,
        }
        if "anonymised_at" in self._fields:
            read[self._name].add("anonymised_at")
        sections = [
            section
            for version in range(1, evidence.MAX_HASH_VERSION + 1)
            for section in self._get_evidence_hash_fields(version).values()
        ] + list(self._spa_free_text_line_fields.items())
        for relation, fnames in sections:
            if relation is None:
                read[self._name] |= set(fnames)
                continue
            field = self._fields[relation]
            read[field.comodel_name] |= set(fnames)
            if field.type == "many2one":
                read[self._name].add(relation)
            else:
                read[field.comodel_name].add(field.inverse_name)
        return read

    @api.model
    def _evidence_refresh(self):
        """Make the next reads of the evidence come from the database:
        flush what is pending on the fields read (only them), then forget
        their cached values (a change made in SQL included)."""
        read = self._evidence_read_fields()
        for model, fnames in read.items():
            self.env[model].flush_model(fnames)
        for model, fnames in read.items():
            self.env[model].invalidate_model(fnames)

    def _evidence_lines(self, relation, fnames):
        """``{record id: lines}``: the records of ``relation`` of each
        record of ``self`` (one2many lines in id order), with ``fnames``
        read in one query per relation for the whole of ``self``."""
        field = self._fields[relation]
        lines = self.mapped(relation)
        if field.type == "many2one":
            lines.fetch(list(fnames))
            return {record.id: record[relation] for record in self}
        inverse = field.inverse_name
        lines.fetch([*fnames, inverse])
        by_record = defaultdict(lambda: lines.browse())
        for line in lines.sorted("id"):
            by_record[line[inverse].id] |= line
        return by_record

    def _evidence_parts(self, versions=None):
        """``{id: {version: facts}, ...}, {id: texts}``: what each record of
        ``self`` proves as plain values for each version asked (default: the
        version each record was secured with, else the latest), and its
        clinical free text. ``self`` is read as it is in the cache: call
        ``_evidence_refresh`` first to read the database."""
        records = self.sudo()
        if versions is None:
            versions = {
                record.id: record.evidence_version or evidence.MAX_HASH_VERSION
                for record in records
            }
        specs = {
            version: self._get_evidence_hash_fields(version)
            for version in set(versions.values())
        }
        relations = {}
        for spec in specs.values():
            for relation, fnames in spec.values():
                if relation is not None:
                    relations.setdefault(relation, set()).update(fnames)
        for relation, fnames in self._spa_free_text_line_fields.items():
            relations.setdefault(relation, set()).update(fnames)
        lines = {
            relation: records._evidence_lines(relation, fnames)
            for relation, fnames in relations.items()
        }
        value = self._evidence_value
        facts_by_record = {}
        texts_by_record = {}
        for record in records:
            version = versions[record.id]
            facts = {}
            for section, (relation, fnames) in specs[version].items():
                if relation is None:
                    facts[section] = {f: value(record, f) for f in fnames}
                    continue
                related = lines[relation].get(record.id) or []
                rows = [
                    {"id": line.id} | {f: value(line, f) for f in fnames}
                    for line in related
                ]
                if record._fields[relation].type == "many2one":
                    facts[section] = rows[0] if rows else False
                else:
                    facts[section] = rows
            facts_by_record[record.id] = self._evidence_normalise_facts(version, facts)
            texts = [[f, record[f] or ""] for f in self._spa_free_text_fields]
            for relation, fnames in self._spa_free_text_line_fields.items():
                for line in lines[relation].get(record.id) or []:
                    texts.extend([line.id, line[f] or ""] for f in fnames)
            texts_by_record[record.id] = texts
        return facts_by_record, texts_by_record

    # ------------------------------------------------------------------
    # Securing
    # ------------------------------------------------------------------

    def _secure_evidence(self):
        """Chain the finished records of ``self`` to their company's evidence.

        Each finished record gets the next place of its company's chain and
        a hash (latest version) over what it proves, chained to the hash of
        the record before (as posted journal entries are secured). The
        company's chain counter is incremented in SQL first: a concurrent
        finisher of the same company waits for this transaction, then fails
        with a serialization error and is retried, so two records never get
        the same previous hash. The company then records its new chain head.
        """
        finished = self.filtered(
            lambda r: r.state in self._evidence_final_states and not r.evidence_hash
        )
        if not finished:
            return
        version = evidence.MAX_HASH_VERSION
        # What is hashed is read from the cache, which holds what this
        # transaction writes to the database (pending computations are done
        # when read); the check reads it back from the database.
        facts_by_record, texts_by_record = finished._evidence_parts(
            dict.fromkeys(finished.ids, version)
        )
        date_field = self._evidence_date_field
        for company in finished.company_id.sorted("id"):
            records = finished.filtered(lambda r, c=company: r.company_id == c)
            # Take the company's next places in the chain and read the hash
            # of the link before, in one statement.
            self.env.cr.execute(
                SQL(
                    """WITH head AS (
                            UPDATE res_company
                               SET spa_evidence_sequence =
                                   COALESCE(spa_evidence_sequence, 0) + %(count)s
                             WHERE id = %(company)s
                         RETURNING spa_evidence_sequence - %(count)s AS previous
                       )
                       SELECT head.previous, record.evidence_hash
                         FROM head
                    LEFT JOIN %(table)s record
                           ON record.company_id = %(company)s
                          AND record.evidence_sequence = head.previous""",
                    count=len(records),
                    company=company.id,
                    table=SQL.identifier(self._table),
                )
            )
            sequence, previous = self.env.cr.fetchone()
            previous = previous or False
            for record in records.sorted(lambda r: (r[date_field], r.id)):
                sequence += 1
                digest = evidence.text_digest(texts_by_record[record.id])
                payload = self._evidence_payload(
                    version, facts_by_record[record.id], sequence, digest
                )
                evidence_hash = evidence.chain_hash(previous, payload, version)
                # sudo: the text digest is readable by managers only (it would
                # let others confirm a guess of the notes); the server sets it.
                record.sudo()._write_server(
                    {
                        "evidence_sequence": sequence,
                        "evidence_previous_hash": previous,
                        "evidence_text_digest": digest,
                        "evidence_version": version,
                        "evidence_hash": evidence_hash,
                    }
                )
                previous = evidence_hash
            # The chain head: a server write, as the counter above.
            self.env.cr.execute(
                "UPDATE res_company SET spa_evidence_head_hash = %s WHERE id = %s",
                [previous, company.id],
            )
            company.invalidate_recordset(
                ["spa_evidence_sequence", "spa_evidence_head_hash"]
            )

    # ------------------------------------------------------------------
    # Checking
    # ------------------------------------------------------------------

    @api.model
    def check_evidence_integrity(self):
        """The finished records whose stored evidence no longer matches.

        Managers only: anyone else gets an ``AccessError``, ``sudo()``
        included (the check discloses which records changed, and sudo does
        not make its caller a manager); the server's own paths call
        ``_check_evidence_integrity``. It covers the caller's allowed
        companies (never more than the user's own, sudo or not).

        Everything is recomputed from the database (changes made directly in
        SQL included), in batches: each record's hash under the version it
        was secured with, the link to the record before it in its company's
        chain, the chain head the company recorded, and the clinical free
        text (its digest until it is anonymised; empty once anonymised).
        A finished record without evidence is reported, and so are the
        neighbours of a removed link: the link before a removed last link
        (the head) is reported, as is the link after a removed one. Where
        the chain is anchored, the records of every anchor whose chain head,
        Merkle root or timestamp token the chain no longer gives are
        reported too (a rewrite of the whole chain after the anchor).

        :return: recordset, empty when the evidence is intact
        """
        results = self._check_evidence_integrity(self._evidence_check_companies())
        return self.browse(
            sorted({rid for result in results for rid in result["reported_ids"]})
        )

    @api.model
    def _evidence_check_companies(self):
        """The companies the caller may check; ``AccessError`` for anyone
        but a manager."""
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                self.env._("Only a spa manager can check the evidence integrity.")
            )
        return self.env.companies & self.env.user.company_ids

    @api.model
    def _check_evidence_integrity(self, companies):
        """Check the evidence chains of ``companies`` (no access check: the
        server's path; ``check_evidence_integrity`` is the managers').

        :return: one dict per company: ``company``, ``checked_at``,
            ``checked`` (links read), ``first``/``last`` (places read),
            ``head`` (place the company recorded), ``versions``,
            ``broken_ids`` (records that no longer match), ``missing``
            (places no record holds any more) and ``reported_ids`` (the
            broken records and the neighbours of the missing places)
        """
        self._evidence_refresh()
        companies = companies.sudo()
        companies.invalidate_recordset(
            ["spa_evidence_sequence", "spa_evidence_head_hash"]
        )
        # sudo: the check covers every record of the companies, whoever runs
        # it; only ids and counts are returned.
        Records = self.sudo().with_context(active_test=False)
        read = list(self._evidence_read_fields()[self._name])
        # Finished records that never got a place: reported (one query).
        unsecured = Records.search_fetch(
            [
                ("company_id", "in", companies.ids),
                ("state", "in", self._evidence_final_states),
                "|",
                ("evidence_hash", "=", False),
                ("evidence_sequence", "in", [0, False]),
            ],
            ["company_id"],
        )
        now = fields.Datetime.now()
        results = []
        for company in companies.sorted("id"):
            head = company.spa_evidence_sequence or 0
            result = {
                "company": company,
                "checked_at": now,
                "checked": 0,
                "first": False,
                "last": False,
                "head": head,
                "head_hash": company.spa_evidence_head_hash or False,
                "versions": set(),
                "broken_ids": set(
                    unsecured.filtered(lambda r, c=company: r.company_id == c).ids
                ),
                "missing": [],
            }
            by_place = {}
            previous = (0, False, 0)  # (place, hash, version) of the last link
            while True:
                batch = Records.search_fetch(
                    [
                        ("company_id", "=", company.id),
                        ("evidence_sequence", ">", previous[0]),
                    ],
                    read,
                    order="evidence_sequence",
                    limit=INTEGRITY_BATCH_SIZE,
                )
                if not batch:
                    break
                previous = batch._evidence_check_batch(result, previous)
                by_place.update(
                    {r.evidence_sequence: (r.id, r.evidence_hash) for r in batch}
                )
                # Keep the cache flat over a long chain.
                batch.invalidate_recordset()
            result["missing"] = sorted(set(range(1, head + 1)) - set(by_place))
            # A link beyond the head the company recorded, or a head whose
            # record no longer carries the recorded hash: the chain's end was
            # changed.
            result["broken_ids"].update(
                rid for place, (rid, __) in by_place.items() if place > head
            )
            if head in by_place and result["head_hash"]:
                head_id, head_hash = by_place[head]
                if head_hash != result["head_hash"]:
                    result["broken_ids"].add(head_id)
            neighbours = {
                by_place[place + step][0]
                for place in result["missing"]
                for step in (-1, 1)
                if place + step in by_place
            }
            if self._evidence_anchored:
                self._evidence_check_anchors(company, by_place, result)
            result["reported_ids"] = result["broken_ids"] | neighbours
            results.append(result)
        return results

    @api.model
    def _evidence_check_anchors(self, company, by_place, result):
        """Check ``company``'s chain against its anchors (``by_place``:
        ``{place: (record id, stored hash)}`` as read from the database).

        An anchor fixed the chain head and the Merkle root over the places
        it covers: a rewrite of the chain after it (every hash recomputed,
        the company's chain head included) no longer gives that head or that
        root, and the anchor's timestamp token must still stamp its root.
        The records of the places of a failing anchor are reported; the
        anchors in ``result["broken_anchors"]``.
        """
        anchors = (
            self.env["spa.evidence.anchor"]
            .sudo()
            .search([("company_id", "=", company.id)], order="chain_sequence")
        )
        result["anchors_checked"] = len(anchors)
        result["broken_anchors"] = anchors.browse()
        for anchor in anchors:
            places = range(anchor.first_sequence, anchor.chain_sequence + 1)
            links = [by_place.get(place) for place in places]
            hashes = [link[1] if link else "" for link in links]
            head = links[-1][1] if links[-1] else False
            if (
                head != anchor.chain_hash
                or merkle_root(hashes) != anchor.merkle_root
                or not anchor._token_matches_root()
            ):
                result["broken_anchors"] |= anchor
                result["broken_ids"].update(link[0] for link in links if link)

    def _evidence_check_batch(self, result, previous):
        """Check a batch of one company's chain, in place order, continuing
        from ``previous`` (place, hash, version of the link before); record
        the findings in ``result``. Returns the last link of the batch."""
        payloads, texts_by_record = self._evidence_stored_payloads()
        chain = []
        __, last_hash, last_version = previous
        for record in self:
            version = record.evidence_version or 1
            texts = texts_by_record[record.id]
            anonymised = "anonymised_at" in record._fields and record.anonymised_at
            if anonymised:
                # Once anonymised, the clinical free text is empty.
                if any(text for __, text in texts):
                    result["broken_ids"].add(record.id)
            elif evidence.text_digest(texts) != record.evidence_text_digest:
                result["broken_ids"].add(record.id)
            if record.state not in self._evidence_final_states:
                result["broken_ids"].add(record.id)
            chain.append(
                (
                    record.id,
                    record.evidence_hash,
                    record.evidence_previous_hash,
                    payloads[record.id],
                    version,
                )
            )
            result["versions"].add(version)
        # The batch continues the chain from the last link of the batch
        # before.
        result["broken_ids"].update(
            evidence.broken_links(chain, last_hash, last_version)
        )
        result["checked"] += len(self)
        result["first"] = result["first"] or self[:1].evidence_sequence
        last = self[-1:]
        result["last"] = last.evidence_sequence
        return (last.evidence_sequence, last.evidence_hash, last.evidence_version or 1)

    def _evidence_stored_payloads(self):
        """``{id: payload}, {id: texts}``: what the hash of each secured
        record of ``self`` covers, under the version it was secured with, as
        the integrity check recomputes it (the evidence bundle exports these
        very payloads), and its clinical free text. ``self`` is read as it is
        in the cache: call ``_evidence_refresh`` first to read the database.
        """
        facts_by_record, texts_by_record = self._evidence_parts(
            {r.id: r.evidence_version or 1 for r in self}
        )
        payloads = {
            record.id: self._evidence_payload(
                record.evidence_version or 1,
                facts_by_record[record.id],
                record.evidence_sequence,
                record.evidence_text_digest,
            )
            for record in self.sudo()
        }
        return payloads, texts_by_record
