import gc
import itertools
import json
from collections import defaultdict
from contextlib import contextmanager

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..tools import evidence
from ..tools.verify_evidence import merkle_root

MANAGER_GROUP = "spa_session_protocol.group_spa_manager"
# Records read per query by the integrity check (as account checks its
# journals' hashes in batches).
INTEGRITY_BATCH_SIZE = 2000
# The company's last verified link (incremental checks start after it).
VERIFIED_FIELDS = (
    "spa_evidence_verified_sequence",
    "spa_evidence_verified_hash",
    "spa_evidence_verified_at",
)
# NULL (None) read for a field stands for false, as the ORM gives it.
_FALSE_IF_NULL = {None: False}.get


def _values(row, names, start, end_scalars, end_arrays, json_fields=()):
    """``{name: value}`` of ``row[start:end_arrays]`` as the ORM gives them:
    the values before ``end_scalars`` with NULL as false (converted in C:
    hundreds of thousands of rows go through here), the id lists after
    them as read, the ``json_fields`` parsed from their text."""
    scalars = row[start:end_scalars]
    values = dict(
        zip(
            names,
            itertools.chain(
                map(_FALSE_IF_NULL, scalars, scalars), row[end_scalars:end_arrays]
            ),
            strict=True,
        )
    )
    for fname in json_fields:
        if values[fname] is not False:
            values[fname] = json.loads(values[fname])
    return values


def _project_lines(lines, columns, as_columns):
    """The lines of a one2many section read as ``{"columns": names, "rows":
    [[value, ...], ...]}``, kept to ``columns`` (in that order): as columns
    (``as_columns``: version 4 on) or one ``{field: value}`` per line."""
    read, rows = lines["columns"], lines["rows"]
    if tuple(read) != columns:
        positions = [read.index(fname) for fname in columns]
        rows = [[row[i] for i in positions] for row in rows]
    elif as_columns:
        return lines
    if as_columns:
        return {"columns": columns, "rows": rows}
    return [dict(zip(columns, row, strict=True)) for row in rows]


