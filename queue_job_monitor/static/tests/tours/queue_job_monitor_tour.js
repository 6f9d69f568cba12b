/** @odoo-module **/

import { registry } from "@web/core/registry";

const DASHBOARD_URL = "/odoo/action-queue_job_monitor.queue_job_monitor_action_dashboard";
const CHANNEL_ROW = '.o_qjm_channels tr[data-channel="root.monitor_tour"]';

registry.category("web_tour.tours").add("queue_job_monitor_dashboard", {
    url: DASHBOARD_URL,
    steps: () => [
        { trigger: `${CHANNEL_ROW} a.o_qjm_failed:contains(2)` },
        { trigger: ".o_qjm_runner:contains(No runner leads this database)" },
        { trigger: '.o_qjm_functions td:contains("<res.partner>.monitor_tour")' },
        { trigger: '.o_qjm_window button[data-window="24h"]', run: "click" },
        { trigger: '.o_qjm_window button.btn-primary[data-window="24h"]' },
        { trigger: '.o_qjm_functions td:contains("<res.partner>.monitor_tour")' },
    ],
});

registry.category("web_tour.tours").add("queue_job_monitor_drill_down", {
    url: DASHBOARD_URL,
    steps: () => [
        { trigger: `${CHANNEL_ROW} a.o_qjm_failed`, run: "click" },
        { trigger: ".o_breadcrumb:contains(root.monitor_tour: failed)" },
        // Exactly the channel's two failed jobs, nothing else.
        { trigger: ".o_list_view:not(:has(.o_data_row:nth-child(3))) .o_data_row:nth-child(2)" },
        { trigger: ".o_list_view:not(:has(.o_data_row:not(:contains(Failed))))" },
        { trigger: ".o_data_row:contains(tour failure 1)" },
    ],
});

registry.category("web_tour.tours").add("queue_job_monitor_trends", {
    url: "/odoo/action-queue_job_monitor.queue_job_metric_action",
    steps: () => [
        { trigger: ".o_graph_renderer canvas" },
        { trigger: ".o_searchview_facet:contains(Minutes)" },
    ],
});

registry.category("web_tour.tours").add("queue_job_monitor_pause", {
    url: DASHBOARD_URL,
    steps: () => [
        { trigger: `${CHANNEL_ROW}:not(:has(.o_qjm_paused)) button.o_qjm_pause:contains(Pause)`, run: "click" },
        { trigger: `${CHANNEL_ROW} .o_qjm_paused:contains(Paused)` },
        { trigger: `${CHANNEL_ROW} button.o_qjm_pause:contains(Resume)` },
    ],
});
