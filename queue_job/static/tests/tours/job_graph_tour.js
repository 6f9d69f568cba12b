/**
 * Tours of the graph drawn on a job's form (widget ``job_directed_graph``).
 * The jobs are made by queue_job/tests/test_graph_widget_tour.py: its
 * docstring says which graph each tour opens.
 */
import { registry } from "@web/core/registry";

// Waits for the widget to have zoomed and scrolled to the current job.
const GRAPH = ".o_field_job_directed_graph .o_job_graph_placed .o_job_graph_svg";

function fail(message) {
    throw new Error(`job graph: ${message}`);
}

function expectEqual(actual, expected, what) {
    if (actual !== expected) {
        fail(`${what}: expected ${expected}, got ${actual}`);
    }
}

function nodeNamed(name) {
    return `${GRAPH} .o_job_graph_node:has(.o_job_graph_label:contains("${name}"))`;
}

function formTitleIs(name) {
    return `.o_form_view .oe_title .o_field_widget[name=name]:contains("${name}")`;
}

/** Checks what every drawing must show: counts, one current job, the form's job. */
function checkDrawing(svg, { nodes, edges }) {
    expectEqual(svg.querySelectorAll(".o_job_graph_node").length, nodes, "nodes drawn");
    expectEqual(svg.querySelectorAll(".o_job_graph_edge").length, edges, "arrows drawn");
    expectEqual(Number(svg.dataset.nodeCount), nodes, "nodes counted");
    // The graphs of these tours can be drawn without two arrows crossing: the ordering must find that.
    expectEqual(Number(svg.dataset.crossings), 0, "crossing arrows");
    const current = svg.querySelectorAll(".o_job_graph_node_current");
    expectEqual(current.length, 1, "jobs marked current");
    expectEqual(current[0].querySelectorAll(".o_job_graph_current_ring").length, 1, "ring of the current job");
    const formName = document.querySelector(".o_form_view .oe_title .o_field_widget[name=name]").textContent.trim();
    expectEqual(current[0].querySelector("title").textContent.split("\n")[0], formName, "current job");
    // Arrows join drawn jobs, from parent to child.
    const ids = new Set([...svg.querySelectorAll(".o_job_graph_node")].map((node) => node.dataset.jobId));
    for (const edge of svg.querySelectorAll(".o_job_graph_edge")) {
        if (!ids.has(edge.dataset.from) || !ids.has(edge.dataset.to)) {
            fail(`arrow ${edge.dataset.from} -> ${edge.dataset.to} joins a job not drawn`);
        }
    }
    return current[0];
}

/** A step the Python test answers: it takes a screenshot when asked to, then marks the page. */
function screenshotSteps(name) {
    return [
        {
            trigger: GRAPH,
            content: `screenshot ${name}`,
            run() {
                this.anchor.closest(".o_field_widget").scrollIntoView({ block: "center" });
                console.log(`queue_job_graph_screenshot:${name}`);
            },
        },
        {
            trigger: `body.o_queue_job_screenshot_${name}`,
            content: `screenshot ${name} taken`,
        },
    ];
}

