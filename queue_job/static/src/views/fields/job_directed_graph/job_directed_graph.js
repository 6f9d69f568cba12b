import { Component, markRaw, useEffect, useRef, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { useRecordObserver } from "@web/model/relational_model/utils";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH } from "./job_graph_layout";

// Past this many jobs the layout and the SVG take seconds: ask first.
const ASK_BEFORE_DRAWING = 2000;
const LABEL_CHARS = 25;
const DETAIL_CHARS = 28;
const MIN_SCALE = 0.1;
const MAX_SCALE = 2;
// The first drawing may shrink a wide graph, not below what stays readable.
const MIN_INITIAL_SCALE = 0.6;
const ZOOM_STEP = 1.25;

let nextInstance = 1;

function truncate(text, size) {
    return text.length > size ? `${text.slice(0, size - 1).trimEnd()}…` : text;
}

/**
 * The title of a node is HTML written by the server (``<strong>name</strong>
 * <br/>function``): parsed without running anything, to plain text lines.
 */
function titleLines(html) {
    if (!html) {
        return [];
    }
    const doc = new DOMParser().parseFromString(html.replace(/<br\s*\/?>/gi, "\n"), "text/html");
    return (doc.body.textContent || "")
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
}

/** Fill and border of a node: OCA's ``color``/``border`` keys, or vis-network's colour object. */
function nodeColors(node) {
    const color = node.color;
    if (color && typeof color === "object") {
        return { fill: color.background || "#D2E5FF", stroke: color.border || "#2B7CE9" };
    }
    return { fill: color || "#D2E5FF", stroke: node.border || "#2B7CE9" };
}

/**
 * Draws the graph of jobs a job belongs to (its chain or group), from the
 * ``dependency_graph`` field: ``{nodes: [{id, title, color, border, shadow}],
 * edges: [[parent id, child id]]}``. A click on a job opens it.
 */
export class JobDirectedGraph extends Component {
    static template = "queue_job.JobDirectedGraph";
    static props = { ...standardFieldProps };
    nodeWidth = NODE_WIDTH;
    nodeHeight = NODE_HEIGHT;

    setup() {
        this.action = useService("action");
        this.orm = useService("orm");
        this.canvasRef = useRef("canvas");
        this.markerId = `o_job_graph_arrow_${nextInstance}`;
        this.currentMarkerId = `o_job_graph_arrow_current_${nextInstance}`;
        nextInstance++;
        this.state = useState({ scale: 1, drawAnyway: false, value: null, states: null, placed: false });
        this.drawn = null;
        useRecordObserver(async (record, props) => {
            const value = record.data[props.name];
            const states = await this.fetchStates(value, props);
            Object.assign(this.state, { value: markRaw(value || {}), states: markRaw(states) });
        });
        this.svgRef = useRef("svg");
        // Once per drawn graph: zoom to fit its width, then centre the current job.
        this.pendingFocus = null;
        useEffect(
            (graph) => graph && this.placeInitially(graph),
            () => [this.graph]
        );
        useEffect(() => this.focusWhenDrawn());
    }

    get nodeCount() {
        return this.state.value?.nodes?.length || 0;
    }

    get tooBig() {
        return this.nodeCount > ASK_BEFORE_DRAWING && !this.state.drawAnyway;
    }

    get stateLabels() {
        return Object.fromEntries(this.props.record.fields.state?.selection || []);
    }

    /** The drawing, computed once per value of the field. */
    get graph() {
        const value = this.state.value;
        if (!this.nodeCount || this.tooBig) {
            return null;
        }
        if (this.drawn?.value !== value || this.drawn?.states !== this.state.states) {
            this.drawn = { value, states: this.state.states, ...this.draw(value, this.state.states) };
        }
        return this.drawn;
    }

    /** One entry per colour, naming its states in the order of the state field. */
    get legend() {
        const rank = new Map(
            (this.props.record.fields.state?.selection || []).map(([state], index) => [state, index])
        );
        const byColor = new Map();
        for (const node of this.graph?.nodes || []) {
            if (!node.stateLabel) {
                continue;
            }
            const key = `${node.fill}/${node.stroke}`;
            if (!byColor.has(key)) {
                byColor.set(key, { key, fill: node.fill, stroke: node.stroke, states: new Map() });
            }
            byColor.get(key).states.set(node.state, node.stateLabel);
        }
        const rankOf = (state) => rank.get(state) ?? rank.size;
        return [...byColor.values()]
            .map((entry) => {
                const states = [...entry.states.keys()].sort((a, b) => rankOf(a) - rankOf(b));
                return { ...entry, rank: rankOf(states[0]), text: states.map((s) => entry.states.get(s)).join(", ") };
            })
            .sort((a, b) => a.rank - b.rank);
    }

    get zoomPercent() {
        return Math.round(this.state.scale * 100);
    }

