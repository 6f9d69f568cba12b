import datetime
import http.server
import json
import threading
from unittest import mock

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from odoo.addons.queue_job.exception import RetryableJobError

from .. import figures
from ..models.queue_job_alert_rule import QueueJobAlertRule
from .common import MonitorCase


class _Hook(http.server.BaseHTTPRequestHandler):
    status = 200
    received = []

    def do_POST(self):
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install")
class TestAlertRules(MonitorCase):
    def setUp(self):
        super().setUp()
        self.Rule = self.env["queue.job.alert.rule"]
        self.Rule.search([]).active = False  # the shipped rules would speak too
        self.now = figures.now(self.env.cr)

    def make_rule(self, **vals):
        return self.Rule.create({"name": "test rule", "metric": "ready_count", "operator": ">", "threshold": 2,
                                 "cooldown_minutes": 10, "user_ids": [(4, self.env.ref("base.user_admin").id)],
                                 **vals})  # fmt: skip

    def messages(self, rule, word):
        return rule.message_ids.filtered(lambda m: word in (m.body or ""))

    def test_fires_once_and_resolves_once(self):
        rule = self.make_rule(channel="root.alert")
        jobs = [self.insert_job("pending", "root.alert", created_ago=5) for _n in range(3)]
        rule._evaluate(self.now)
        self.assertEqual(rule.state, "firing")
        rule._evaluate(self.now + datetime.timedelta(minutes=1))
        self.assertEqual(len(self.messages(rule, "FIRING")), 1, "no message while it keeps firing")
        self.assertEqual(self.messages(rule, "FIRING").partner_ids, self.env.ref("base.user_admin").partner_id)
        self.env.cr.execute("DELETE FROM queue_job WHERE id = ANY(%s)", (jobs,))
        rule._evaluate(self.now + datetime.timedelta(minutes=2))
        self.assertEqual(rule.state, "resolved")
        rule._evaluate(self.now + datetime.timedelta(minutes=3))
        self.assertEqual(len(self.messages(rule, "RESOLVED")), 1)

    def test_cooldown_holds_back_a_new_firing_message(self):
        rule = self.make_rule(channel="root.flap", cooldown_minutes=10)
        jobs = [self.insert_job("pending", "root.flap") for _n in range(3)]
        rule._evaluate(self.now)
        self.env.cr.execute("UPDATE queue_job SET state = 'done' WHERE id = ANY(%s)", (jobs,))
        rule._evaluate(self.now + datetime.timedelta(minutes=1))
        self.env.cr.execute("UPDATE queue_job SET state = 'pending' WHERE id = ANY(%s)", (jobs,))
        rule._evaluate(self.now + datetime.timedelta(minutes=2))
        self.assertEqual(rule.state, "firing")
        self.assertEqual(len(self.messages(rule, "FIRING")), 1, "within the cooldown: no second message")
        rule._evaluate(self.now + datetime.timedelta(minutes=11))
        self.assertEqual(len(self.messages(rule, "FIRING")), 2, "announced once the cooldown is over")

    def test_failure_rate_needs_a_minimum_count(self):
        rule = self.make_rule(metric="failure_rate", threshold=5, window_minutes=15, min_count=20, channel="root.fr")
        jobs = [self.insert_job("started", "root.fr", started_ago=1) for _n in range(3)]
        self.set_state(jobs[:2], "done", done_ago=0, exec_time=1)
        self.set_state(jobs[2:], "failed")
        rule._evaluate(self.now)
        self.assertEqual(rule.state, "resolved", "1 failure of 3 jobs pages nobody")
        more = [self.insert_job("started", "root.fr", started_ago=1) for _n in range(20)]
        self.set_state(more[:15], "done", done_ago=0, exec_time=1)
        self.set_state(more[15:], "failed")
        rule._evaluate(self.now)
        self.assertEqual(rule.state, "firing")
        self.assertAlmostEqual(rule.last_value, 100 * 6 / 23, places=3)

    def test_shipped_rules(self):
        names = self.Rule.with_context(active_test=False).search([]).mapped("metric")
        self.assertEqual(set(names), {"oldest_ready_age", "failure_rate", "runner_silent", "stuck_started"})
        stuck = self.env.ref("queue_job_monitor.alert_rule_stuck_started")
        stuck.active = True
        self.insert_job("started", "root.stuck", started_ago=400, hard_timeout=60)
        stuck._evaluate(self.now)
        self.assertEqual((stuck.state, stuck.last_value), ("firing", 1.0))

    def test_nonsense_is_refused_with_a_reason(self):
        cases = [
            ({"threshold": -1}, "threshold cannot be negative"),
            ({"window_minutes": 0}, "window must be between"),
            ({"cooldown_minutes": -5}, "cooldown must be between"),
            ({"metric": "failure_rate", "threshold": 150}, "percentage"),
            ({"webhook_url": "ftp://example"}, "must start with http"),
            ({"min_count": -1}, "minimum count"),
        ]
        for vals, message in cases:
            with self.subTest(vals=vals), self.assertRaisesRegex(ValidationError, message):
                with self.env.cr.savepoint():
                    self.make_rule(**vals)

    def test_a_broken_rule_does_not_stop_the_others(self):
        broken = self.make_rule(name="broken", channel="root.b1")
        working = self.make_rule(name="working", channel="root.b2")
        for _n in range(3):
            self.insert_job("pending", "root.b2")
        original = QueueJobAlertRule._value

        def value(rule, cr, now):
            if rule.name == "broken":
                raise RuntimeError("metric exploded")
            return original(rule, cr, now)

        with mock.patch.object(QueueJobAlertRule, "_value", value), self.assertLogs(level="ERROR"):
            (broken | working)._evaluate(self.now)
        self.assertEqual(working.state, "firing")

    def test_webhook_sent_by_a_job_and_retried(self):
        server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_port}/hook"
            rule = self.make_rule(channel="root.hook", webhook_url=url)
            for _n in range(3):
                self.insert_job("pending", "root.hook")
            rule._evaluate(self.now)
            job = self.env["queue.job"].search([("method_name", "=", "_post_webhook")])
            self.assertEqual((len(job), job.channel), (1, "root.queue_job_monitor"))
            payload = {"rule": rule.name, "status": "firing"}
            _Hook.status = 500
            with self.assertRaises(RetryableJobError):
                rule._post_webhook(payload)
            _Hook.status = 200
            self.assertIn("200", rule._post_webhook(payload))
            self.assertEqual(_Hook.received[-1], payload)
        finally:
            server.shutdown()
            server.server_close()
        rule.sudo().webhook_url = "http://127.0.0.1:9/unreachable"
        with self.assertRaises(RetryableJobError):
            rule._post_webhook(payload)

    def test_test_button(self):
        rule = self.make_rule()
        action = rule.action_test()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(len(self.messages(rule, "Test of rule")), 1)

    def test_managers_only(self):
        user = self.env["res.users"].create({"name": "Plain", "login": "alert_plain_user",
                                             "groups_id": [(6, 0, [self.env.ref("base.group_user").id])]})  # fmt: skip
        rule = self.make_rule(webhook_url="https://hooks.example/x")
        with self.assertRaises(AccessError):
            rule.with_user(user).read(["name"])
        with self.assertRaises(AccessError):
            self.env["queue.job.metric"].with_user(user).search([])