registry.category("web_tour.tours").add("queue_job_graph_tour", {
    steps: () => [
        {
            trigger: `${formTitleIs("Graph step C")}`,
            content: "The form of job C is open",
        },
        {
            trigger: `${GRAPH}[data-node-count="7"]`,
            content: "The graph of C's chain is drawn",
            run() {
                const svg = this.anchor;
                checkDrawing(svg, { nodes: 7, edges: 7 });
                const byName = {};
                for (const node of svg.querySelectorAll(".o_job_graph_node")) {
                    byName[node.querySelector(".o_job_graph_label").textContent] = node;
                }
                const colors = {
                    "Graph step A": ["done", "#C2FABC"],
                    "Graph step B": ["failed", "#FB7E81"],
                    "Graph step G": ["pending", "#D2E5FF"],
                    // B failed for good: what waited for it is cancelled.
                    "Graph step C": ["cancelled", "#D2E5FF"],
                };
                for (const [name, [state, fill]] of Object.entries(colors)) {
                    const node = byName[name] || fail(`no node ${name}`);
                    expectEqual(node.dataset.state, state, `state of ${name}`);
                    expectEqual(node.querySelector(".o_job_graph_box").getAttribute("fill"), fill, `colour of ${name}`);
                }
                // Arrows go right, from parent to child: A, B and G feed C.
                const arrowsIntoC = svg.querySelectorAll(
                    `.o_job_graph_edge[data-to="${byName["Graph step C"].dataset.jobId}"]`
                );
                expectEqual(arrowsIntoC.length, 3, "arrows into C");
                const columnOf = (name) => Number(byName[name].getAttribute("transform").match(/translate\(([\d.]+)/)[1]);
                if (!(columnOf("Graph step A") < columnOf("Graph step C") && columnOf("Graph step C") < columnOf("Graph step F"))) {
                    fail("a parent is not drawn left of its child");
                }
                const tooltip = byName["Graph step B"].querySelector("title").textContent;
                if (!tooltip.includes("Graph step B") || !tooltip.includes("Failed")) {
                    fail(`tooltip of B: ${tooltip}`);
                }
                const legend = [...document.querySelectorAll(".o_job_graph_legend")].map((el) => el.textContent.trim());
                if (!legend.some((text) => text.includes("Done")) || !legend.some((text) => text.includes("Failed"))) {
                    fail(`legend without Done or Failed: ${legend}`);
                }
            },
        },
        ...screenshotSteps("job_graph"),
        {
            trigger: nodeNamed("Graph step A"),
            content: "Open job A from the graph",
            run: "click",
        },
        {
            trigger: formTitleIs("Graph step A"),
            content: "The form of job A is open",
        },
        {
            trigger: `${GRAPH} .o_job_graph_node_current:has(.o_job_graph_label:contains("Graph step A"))`,
            content: "A is now the current job of the graph",
            run() {
                checkDrawing(this.anchor.closest("svg"), { nodes: 7, edges: 7 });
            },
        },
        {
            trigger: ".o_breadcrumb:contains('Graph step C')",
            content: "The breadcrumb leads back to C",
        },
    ],
});

registry.category("web_tour.tours").add("queue_job_graph_big_tour", {
    steps: () => [
        {
            trigger: `${GRAPH}[data-node-count="292"]`,
            content: "The graph of 292 jobs is drawn",
            run() {
                const svg = this.anchor;
                const current = checkDrawing(svg, { nodes: 292, edges: 319 });
                expectEqual(current.dataset.state, "failed", "state of the current job");
                const states = new Set([...svg.querySelectorAll(".o_job_graph_node")].map((node) => node.dataset.state));
                expectEqual([...states].sort().join(","), "cancelled,done,failed,pending,wait_dependencies", "states drawn");
                const canvas = svg.closest(".o_job_graph_canvas");
                if (canvas.scrollHeight <= canvas.clientHeight) {
                    fail("a graph of 292 jobs should scroll inside its frame");
                }
                if (canvas.getBoundingClientRect().height > window.innerHeight) {
                    fail("the frame of the graph is taller than the window");
                }
                // The current job is scrolled into the visible part of the frame.
                const frame = canvas.getBoundingClientRect();
                const box = current.getBoundingClientRect();
                if (box.top < frame.top || box.bottom > frame.bottom || box.left < frame.left || box.right > frame.right) {
                    fail("the current job is not in view");
                }
                const longName = "Graph chain 3 step 4 with a description long enough to be cut";
                const titles = [...svg.querySelectorAll(".o_job_graph_node title")].map((title) => title.textContent);
                if (!titles.some((title) => title.startsWith(longName))) {
                    fail("the full name of a truncated label is not in its tooltip");
                }
                for (const label of svg.querySelectorAll(".o_job_graph_label")) {
                    if (label.textContent.length > 25) {
                        fail(`label not truncated: ${label.textContent}`);
                    }
                }
            },
        },
        ...screenshotSteps("job_graph_big"),
        {
            trigger: ".o_job_graph_zoom_fit",
            content: "Fit the whole graph in its frame",
            run: "click",
        },
        {
            trigger: `${GRAPH}`,
            content: "The whole graph fits",
            run() {
                const canvas = this.anchor.closest(".o_job_graph_canvas");
                if (canvas.scrollWidth > canvas.clientWidth + 1 || canvas.scrollHeight > canvas.clientHeight + 1) {
                    fail("after Fit, the graph still scrolls");
                }
            },
        },
        {
            trigger: ".o_job_graph_zoom_reset",
            content: "Back to actual size",
            run: "click",
        },
        {
            trigger: ".o_job_graph_zoom_reset:contains('100%')",
            content: "Actual size",
        },
    ],
});