@contextmanager
def _without_cyclic_gc():
    """Pause Python's cyclic garbage collector while the check streams its
    batches (it is restored as it was, even on an error).

    Each batch makes hundreds of thousands of small dicts and lists without
    reference cycles (freed by reference counting as soon as the batch is
    hashed); their allocations kept triggering the cyclic collector, which
    then walks the whole server process: measured at 20,000 links, about
    half of the check's own CPU time. Nothing of the check makes cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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

    def init(self):
        super().init()
        if self._abstract:
            return
        # The integrity check reads each company's chain in place order, in
        # batches (keyset on the place: the model keeps a place unique per
        # company, an index the check reads), and looks up the finished
        # records without a place through this one.
        self.env.cr.execute(
            SQL(
                """CREATE INDEX IF NOT EXISTS %s ON %s (company_id)
                    WHERE state IN %s
                      AND (evidence_hash IS NULL
                           OR COALESCE(evidence_sequence, 0) = 0)""",
                SQL.identifier(f"{self._table}_evidence_unsecured_index"),
                SQL.identifier(self._table),
                tuple(self._evidence_final_states),
            )
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

    # ------------------------------------------------------------------
    # Reading the evidence from the database: one query per batch
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
    def _evidence_flush(self):
        """Write to the database what is pending on the fields the evidence
        reads (only them)."""
        for model, fnames in self._evidence_read_fields().items():
            self.env[model].flush_model(fnames)

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

    # Sealing and checking read what a record proves with the same code,
    # built from the declaration (``_get_evidence_hash_fields``), a batch of
    # records at a time: one query for the records with the records their
    # many2one sections point to (joined on the primary key), then one per
    # one2many section for the lines of the whole batch (through the index
    # on the inverse field); a many2many by an index-only subquery per row.
    # PostgreSQL gives plain columns already as the ORM's values (a many2one
    # as its id, a datetime as "YYYY-MM-DD HH:MM:SS", a many2many as its
    # sorted ids, an empty html as NULL...; NULL stands for false), so that
    # Python only assembles, normalises, serialises and hashes them
    # (``tools/evidence``). Measured on 20,000 links: building each record's
    # facts as JSON with a subquery per record and line took PostgreSQL
    # 0.9-1.4 s a batch of 2,000 and parsing that JSON again 40 us a link;
    # these plain queries take about 0.15-0.3 s a batch.

    @api.model
    def _evidence_union_spec(self):
        """``{section: (relation, (field, ...))}``: every field any version
        of the scheme covers, by section (read once, projected per version)."""
        union = {}
        for version in range(1, evidence.MAX_HASH_VERSION + 1):
            for section, (relation, fnames) in self._get_evidence_hash_fields(
                version
            ).items():
                __, known = union.setdefault(section, (relation, []))
                known.extend(f for f in fnames if f not in known)
        return {section: (rel, tuple(f)) for section, (rel, f) in union.items()}

    @api.model
    def _evidence_sql_value(self, Model, alias, fname):
        """SQL of the value of ``fname`` of ``Model``'s row ``alias``, as the
        ORM gives it, NULL standing for false (see ``_evidence_rows``)."""
        field = Model._fields[fname]
        if not field.store or field.translate or field.company_dependent:
            raise NotImplementedError(
                f"{Model._name}.{fname}: the evidence reads stored, untranslated "
                "fields only"
            )
        column = SQL.identifier(alias, fname)
        kind = field.type
        if kind in ("many2one", "char", "text", "selection"):
            return column
        if kind == "html":
            return SQL("NULLIF(%s, '')", column)
        if kind == "integer":
            return SQL("COALESCE(%s, 0)", column)
        if kind == "boolean":
            return SQL("COALESCE(%s, FALSE)", column)
        if kind == "datetime":
            return SQL("to_char(%s, 'YYYY-MM-DD HH24:MI:SS')", column)
        if kind == "date":
            return SQL("to_char(%s, 'YYYY-MM-DD')", column)
        if kind == "json":
            # Parsed in Python (a JSON null stays null, NULL is false).
            return SQL("%s::text", column)
        if kind == "many2many":
            # Every linked record, archived ones included, in id order (an
            # index-only scan of the relation's primary key per row: joining
            # the relation for the whole batch read all of it, every batch).
            return SQL(
                "ARRAY(SELECT sub.%s FROM %s sub WHERE sub.%s = %s ORDER BY 1)",
                SQL.identifier(field.column2),
                SQL.identifier(field.relation),
                SQL.identifier(field.column1),
                SQL.identifier(alias, "id"),
            )
        if kind == "one2many":
            comodel = self.env[field.comodel_name]
            return SQL(
                "ARRAY(SELECT sub.id FROM %s sub WHERE sub.%s = %s ORDER BY 1)",
                SQL.identifier(comodel._table),
                SQL.identifier(field.inverse_name),
                SQL.identifier(alias, "id"),
            )
        raise NotImplementedError(
            f"{Model._name}.{fname}: the evidence cannot read {kind} fields"
        )

    @api.model
    def _evidence_read_plan(self):
        """How a batch is read: ``(record_fields, relations)`` where
        ``record_fields`` are the record's own fields any section covers and
        ``relations`` is ``{relation: (fields, text fields)}`` for every
        relation a section or the clinical free text reads, in a fixed
        order."""
        record_fields = []
        relations = {}
        for relation, fnames in self._evidence_union_spec().values():
            if relation is None:
                record_fields.extend(f for f in fnames if f not in record_fields)
                continue
            known, __ = relations.setdefault(relation, ([], []))
            known.extend(f for f in fnames if f not in known)
        for relation, fnames in self._spa_free_text_line_fields.items():
            __, texts = relations.setdefault(relation, ([], []))
            texts.extend(f for f in fnames if f not in texts)
        return record_fields, relations

    @api.model
    def _evidence_read_lines(self, relation, fnames, text_fnames, owner_ids):
        """The lines of the one2many ``relation`` of the records
        ``owner_ids``, in one query: ``(names, {owner id: ([[value, ...],
        ...], texts)})``, each line as its values in the order of ``names``
        (its id first; NULL as false, as the ORM gives them), the lines in id
        order, and ``texts`` as ``[[line id, text], ...]`` (``text_fnames``
        of each line in turn). Lines stay value lists: versions 1-3 of the
        hash make them dicts (``_project_lines``), version 4 hashes them as
        they are."""
        field = self._fields[relation]
        if field.type != "one2many":
            raise NotImplementedError(f"{relation}: a many2one or a one2many")
        comodel = self.env[field.comodel_name]
        key = SQL.identifier("line", field.inverse_name)
        scalars, arrays = self._evidence_split_fields(comodel, fnames)
        columns = [
            *(self._evidence_sql_value(comodel, "line", f) for f in scalars),
            *(self._evidence_sql_value(comodel, "line", f) for f in arrays),
            *(SQL("COALESCE(%s, '')", SQL.identifier("line", f)) for f in text_fnames),
        ]
        self.env.cr.execute(
            SQL(
                """SELECT %s, line.id%s
                     FROM %s line
                    WHERE %s = ANY(%s)
                 ORDER BY %s, line.id""",
                key,
                SQL("").join(SQL(", %s", column) for column in columns),
                SQL.identifier(comodel._table),
                key,
                list(owner_ids),
                key,
            )
        )
        names = ("id", *scalars, *arrays)
        end_scalars = 2 + len(scalars)
        end_arrays = end_scalars + len(arrays)
        json_positions = [
            names.index(f) for f in scalars if comodel._fields[f].type == "json"
        ]
        result = {}
        owner = values = texts = None
        # The rows come grouped by owner (about 13 lines a link go through
        # this loop: it keeps to C calls where it can).
        for row in self.env.cr.fetchall():
            if row[0] != owner:
                owner = row[0]
                values, texts = result[owner] = ([], [])
            scalars = row[1:end_scalars]
            # NULL as false, converted in C.
            line = [
                *map(_FALSE_IF_NULL, scalars, scalars),
                *row[end_scalars:end_arrays],
            ]
            for position in json_positions:
                if line[position] is not False:
                    line[position] = json.loads(line[position])
            values.append(line)
            for text in row[end_arrays:]:
                texts.append([row[1], text])
        return names, result

    @api.model
    def _evidence_split_fields(self, Model, fnames):
        """``fnames`` as ``(scalars, arrays)``: the fields read as one value
        (NULL for false) and the many2many and one2many ones (id lists)."""
        arrays = [
            f for f in fnames if Model._fields[f].type in ("many2many", "one2many")
        ]
        return [f for f in fnames if f not in arrays], arrays

    @api.model
    def _evidence_rows(self, where, order=None, limit=None):
        """The evidence of the records matching ``where`` (an SQL condition
        on the record ``r``), as one batch: a list of ``(id, company_id,
        state, evidence_sequence, evidence_hash, evidence_previous_hash,
        evidence_text_digest, evidence_version, anonymised, facts, texts)``
        where ``facts`` is ``{section: value}`` with every field any version
        covers (the record's own fields as ``{field: value}``, a many2one's
        record as ``{field: value}`` with its id, or false, a one2many's
        lines in id order as ``{"columns": (field, ...), "rows": [[value,
        ...], ...]}``, the line's id first) and ``texts`` the clinical free text
        ``[[field, text], ..., [line id, text], ...]``.

        One query for the records with what their many2one fields point to
        (joined on its primary key), then one per one2many for the lines of
        the whole batch.
        """
        cr = self.env.cr
        record_fields, relations = self._evidence_read_plan()
        text_fnames = self._spa_free_text_fields
        # The record's own fields, then each many2one's record (its id
        # first), then the record's free text: (names, start, end of the
        # scalars, end, json fields, text fields) of each part of a row.
        columns, joins = [], []
        position = 9

        def add_part(Model, alias, fnames, line_texts=(), with_id=False):
            nonlocal position
            scalars, arrays = self._evidence_split_fields(Model, fnames)
            if with_id:
                scalars.insert(0, "id")
                columns.append(SQL.identifier(alias, "id"))
            columns.extend(
                self._evidence_sql_value(Model, alias, f)
                for f in (*scalars[with_id:], *arrays)
            )
            columns.extend(
                SQL("COALESCE(%s, '')", SQL.identifier(alias, f)) for f in line_texts
            )
            start = position
            position += len(scalars) + len(arrays) + len(line_texts)
            json_fields = [
                f for f in scalars[with_id:] if Model._fields[f].type == "json"
            ]
            return (
                (*scalars, *arrays),
                start,
                start + len(scalars),
                start + len(scalars) + len(arrays),
                json_fields,
                line_texts,
            )

        own = add_part(self, "r", record_fields)
        many2ones = {}
        for relation, (fnames, line_texts) in relations.items():
            field = self._fields[relation]
            if field.type != "many2one":
                continue
            alias = f"m2o{len(many2ones)}"
            comodel = self.env[field.comodel_name]
            joins.append(
                SQL(
                    "LEFT JOIN %s %s ON %s = %s",
                    SQL.identifier(comodel._table),
                    SQL.identifier(alias),
                    SQL.identifier(alias, "id"),
                    SQL.identifier("r", relation),
                )
            )
            many2ones[relation] = add_part(
                comodel, alias, fnames, line_texts, with_id=True
            )
        columns.extend(
            SQL("COALESCE(%s, '')", SQL.identifier("r", f)) for f in text_fnames
        )
        anonymised = (
            SQL("r.anonymised_at IS NOT NULL")
            if "anonymised_at" in self._fields
            else SQL("FALSE")
        )
        cr.execute(
            SQL(
                """SELECT r.id, r.company_id, r.state, r.evidence_sequence,
                          r.evidence_hash, r.evidence_previous_hash,
                          r.evidence_text_digest, r.evidence_version, %s%s
                     FROM %s r %s
                    WHERE %s
                    %s %s""",
                anonymised,
                SQL("").join(SQL(", %s", column) for column in columns),
                SQL.identifier(self._table),
                SQL(" ").join(joins),
                where,
                SQL("ORDER BY %s", order) if order else SQL(),
                SQL("LIMIT %s", limit) if limit else SQL(),
            )
        )
        records = cr.fetchall()
        if not records:
            return []
        record_ids = [row[0] for row in records]
        lines = {
            relation: self._evidence_read_lines(
                relation, fnames, line_texts, record_ids
            )
            for relation, (fnames, line_texts) in relations.items()
            if relation not in many2ones
        }
        # What each section takes: the record's own fields or a relation's
        # record, projected when the section covers less than was read; a
        # one2many's lines as read (``_evidence_facts_of`` keeps the
        # columns each version covers).
        sections = []
        for section, (relation, fnames) in self._evidence_union_spec().items():
            if relation in lines:
                sections.append((section, relation, None))
                continue
            read = own[0] if relation is None else ("id", *relations[relation][0])
            keep = None
            if len(fnames) + (relation is not None) != len(read):
                keep = fnames if relation is None else ("id", *fnames)
            sections.append((section, relation, keep))
        no_lines = ([], [])
        rows = []
        for row in records:
            record_id = row[0]
            read = {None: _values(row, *own[:5])}
            texts = [
                [fname, text]
                for fname, text in zip(text_fnames, row[position:], strict=True)
            ]
            line_texts = {}
            for relation, part in many2ones.items():
                start, end, line_fnames = part[1], part[3], part[5]
                if row[start] is None:
                    read[relation], line_texts[relation] = False, []
                    continue
                read[relation] = _values(row, *part[:5])
                line_texts[relation] = [
                    [row[start], text] for text in row[end : end + len(line_fnames)]
                ]
            for relation, (names, by_record) in lines.items():
                values, line_texts[relation] = by_record.get(record_id, no_lines)
                read[relation] = {"columns": names, "rows": values}
            facts = {}
            for section, relation, keep in sections:
                value = read[relation]
                if keep is not None and value:
                    value = {f: value[f] for f in keep}
                facts[section] = value
            for relation in self._spa_free_text_line_fields:
                texts.extend(line_texts[relation])
            rows.append((*row[:9], facts, texts))
        return rows

    @api.model
    def _evidence_versions_spec(self):
        """``{version: {section: (lines, fields or None)}}``: what to keep
        of the union's facts for each version: ``lines`` for a one2many
        section, with the columns it covers (the line's id first); else the
        fields (``None``: the whole section as read). A missing section is
        left out."""
        cache = self.env.registry.__dict__.setdefault("_spa_evidence_versions", {})
        if self._name not in cache:
            union = self._evidence_union_spec()
            specs = {}
            for version in range(1, evidence.MAX_HASH_VERSION + 1):
                spec = self._get_evidence_hash_fields(version)
                specs[version] = {}
                for section, (relation, fnames) in spec.items():
                    lines = bool(relation) and self._fields[relation].type == "one2many"
                    keep = (("id",) if relation else ()) + tuple(fnames)
                    if not lines and tuple(fnames) == union[section][1]:
                        keep = None
                    specs[version][section] = (lines, keep)
            cache[self._name] = specs
        return cache[self._name]

    @api.model
    def _evidence_facts_of(self, version, facts):
        """The facts ``version`` covers, out of the union read by
        ``_evidence_rows`` (``facts`` is consumed), normalised."""
        spec = self._evidence_versions_spec()[version]
        as_columns = version >= evidence.COLUMNAR_LINES_VERSION
        projected = {}
        for section, (lines, keep) in spec.items():
            value = facts[section]
            if lines:
                value = _project_lines(value, keep, as_columns)
            elif keep is not None and value:
                value = {f: value[f] for f in keep}
            projected[section] = value
        return self._evidence_normalise_facts(version, projected)

    def _evidence_parts(self, versions=None):
        """``{id: facts}, {id: texts}``: what each record of ``self`` proves
        as plain values for the version asked (``{id: version}``; default:
        the version each record was secured with, else the latest), and its
        clinical free text, read from the database as one batch (flush
        first: ``_evidence_refresh``)."""
        facts_by_record, texts_by_record = {}, {}
        if not self:
            return facts_by_record, texts_by_record
        for row in self._evidence_rows(SQL("r.id IN %s", tuple(self.ids))):
            record_id, version = row[0], row[7]
            if versions is not None:
                version = versions[record_id]
            facts_by_record[record_id] = self._evidence_facts_of(
                version or evidence.MAX_HASH_VERSION, row[9]
            )
            texts_by_record[record_id] = row[10]
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
        # What is hashed is read from the database, with the very query the
        # check reads it back with (what this transaction wrote is flushed
        # first).
        finished._evidence_flush()
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
            ordered = records.sorted(lambda r: (r[date_field], r.id))
            links = self._evidence_seal_values(
                ordered.ids,
                version,
                sequence,
                previous,
                facts_by_record,
                texts_by_record,
            )
            for record, vals in zip(ordered, links, strict=True):
                # sudo: the text digest is readable by managers only (it would
                # let others confirm a guess of the notes); the server sets it.
                record.sudo()._write_server(vals)
                previous = vals["evidence_hash"]
            # The chain head: a server write, as the counter above.
            self.env.cr.execute(
                "UPDATE res_company SET spa_evidence_head_hash = %s WHERE id = %s",
                [previous, company.id],
            )
            company.invalidate_recordset(
                ["spa_evidence_sequence", "spa_evidence_head_hash"]
            )

    @api.model
    def _evidence_seal_values(
        self, record_ids, version, sequence, previous, facts_by_record, texts_by_record
    ):
        """The evidence values of the records ``record_ids`` (in chain order)
        taking the places after ``sequence``, chained from ``previous`` (the
        hash at ``sequence``): ``[{field: value}, ...]``, hashed by
        ``tools/evidence`` as the check recomputes them."""
        links = []
        previous = previous or False
        for record_id in record_ids:
            sequence += 1
            digest = evidence.text_digest(texts_by_record[record_id])
            payload = self._evidence_payload(
                version, facts_by_record[record_id], sequence, digest
            )
            evidence_hash = evidence.chain_hash(previous, payload, version)
            links.append(
                {
                    "evidence_sequence": sequence,
                    "evidence_previous_hash": previous,
                    "evidence_text_digest": digest,
                    "evidence_version": version,
                    "evidence_hash": evidence_hash,
                }
            )
            previous = evidence_hash
        return links

    # ------------------------------------------------------------------
    # Checking
    # ------------------------------------------------------------------

    @api.model
    def check_evidence_integrity(self, incremental=False):
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

        With ``incremental``, only the links added since the last verified
        one (each company records its place, hash and when) are recomputed,
        after checking that the verified link still holds its place and hash
        and that no place up to it was emptied; when that no longer holds,
        or nothing was verified yet, the whole chain is checked. A change of
        the content of a link before the verified one is found by the full
        check only.

        :return: recordset, empty when the evidence is intact
        """
        results = self._check_evidence_integrity(
            self._evidence_check_companies(), incremental=incremental
        )
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
    def _check_evidence_integrity(self, companies, incremental=False):
        """Check the evidence chains of ``companies`` (no access check: the
        server's path; ``check_evidence_integrity`` is the managers').

        Streamed: one query per batch of links (keyset on the place in the
        chain), hashed with the code that secured them; only the last link,
        the findings and the current anchor's leaves are kept between
        batches. When a company's chain is found intact, its last link is
        recorded as verified (place, hash, time) for the next incremental
        check.

        :return: one dict per company: ``company``, ``checked_at``, ``mode``
            (``full`` or ``incremental``), ``verified_place`` /
            ``verified_at`` (the verified link an incremental check started
            from, else 0 / False), ``fallback`` (why an incremental check
            read the whole chain, else False), ``checked`` (links read),
            ``first``/``last`` (places read), ``head`` (place the company
            recorded), ``versions``, ``broken_ids`` (records that no longer
            match), ``missing`` (places no record holds any more) and
            ``reported_ids`` (the broken records and the neighbours of the
            missing places)
        """
        self._evidence_refresh()
        companies = companies.sudo()
        companies.invalidate_recordset(
            [
                "spa_evidence_sequence",
                "spa_evidence_head_hash",
                *VERIFIED_FIELDS,
            ]
        )
        # Finished records that never got a place (a partial index keeps this
        # one query cheap whatever the chain's length).
        self.env.cr.execute(
            SQL(
                """SELECT id, company_id FROM %s
                    WHERE company_id IN %s AND state IN %s
                      AND (evidence_hash IS NULL
                           OR COALESCE(evidence_sequence, 0) = 0)""",
                SQL.identifier(self._table),
                tuple(companies.ids) or (0,),
                tuple(self._evidence_final_states),
            )
        )
        unsecured = defaultdict(set)
        for record_id, company_id in self.env.cr.fetchall():
            unsecured[company_id].add(record_id)
        now = fields.Datetime.now()
        results = []
        for company in companies.sorted("id"):
            result = None
            if incremental and company.spa_evidence_verified_sequence:
                result = self._evidence_check_chain(company, now, incremental=True)
            if result is None or result.get("fallback_needed"):
                fallback = result and result["fallback"]
                result = self._evidence_check_chain(company, now)
                if incremental:
                    result["fallback"] = fallback or self.env._(
                        "nothing was verified before"
                    )
            result["broken_ids"] |= unsecured[company.id]
            result["reported_ids"] = result["broken_ids"] | result["neighbour_ids"]
            if not (
                result["reported_ids"]
                or result["missing"]
                or result.get("broken_anchors")
            ):
                self._evidence_record_verified(company, result, now)
            results.append(result)
        return results

    @api.model
    def _evidence_record_verified(self, company, result, now):
        """Record ``company``'s last verified link and when it was verified,
        when it changed (a server write: nobody may write it, see
        ``res.company``'s write policy)."""
        if company.spa_evidence_verified_at and (
            not result["last"]
            or (
                result["last"] == company.spa_evidence_verified_sequence
                and result["last_hash"] == company.spa_evidence_verified_hash
            )
        ):
            # Nothing new verified: the record stays as it was.
            return
        company._write_server(
            {
                "spa_evidence_verified_sequence": result["last"] or 0,
                "spa_evidence_verified_hash": result["last_hash"] or False,
                "spa_evidence_verified_at": now,
            }
        )
        company.flush_recordset(list(VERIFIED_FIELDS))

    @api.model
    def _evidence_check_chain(self, company, now, incremental=False):
        """Check ``company``'s chain, whole or (``incremental``) from its
        last verified link. Returns the result (see
        ``_check_evidence_integrity``); an incremental result whose verified
        part changed has ``fallback_needed`` set and ``fallback`` saying why.
        """
        cr = self.env.cr
        table = SQL.identifier(self._table)
        head = company.spa_evidence_sequence or 0
        result = {
            "company": company,
            "checked_at": now,
            "mode": "incremental" if incremental else "full",
            "verified_place": 0,
            "verified_at": False,
            "fallback": False,
            "checked": 0,
            "first": False,
            "last": False,
            "last_hash": False,
            "head": head,
            "head_hash": company.spa_evidence_head_hash or False,
            "versions": set(),
            "broken_ids": set(),
            "neighbour_ids": set(),
            "missing": [],
        }
        anchors = self.env["spa.evidence.anchor"]
        if self._evidence_anchored:
            anchors = anchors.sudo().search(
                [("company_id", "=", company.id)], order="chain_sequence"
            )
            result["anchors_checked"] = 0
            result["broken_anchors"] = anchors.browse()
        # (place, id, hash, version) of the link before the first one read.
        previous = (0, 0, False, 0)
        if incremental:
            verified = company.spa_evidence_verified_sequence
            verified_hash = company.spa_evidence_verified_hash
            result["verified_place"] = verified
            result["verified_at"] = company.spa_evidence_verified_at
            anchors = anchors.filtered(lambda a: a.chain_sequence > verified)
            # An anchor that covers verified links is read whole.
            start = min([verified, *(a.first_sequence - 1 for a in anchors[:1])])
            cr.execute(
                SQL(
                    """SELECT evidence_sequence, id, evidence_hash,
                              COALESCE(evidence_version, 1)
                         FROM %s
                        WHERE company_id = %s AND evidence_sequence IN %s
                     ORDER BY evidence_sequence, id""",
                    table,
                    company.id,
                    (start, verified),
                )
            )
            boundary = {row[0]: row for row in cr.fetchall()}
            # Every place up to the verified one still held (one index scan).
            cr.execute(
                SQL(
                    """SELECT COUNT(*) FROM %s
                        WHERE company_id = %s
                          AND evidence_sequence BETWEEN 1 AND %s""",
                    table,
                    company.id,
                    verified,
                )
            )
            (count,) = cr.fetchone()
            if (boundary.get(verified) or (0, 0, False))[2] != verified_hash:
                result["fallback"] = self.env._(
                    "the verified link at place %(place)s no longer holds its hash",
                    place=verified,
                )
            elif count != verified:
                result["fallback"] = self.env._(
                    "%(count)s link(s) hold the %(verified)s places verified before",
                    count=count,
                    verified=verified,
                )
            elif start and start not in boundary:
                result["fallback"] = self.env._(
                    "place %(place)s holds no link", place=start
                )
            if result["fallback"]:
                result["fallback_needed"] = True
                return result
            if start:
                previous = boundary[start]
        anchor_check = _AnchorCheck(anchors, result)
        where = SQL("r.company_id = %s", company.id)
        order = SQL("r.evidence_sequence")
        last_place = previous[0]
        # Each batch reads a few thousand rows by index: compiling it (JIT,
        # for its high estimate over a long chain) costs more than it saves.
        cr.execute("SET LOCAL jit = off")
        with _without_cyclic_gc():
            while True:
                rows = self._evidence_rows(
                    SQL("%s AND r.evidence_sequence > %s", where, last_place),
                    order=order,
                    limit=INTEGRITY_BATCH_SIZE,
                )
                if not rows:
                    break
                previous = self._evidence_check_rows(
                    rows, result, previous, anchor_check
                )
                last_place = previous[0]
        cr.execute("SET LOCAL jit TO DEFAULT")
        result["last_hash"] = previous[2] if result["last"] else False
        # Places after the last link read, up to the head, are missing.
        if previous[0] < head:
            result["missing"].extend(range(previous[0] + 1, head + 1))
            if previous[1]:
                result["neighbour_ids"].add(previous[1])
        anchor_check.finish()
        return result

    def _evidence_check_rows(self, rows, result, previous, anchor_check):
        """Check a batch of rows (``_evidence_rows``) of one company's
        chain, in place order, continuing from ``previous`` (place, id, hash,
        version of the link before); record the findings in ``result``.
        Returns the last link of the batch."""
        final_states = self._evidence_final_states
        head, head_hash = result["head"], result["head_hash"]
        broken = result["broken_ids"]
        last_place, last_id, last_hash, last_version = previous
        chain = []
        for row in rows:
            (record_id, __, state, place, stored, stored_previous) = row[:6]
            (digest, version, anonymised, facts, texts) = row[6:]
            version = version or 1
            if place > last_place + 1:
                # Places no link holds any more: the links around are reported.
                result["missing"].extend(range(last_place + 1, place))
                result["neighbour_ids"].add(record_id)
                if last_id:
                    result["neighbour_ids"].add(last_id)
            if anonymised:
                # Once anonymised, the clinical free text is empty.
                if any(text for __, text in texts):
                    broken.add(record_id)
            elif evidence.text_digest(texts) != digest:
                broken.add(record_id)
            if state not in final_states or place > head:
                broken.add(record_id)
            if place == head and head_hash and stored != head_hash:
                broken.add(record_id)
            payload = self._evidence_payload(
                version, self._evidence_facts_of(version, facts), place, digest
            )
            chain.append((record_id, stored, stored_previous, payload, version))
            result["versions"].add(version)
            anchor_check.feed(place, record_id, stored)
            last_place, last_id, last_hash = place, record_id, stored
            last_version = version
        # The batch continues the chain from the last link of the batch
        # before (hashed by the code that secured them).
        broken.update(evidence.broken_links(chain, previous[2], previous[3]))
        result["checked"] += len(rows)
        result["first"] = result["first"] or rows[0][3]
        result["last"] = last_place
        return (last_place, last_id, last_hash, max(last_version, previous[3]))

    def _evidence_stored_payloads(self):
        """``{id: payload}, {id: texts}``: what the hash of each secured
        record of ``self`` covers, under the version it was secured with, as
        the integrity check recomputes it (the evidence bundle exports these
        very payloads), and its clinical free text; read from the database
        as one batch (flush first: ``_evidence_refresh``).
        """
        payloads, texts_by_record = {}, {}
        if not self:
            return payloads, texts_by_record
        for row in self._evidence_rows(SQL("r.id IN %s", tuple(self.ids))):
            record_id, place, digest, version = row[0], row[3], row[6], row[7] or 1
            payloads[record_id] = self._evidence_payload(
                version, self._evidence_facts_of(version, row[9]), place, digest
            )
            texts_by_record[record_id] = row[10]
        return payloads, texts_by_record


class _AnchorCheck:
    """The anchors of one company's chain, checked as the chain streams by
    (anchors cover consecutive ranges of places, in order): only the current
    anchor's leaves are kept.

    An anchor fixed the chain head and the Merkle root over the places it
    covers: a rewrite of the chain after it (every hash recomputed, the
    company's chain head included) no longer gives that head or that root,
    and the anchor's timestamp token must still stamp its root. The records
    of the places of a failing anchor are reported; the anchors in
    ``result["broken_anchors"]``.
    """

    def __init__(self, anchors, result):
        self.anchors = list(anchors)
        self.result = result
        self.leaves = {}

    def feed(self, place, record_id, stored_hash):
        while self.anchors and place > self.anchors[0].chain_sequence:
            self._check(self.anchors.pop(0))
        if self.anchors and place >= self.anchors[0].first_sequence:
            self.leaves[place] = (record_id, stored_hash)

    def finish(self):
        while self.anchors:
            self._check(self.anchors.pop(0))

    def _check(self, anchor):
        places = range(anchor.first_sequence, anchor.chain_sequence + 1)
        links = [self.leaves.get(place) for place in places]
        self.leaves = {}
        hashes = [link[1] if link else "" for link in links]
        head = links[-1][1] if links and links[-1] else False
        self.result["anchors_checked"] += 1
        if (
            head != anchor.chain_hash
            or merkle_root(hashes) != anchor.merkle_root
            or not anchor._token_matches_root()
        ):
            self.result["broken_anchors"] |= anchor
            self.result["broken_ids"].update(link[0] for link in links if link)
