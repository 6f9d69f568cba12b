"""``delayable()``, ``chain()``, ``group()``, ``on_done()`` and identity keys."""

from odoo.exceptions import UserError
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.queue_job.delay import Delayable, DelayableChain, DelayableGroup, chain, group
from odoo.addons.queue_job.job import Job, identity_exact
from odoo.addons.queue_job.tests.common import trap_jobs


@tagged("post_install", "-at_install")
class TestDelayableGraph(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Graph Partner"})

    def _step(self, label):
        return self.partner.delayable(description=label).message_post(body=label, message_type="comment")

    def _records(self, *delayables):
        uuids = [d._generated_job.uuid for d in delayables]
        records = self.env["queue.job"].search([("uuid", "in", uuids)])
        self.assertEqual(len(records), len(uuids))
        by_uuid = {record.uuid: record for record in records}
        return [by_uuid[uuid] for uuid in uuids]

    def _posted_bodies(self):
        messages = self.partner.message_ids.filtered(lambda m: m.message_type == "comment").sorted("id")
        return [str(m.body).replace("<p>", "").replace("</p>", "") for m in messages]

    def test_delayable_set(self):
        delayable = self.partner.delayable(priority=3)
        self.assertIsInstance(delayable, Delayable)
        self.assertIs(delayable.set(channel="root.x", max_retries=2), delayable)
        delayable.set({"description": "described"})
        self.assertEqual((delayable.priority, delayable.channel, delayable.max_retries), (3, "root.x", 2))
        with self.assertRaisesRegex(ValueError, "unknown job property"):
            delayable.set(colour="blue")
        delayable.write({"ref": "x"}).delay()
        record = self.env["queue.job"].search([("uuid", "=", delayable._generated_job.uuid)])
        self.assertEqual((record.priority, record.channel, record.max_retries), (3, "root.x", 2))
        self.assertEqual(record.name, "described")
        # A single job is not a graph.
        self.assertFalse(record.graph_uuid)
        self.assertEqual(record.dependencies, {"depends_on": [], "reverse_depends_on": []})

    def test_chain_stored(self):
        first, second, third = self._step("1"), self._step("2"), self._step("3")
        the_chain = chain(first, second, third)
        self.assertIsInstance(the_chain, DelayableChain)
        the_chain.delay()
        r1, r2, r3 = self._records(first, second, third)
        self.assertTrue(r1.graph_uuid)
        self.assertEqual({r1.graph_uuid, r2.graph_uuid, r3.graph_uuid}, {r1.graph_uuid})
        self.assertEqual(r1.state, "pending")
        self.assertEqual(r2.state, "wait_dependencies")
        self.assertEqual(r3.state, "wait_dependencies")
        self.assertEqual(r1.dependencies, {"depends_on": [], "reverse_depends_on": [r2.uuid]})
        self.assertEqual(r2.dependencies, {"depends_on": [r1.uuid], "reverse_depends_on": [r3.uuid]})
        self.assertEqual(r3.dependencies, {"depends_on": [r2.uuid], "reverse_depends_on": []})
        self.assertEqual(r1.graph_jobs_count, 3)
        # The Job loaded back knows its neighbours.
        loaded = Job.load(self.env, r2.uuid)
        self.assertEqual({j.uuid for j in loaded.depends_on}, {r1.uuid})
        self.assertEqual({j.uuid for j in loaded.reverse_depends_on}, {r3.uuid})
        self.assertEqual(len(r1.dependency_graph["nodes"]), 3)
        edges = sorted(tuple(edge) for edge in r1.dependency_graph["edges"])
        self.assertEqual(edges, sorted([(r1.id, r2.id), (r2.id, r3.id)]))

    def test_group_on_done_stored(self):
        a, b, c, d = self._step("a"), self._step("b"), self._step("c"), self._step("d")
        the_group = group(a, b)
        self.assertIsInstance(the_group, DelayableGroup)
        the_group.on_done(chain(c, d))
        the_group.delay()
        ra, rb, rc, rd = self._records(a, b, c, d)
        self.assertEqual(len({ra.graph_uuid, rb.graph_uuid, rc.graph_uuid, rd.graph_uuid}), 1)
        self.assertEqual((ra.state, rb.state), ("pending", "pending"))
        self.assertEqual((rc.state, rd.state), ("wait_dependencies", "wait_dependencies"))
        self.assertEqual(rc.dependencies["depends_on"], sorted([ra.uuid, rb.uuid]))
        self.assertEqual(ra.dependencies["reverse_depends_on"], [rc.uuid])
        self.assertEqual(rb.dependencies["reverse_depends_on"], [rc.uuid])
        self.assertEqual(rd.dependencies["depends_on"], [rc.uuid])

    def test_delayable_on_done_stored(self):
        parent, child1, child2 = self._step("p"), self._step("c1"), self._step("c2")
        parent.on_done(child1, child2)
        parent.delay()
        rp, rc1, rc2 = self._records(parent, child1, child2)
        self.assertEqual(rp.state, "pending")
        self.assertEqual((rc1.state, rc2.state), ("wait_dependencies", "wait_dependencies"))
        self.assertEqual(rp.dependencies["reverse_depends_on"], sorted([rc1.uuid, rc2.uuid]))
        self.assertEqual(rc1.graph_uuid, rp.graph_uuid)

    def test_perform_chain_in_order(self):
        steps = [self._step(label) for label in ("one", "two", "three", "four")]
        # Declared backwards: the run order must follow the chain, not creation.
        with trap_jobs() as trap:
            chain(*reversed(steps)).delay()
            trap.assert_jobs_count(4)
            self.assertFalse(self._posted_bodies())
            trap.perform_enqueued_jobs()
        self.assertEqual(self._posted_bodies(), ["four", "three", "two", "one"])

    def test_perform_group_then_chain_in_order(self):
        a, b, c, d = self._step("a"), self._step("b"), self._step("c"), self._step("d")
        with trap_jobs() as trap:
            chain(d, group(b, c), a).delay()
            trap.perform_enqueued_jobs()
        bodies = self._posted_bodies()
        self.assertEqual(len(bodies), 4)
        self.assertEqual(bodies[0], "d")
        self.assertEqual(set(bodies[1:3]), {"b", "c"})
        self.assertEqual(bodies[3], "a")

    def test_delay_without_method(self):
        with self.assertRaisesRegex(ValueError, "no method"):
            self.partner.delayable().delay()


@tagged("post_install", "-at_install")
class TestIdentityKey(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Identity Partner"})

    def _count(self, key):
        return self.env["queue.job"].search_count([("identity_key", "=", key)])

    def test_string_key(self):
        first = self.partner.with_delay(identity_key="sync-partner").write({"ref": "1"})
        second = self.partner.with_delay(identity_key="sync-partner").write({"ref": "2"})
        self.assertEqual(second.uuid, first.uuid)
        self.assertEqual(self._count("sync-partner"), 1)
        record = self.env["queue.job"].search([("identity_key", "=", "sync-partner")])
        self.assertEqual(record.args, ({"ref": "1"},))
        # Once the first job is done, the key is free again.
        record.button_done()
        third = self.partner.with_delay(identity_key="sync-partner").write({"ref": "3"})
        self.assertNotEqual(third.uuid, first.uuid)
        self.assertEqual(self._count("sync-partner"), 2)
        self.assertEqual(
            self.env["queue.job"].search([("uuid", "=", third.uuid)]).state, "pending"
        )

    def test_identity_exact(self):
        first = self.partner.with_delay(identity_key=identity_exact).write({"ref": "same"})
        key = self.env["queue.job"].search([("uuid", "=", first.uuid)]).identity_key
        self.assertTrue(key)
        self.assertEqual(len(key), 40)  # sha1 hex
        count = self.env["queue.job"].search_count([])
        again = self.partner.with_delay(identity_key=identity_exact).write({"ref": "same"})
        self.assertEqual(again.uuid, first.uuid)
        self.assertEqual(self.env["queue.job"].search_count([]), count)
        other = self.partner.with_delay(identity_key=identity_exact).write({"ref": "different"})
        self.assertNotEqual(other.uuid, first.uuid)
        self.assertEqual(self.env["queue.job"].search_count([]), count + 1)

    def test_delayable_identity_key(self):
        first = self.partner.delayable(identity_key="delayable-key").write({"ref": "1"})
        first.delay()
        second = self.partner.delayable(identity_key="delayable-key").write({"ref": "2"})
        second.delay()
        self.assertEqual(second._generated_job.uuid, first._generated_job.uuid)
        self.assertEqual(self._count("delayable-key"), 1)

    def test_requeue_blocked_by_twin(self):
        first = self.partner.with_delay(identity_key="twin-key").write({"ref": "1"})
        record = self.env["queue.job"].search([("uuid", "=", first.uuid)])
        record.button_cancelled()
        second = self.partner.with_delay(identity_key="twin-key").write({"ref": "2"})
        self.assertNotEqual(second.uuid, first.uuid)
        with self.assertRaisesRegex(UserError, "same identity key"):
            record.requeue()
        self.assertEqual(record.state, "cancelled")
