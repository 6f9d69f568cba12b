"""Use case 1: import contacts from a CSV file in the background.

The job checks the whole file before it writes anything, so a file that is
too big, not UTF-8, empty or with the wrong columns fails the job with one
sentence and imports nothing. Good rows are then written in chunks, with
progress after each chunk; bad rows go to a result file. Each row carries an
``external_id`` that becomes an XML id: importing a file again updates the
contacts it created instead of creating them twice.
"""

import base64
import csv
import hashlib
import io
import re
import time

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import FailedJobError

from odoo.addons.queue_job.progress import attach_result, notify_progress

XMLID_MODULE = "queue_job_demo_import"
REQUIRED_COLUMNS = ("external_id", "name")
OPTIONAL_COLUMNS = ("email", "phone", "city", "country_code")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_contacts_csv(env, data: bytes) -> list[dict]:
    """The rows of ``data`` as dicts, or FailedJobError saying what is wrong with the file as a whole."""
    if len(data) > MAX_BYTES:
        raise FailedJobError(env._(
            "The file is %(size).1f MB; at most %(limit)d MB can be imported at once. Split it and import each part.",
            size=len(data) / 1024 / 1024, limit=MAX_BYTES // 1024 // 1024,
        ))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FailedJobError(env._(
            "The file is not UTF-8 text (byte 0x%(byte)02x at position %(pos)d). "
            "Save it as \"CSV UTF-8\" and import it again.",
            byte=data[exc.start], pos=exc.start,
        )) from None
    if not text.strip():
        raise FailedJobError(env._("The file is empty: nothing to import."))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), restkey="__extra__")
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        unknown = [c for c in columns if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if missing or unknown:
            problems = []
            if missing:
                problems.append(env._("missing column(s): %s", ", ".join(missing)))
            if unknown:
                problems.append(env._("unknown column(s): %s", ", ".join(unknown)))
            raise FailedJobError(env._(
                "The first line of the file is wrong (%(problems)s). Expected columns: %(expected)s.",
                problems="; ".join(problems), expected=", ".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS),
            ))
        reader.fieldnames = columns
        rows = []
        for row in reader:
            if len(rows) >= MAX_ROWS:
                raise FailedJobError(env._("The file has more than %d rows. Split it and import each part.", MAX_ROWS))
            rows.append(row)
    except csv.Error as exc:
        raise FailedJobError(env._("The file is not a valid CSV file (line %(line)d: %(error)s).",
                               line=reader.line_num, error=exc)) from None
    if not rows:
        raise FailedJobError(env._("The file has a header line but no rows: nothing to import."))
    return rows