    /** The state of each job, when the server's nodes do not carry it (OCA's do not). */
    async fetchStates(value, props) {
        const nodes = value?.nodes || [];
        if (!nodes.length || nodes.every((node) => node.state)) {
            return null;
        }
        try {
            const ids = nodes.map((node) => node.id);
            const rows = await this.orm.read(props.record.resModel, ids, ["state"]);
            return Object.fromEntries(rows.map((row) => [row.id, row.state]));
        } catch {
            // Only the legend and the tooltips lose the state: the colours say it.
            return null;
        }
    }

    draw(value, states) {
        const currentId = this.props.record.resId;
        const labels = this.stateLabels;
        // By id, i.e. in the order the jobs were created: the same drawing on every load.
        const sorted = [...value.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const layout = layoutGraph(
            sorted.map((node) => node.id),
            value.edges || []
        );
        const nodes = sorted.map((node, index) => {
            const lines = titleLines(node.title);
            const name = node.label || lines[0] || _t("Job %s", node.id);
            const state = node.state || states?.[node.id];
            const stateLabel = state ? labels[state] || state : "";
            const detail = stateLabel || lines[1] || "";
            const { fill, stroke } = nodeColors(node);
            const current = node.id === currentId;
            return {
                id: node.id,
                x: layout.nodes[index].x,
                y: layout.nodes[index].y,
                label: truncate(name, LABEL_CHARS),
                detail: truncate(detail, DETAIL_CHARS),
                hover: [...(lines.length ? lines : [name]), stateLabel].filter(Boolean).join("\n"),
                fill,
                stroke,
                state: state || "",
                stateLabel,
                current,
                classes: {
                    o_job_graph_node: true,
                    o_job_graph_node_current: current,
                    o_job_graph_node_shadow: Boolean(node.shadow),
                    [`o_job_graph_state_${state}`]: Boolean(state),
                },
            };
        });
        const edges = layout.edges.map((edge, index) => ({
            key: `${index}:${edge.from}>${edge.to}`,
            from: edge.from,
            to: edge.to,
            path: edge.path,
            current: edge.from === currentId || edge.to === currentId,
        }));
        return markRaw({ nodes, edges, width: layout.width, height: layout.height, crossings: layout.crossings });
    }

    placeInitially(graph) {
        const canvas = this.canvasRef.el;
        if (!canvas) {
            return;
        }
        const fit = Math.min(1, (canvas.clientWidth - 4) / graph.width);
        this.state.scale = Math.max(MIN_INITIAL_SCALE, fit);
        this.state.placed = false;
        this.pendingFocus = graph.nodes.find((node) => node.current) || graph.nodes[0];
    }

    /** Scrolls to the current job once the SVG has its new size (a render after the zoom). */
    focusWhenDrawn() {
        const svg = this.svgRef.el;
        if (!this.pendingFocus || !svg) {
            return;
        }
        if (Math.abs(svg.width.baseVal.value - this.graph.width * this.state.scale) > 0.5) {
            return;
        }
        this.scrollTo(this.pendingFocus);
        this.pendingFocus = null;
        this.state.placed = true;
    }

    scrollTo(node) {
        const canvas = this.canvasRef.el;
        if (!canvas) {
            return;
        }
        const scale = this.state.scale;
        canvas.scrollLeft = (node.x + NODE_WIDTH / 2) * scale - canvas.clientWidth / 2;
        canvas.scrollTop = (node.y + NODE_HEIGHT / 2) * scale - canvas.clientHeight / 2;
    }

    zoom(factor) {
        this.setScale(this.state.scale * factor);
    }

    setScale(scale) {
        this.state.scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
    }

    zoomToFit() {
        const canvas = this.canvasRef.el;
        const graph = this.graph;
        if (canvas && graph) {
            this.setScale(
                Math.min(
                    (canvas.clientWidth - 4) / graph.width,
                    (canvas.clientHeight - 4) / graph.height,
                    1
                )
            );
        }
    }

    onWheel(ev) {
        // Plain wheel scrolls; Ctrl (or a pinch on a touchpad) zooms.
        if (ev.ctrlKey) {
            ev.preventDefault();
            this.zoom(ev.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP);
        }
    }

    onNodeClick(ev) {
        const element = ev.target.closest("[data-job-id]");
        if (element) {
            this.openJob(Number(element.dataset.jobId));
        }
    }

    onNodeKeydown(ev) {
        if (ev.key === "Enter" || ev.key === " ") {
            ev.preventDefault();
            this.onNodeClick(ev);
        }
    }

    async openJob(jobId) {
        if (!jobId || jobId === this.props.record.resId) {
            return;
        }
        await this.action.doAction({
            type: "ir.actions.act_window",
            res_model: this.props.record.resModel,
            res_id: jobId,
            views: [[false, "form"]],
            target: "current",
        });
    }
}

export const jobDirectedGraph = {
    component: JobDirectedGraph,
    displayName: _t("Graph of jobs"),
    supportedTypes: ["json"],
};

registry.category("fields").add("job_directed_graph", jobDirectedGraph);
// OCA's name for the same widget, so that views written for OCA's queue_job work.
registry.category("fields").add("job_direct_graph", jobDirectedGraph);
