import json
import os
import re
from unittest import mock

from odoo.tests import HttpCase, tagged

TOKEN = "s3cret-token-for-tests"


@tagged("post_install", "-at_install")
class TestEndpoints(HttpCase):
    def get(self, path, token=None, header=None, db=True):
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if header is not None:
            headers["Authorization"] = header
        params = f"?db={self.env.cr.dbname}" if db is True else (f"?db={db}" if db else "")
        return self.url_open(path + params, headers=headers, allow_redirects=False)

    def with_token(self, token=TOKEN):
        return mock.patch.dict(os.environ, {"ODOO_QUEUE_JOB_METRICS_TOKEN": token})

    def test_metrics_hidden_without_configured_token(self):
        with mock.patch.dict(os.environ, {"ODOO_QUEUE_JOB_METRICS_TOKEN": ""}):
            response = self.get("/queue_job/metrics", token=TOKEN)
        self.assertEqual(response.status_code, 404)

    def test_metrics_refuse_missing_malformed_and_wrong_tokens(self):
        with self.with_token():
            missing = self.get("/queue_job/metrics")
            malformed = self.get("/queue_job/metrics", header="Basic Zm9vOmJhcg==")
            empty = self.get("/queue_job/metrics", header="Bearer")
            wrong = self.get("/queue_job/metrics", token="not-the-token")
        self.assertEqual(missing.status_code, 401)
        self.assertEqual(malformed.status_code, 401)
        self.assertEqual(empty.status_code, 401)
        self.assertEqual(wrong.status_code, 403)
        for response in (missing, malformed, empty, wrong):
            self.assertNotIn("odoo_queue_job_", response.text)

    def test_unknown_database_is_a_client_error(self):
        with self.with_token():
            response = self.get("/queue_job/metrics", token=TOKEN, db="no_such_database")
            health = self.get("/queue_job/health", db="no_such_database")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(health.status_code, 404)

    def test_paused_channels_in_metrics_and_dashboard(self):
        root = self.env.ref("queue_job.channel_root")
        parent = self.env["queue.job.channel"].create({"name": "metrics_paused", "parent_id": root.id})
        self.env["queue.job"].with_delay(channel="root.metrics_paused.child")._test_job()
        self.env["queue.job"].with_delay(channel="root.metrics_running")._test_job()
        parent.action_pause()
        self.env.flush_all()
        with self.with_token():
            text = self.get("/queue_job/metrics", token=TOKEN).text
        db = self.env.cr.dbname
        # A sub-channel of a paused channel is held too.
        self.assertIn(f'odoo_queue_job_channel_paused{{db="{db}",channel="root.metrics_paused.child"}} 1\n', text)
        self.assertIn(f'odoo_queue_job_channel_paused{{db="{db}",channel="root.metrics_running"}} 0\n', text)
        channels = {row["channel"]: row for row in self.env["queue.job.monitor"].dashboard_data("1h")["channels"]}
        self.assertEqual(
            (channels["root.metrics_paused"]["paused_here"], channels["root.metrics_paused"]["channel_id"]),
            (True, parent.id),
        )
        self.assertEqual(
            (channels["root.metrics_paused.child"]["paused"], channels["root.metrics_paused.child"]["paused_here"]),
            (True, False),
        )
        parent.action_resume()
        self.env.flush_all()
        with self.with_token():
            text = self.get("/queue_job/metrics", token=TOKEN).text
        self.assertIn(f'odoo_queue_job_channel_paused{{db="{db}",channel="root.metrics_paused.child"}} 0\n', text)

    def test_metrics_agree_with_the_database(self):
        self.env["queue.job"].with_delay(channel="root.metrics")._test_job()
        self.env["queue.job"].with_delay(channel="root.metrics")._test_job()
        self.env["queue.job"].flush_model()
        self.env.cr.execute("UPDATE queue_job SET state = 'failed' WHERE channel = 'root.metrics' AND id = "
                            "(SELECT max(id) FROM queue_job WHERE channel = 'root.metrics')")
        with self.with_token():
            response = self.get("/queue_job/metrics", token=TOKEN)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        text = response.text
        db = self.env.cr.dbname
        self.assertIn(f'odoo_queue_job_jobs{{db="{db}",channel="root.metrics",state="pending"}} 1\n', text)
        self.assertIn(f'odoo_queue_job_jobs{{db="{db}",channel="root.metrics",state="failed"}} 1\n', text)
        self.assertIn(
            f'odoo_queue_job_enqueued_total{{db="{db}",channel="root.metrics",function="<queue.job>._test_job"}} 2\n',
            text,
        )
        self.assertIn(
            f'odoo_queue_job_finished_total{{db="{db}",channel="root.metrics",function="<queue.job>._test_job",'
            f'outcome="failed"}} 1\n',
            text,
        )
        self.assertIn(f'odoo_queue_job_runner_up{{db="{db}"}} 0\n', text)
        self.assertIn("# TYPE odoo_queue_job_wait_seconds histogram", text)
        # Bounded labels only: no job uuid, record or user in any sample.
        label_names = set(re.findall(r'[{,](\w+)="', text))
        self.assertLessEqual(label_names, {"db", "channel", "function", "state", "outcome", "le"})
        self.assertNotRegex(text, r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            return
        families = {family.name: family for family in text_string_to_metric_families(text)}
        self.assertEqual(families["odoo_queue_job_finished"].type, "counter")
        self.assertEqual(families["odoo_queue_job_run_seconds"].type, "histogram")

    def test_a_scrape_folds_the_deltas_and_totals_stay(self):
        for _ in range(3):
            self.env["queue.job"].with_delay(channel="root.folded")._test_job()
        self.env["queue.job"].flush_model()
        db = self.env.cr.dbname
        sample = f'odoo_queue_job_enqueued_total{{db="{db}",channel="root.folded",function="<queue.job>._test_job"}} 3\n'
        with self.with_token():
            first = self.get("/queue_job/metrics", token=TOKEN).text
            self.env.cr.execute("SELECT count(*) FROM queue_job_monitor_delta")
            left = self.env.cr.fetchone()[0]
            second = self.get("/queue_job/metrics", token=TOKEN).text
        self.assertEqual(left, 0, "the scrape moved the deltas into the totals")
        self.assertIn(sample, first)
        self.assertIn(sample, second)

    def test_health_without_runner_is_503(self):
        response = self.get("/queue_job/health")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.text.strip(), "no runner")

    def test_health_detail_needs_the_token(self):
        with self.with_token():
            wrong = self.get("/queue_job/health", token="nope")
            right = self.get("/queue_job/health", token=TOKEN)
        self.assertEqual(wrong.status_code, 403)
        self.assertEqual(right.status_code, 503)
        detail = json.loads(right.text)
        self.assertEqual(detail["database"], self.env.cr.dbname)
        self.assertIsNone(detail["runner"])
