from odoo import _, api, fields, models
from odoo.tools import html_escape

from ..engine.graph import Graph
from ..engine.states import DONE, FAILED, STARTED
from ..fields import JobSerialized


class QueueJob(models.Model):
    """The graph a job belongs to: its jobs, and the picture the graph widget draws."""

    _inherit = "queue.job"

    dependency_graph = JobSerialized(base_type=dict, compute="_compute_dependency_graph")
    graph_jobs_count = fields.Integer(compute="_compute_graph_jobs_count")

    def _graph_jobs(self):
        uuids = [uuid for uuid in self.mapped("graph_uuid") if uuid]
        return self.search([("graph_uuid", "in", uuids)]) if uuids else self.browse()

    def _compute_graph_jobs_count(self):
        counts = {}
        for job in self._graph_jobs():
            counts[job.graph_uuid] = counts.get(job.graph_uuid, 0) + 1
        for record in self:
            record.graph_jobs_count = counts.get(record.graph_uuid, 0) if record.graph_uuid else 0

    @api.depends("dependencies")
    def _compute_dependency_graph(self):
        graph_jobs = self._graph_jobs()
        for record in self:
            members = graph_jobs.filtered(lambda job, g=record.graph_uuid: g and job.graph_uuid == g)
            if not members:
                record.dependency_graph = {}
                continue
            id_by_uuid = {job.uuid: job.id for job in members}
            graph = Graph()
            for job in members:
                graph.add_vertex(job.id)
                for parent_uuid in (job.dependencies or {}).get("depends_on", []):
                    if parent_uuid in id_by_uuid:
                        graph.add_edge(id_by_uuid[parent_uuid], job.id)
            record.dependency_graph = {
                "nodes": [members.browse(job_id)._dependency_graph_vis_node() for job_id in graph.vertices()],
                "edges": graph.edges(),
            }

    # (fill, border) of a node by state. The keys of a node and these values
    # are vis-network's usual palette as OCA's graph widget reads it: tests
    # written for OCA compare dependency_graph whole.
    _GRAPH_NODE_COLORS = {
        DONE: ("#C2FABC", "#4AD63A"),
        FAILED: ("#FB7E81", "#FA0A10"),
        STARTED: ("#FFFF00", "#FFA500"),
    }
    _GRAPH_NODE_DEFAULT_COLORS = ("#D2E5FF", "#2B7CE9")

    def _dependency_graph_vis_node(self):
        fill, border = self._GRAPH_NODE_COLORS.get(self.state, self._GRAPH_NODE_DEFAULT_COLORS)
        return {
            "id": self.id,
            "title": f"<strong>{html_escape(self.display_name)}</strong><br/>{html_escape(self.func_string)}",
            "color": fill,
            "border": border,
            "shadow": True,
        }

    def open_graph_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("queue_job.action_queue_job")
        action.update(
            name=_("Jobs of graph %s", self.graph_uuid),
            context={},
            domain=[("graph_uuid", "=", self.graph_uuid)],
        )
        return action