class QueueJobDemoImport(models.Model):
    _name = "queue.job.demo.import"
    _inherit = "queue.job.demo.mixin"
    _description = "Job Queue Demo: CSV import of contacts"

    file = fields.Binary(string="CSV file", attachment=True, copy=False)
    filename = fields.Char()
    chunk_size = fields.Integer(default=500, help="Contacts written between two progress reports.")
    sample_rows = fields.Integer(string="Rows in the sample file", default=10_000)
    created_count = fields.Integer(string="Created", readonly=True, copy=False)
    updated_count = fields.Integer(string="Updated", readonly=True, copy=False)
    bad_count = fields.Integer(string="Bad rows", readonly=True, copy=False)
    result_attachment_id = fields.Many2one("ir.attachment", string="Bad rows file", readonly=True, copy=False)

    _sql_constraints = [("chunk_size_positive", "CHECK(chunk_size > 0)", "The chunk size must be positive.")]

    def action_generate_sample(self):
        """Fill in a sample file: contacts with a few bad rows among them."""
        for record in self:
            record.write({
                "file": base64.b64encode(_sample_csv(max(record.sample_rows, 1)).encode()),
                "filename": f"contacts-{record.sample_rows}.csv",
            })
        return True

    def action_start(self):
        for record in self:
            if not record.file:
                raise UserError(_("Choose a CSV file first (or generate the sample one)."))
            record.write({"date_finished": False, "summary": False})
            job = record.with_delay(
                notify=True,  # the user is told when the import ends
                description=_("Import contacts from %s", record.filename or record.name),
                # A second click while the first import waits enqueues nothing.
                identity_key=f"queue_job_demo_import-{record.id}-{hashlib.sha1(record._file_bytes()).hexdigest()}",
            ).import_contacts()
            record._follow_job(job)
        return True

    def import_contacts(self) -> str:
        """The job: check the whole file, then write good rows in chunks."""
        self.ensure_one()
        rows = parse_contacts_csv(self.env, self._file_bytes())
        good, bad = _split_rows(self.env, rows)
        Partner = self.env["res.partner"]
        existing = self._existing_partners([values["external_id"] for values in good])
        created = updated = 0
        step_delay = self._step_delay()
        for start in range(0, len(good), self.chunk_size):
            chunk = good[start:start + self.chunk_size]
            new = [values for values in chunk if values["external_id"] not in existing]
            for values in chunk:
                partner = existing.get(values["external_id"])
                if partner:
                    changed = _changed_values(partner, _partner_values(values))
                    if changed:
                        partner.write(changed)
                        updated += 1
            partners = Partner.create([_partner_values(values) for values in new])
            self.env["ir.model.data"].create([
                {"module": XMLID_MODULE, "name": values["external_id"], "model": "res.partner", "res_id": partner.id}
                for values, partner in zip(new, partners)
            ])
            created += len(partners)
            notify_progress(start + len(chunk), total=len(good), message=_("%d contacts written", start + len(chunk)))
            if step_delay:
                time.sleep(step_delay)
        attachment = attach_result("bad_rows.csv", _bad_rows_csv(bad), "text/csv") if bad else False
        summary = _("%(created)s contacts created, %(updated)s updated, %(bad)s bad rows.",
                    created=f"{created:,}", updated=f"{updated:,}", bad=f"{len(bad):,}")
        self.write({
            "created_count": created,
            "updated_count": updated,
            "bad_count": len(bad),
            "result_attachment_id": attachment and attachment.id,
        })
        self._mark_finished(summary)
        return summary

    def _file_bytes(self) -> bytes:
        file = self.with_context(bin_size=False).file
        return base64.b64decode(file) if file else b""

    def _existing_partners(self, external_ids):
        data = self.env["ir.model.data"].search([
            ("module", "=", XMLID_MODULE), ("model", "=", "res.partner"), ("name", "in", external_ids),
        ])
        partners = self.env["res.partner"].browse(data.mapped("res_id")).exists()
        return {d.name: partners.browse(d.res_id) for d in data if d.res_id in partners.ids}

    def action_download_result(self):
        self.ensure_one()
        if not self.result_attachment_id:
            raise UserError(_("This import has no bad rows, so there is no file to download."))
        return {"type": "ir.actions.act_url", "url": f"/web/content/{self.result_attachment_id.id}?download=true"}


def _changed_values(partner, values: dict) -> dict:
    current = {
        "name": partner.name,
        "email": partner.email or False,
        "phone": partner.phone or False,
        "city": partner.city or False,
        "country_id": partner.country_id.id or False,
    }
    return {key: value for key, value in values.items() if current[key] != value}


def _split_rows(env, rows):
    """(good rows, bad rows with their reason); a row is bad on its own, never the file."""
    countries = {c.code: c.id for c in env["res.country"].search([])}
    good, bad, seen = [], [], set()
    for line, row in enumerate(rows, start=2):
        values = {key: (row.get(key) or "").strip() for key in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
        code = values["country_code"].upper()
        if row.get("__extra__"):
            reason = env._("more values than columns")
        elif not EXTERNAL_ID.match(values["external_id"]):
            reason = env._("external_id must be 1-64 letters, digits, - or _")
        elif values["external_id"] in seen:
            reason = env._("external_id %s appears twice in the file", values["external_id"])
        elif not values["name"]:
            reason = env._("name is empty")
        elif values["email"] and "@" not in values["email"]:
            reason = env._("email %s has no @", values["email"])
        elif code and code not in countries:
            reason = env._("unknown country code %s", code)
        else:
            seen.add(values["external_id"])
            values["country_id"] = countries.get(code, False)
            good.append(values)
            continue
        bad.append((line, row, reason))
    return good, bad


def _partner_values(values):
    return {
        "name": values["name"],
        "email": values["email"] or False,
        "phone": values["phone"] or False,
        "city": values["city"] or False,
        "country_id": values["country_id"],
    }


def _bad_rows_csv(bad) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "reason", *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])
    for line, row, reason in bad:
        writer.writerow([line, reason, *[row.get(c) or "" for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]])
    return out.getvalue()


def _sample_csv(rows: int) -> str:
    """``rows`` contacts; one in 500 is bad (no name, a broken email, an unknown country)."""
    cities = [("Brussels", "BE"), ("Lyon", "FR"), ("Porto", "PT"), ("Leipzig", "DE"), ("Austin", "US")]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    for n in range(1, rows + 1):
        city, country = cities[n % len(cities)]
        name, email = f"Demo Contact {n:05d}", f"contact{n:05d}@example.com"
        if n % 500 == 0:
            flaws = [("", email, country), (name, "not-an-email", country), (name, email, "XX")]
            name, email, country = flaws[n // 500 % 3]
        writer.writerow([f"demo_contact_{n:05d}", name, email, f"+32 2 555 {n:05d}", city, country])
    return out.getvalue()
