/** @odoo-module **/

import { Component, onMounted, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

const POLL_MS = 5000;

/** "850 ms", "12.3 s", "4.5 min", "2.1 h"; a dash when there is nothing to show. */
export function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined) {
        return "—";
    }
    if (seconds < 1) {
        return `${Math.round(seconds * 1000)} ms`;
    }
    if (seconds < 120) {
        return `${seconds.toFixed(1)} s`;
    }
    if (seconds < 7200) {
        return `${(seconds / 60).toFixed(1)} min`;
    }
    return `${(seconds / 3600).toFixed(1)} h`;
}

/** Jobs per minute: two decimals below one, so a slow channel does not read 0.0. */
export function formatPerMinute(value) {
    return value < 1 ? value.toFixed(2) : value.toFixed(1);
}

export function formatRate(rate) {
    return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`;
}

export class QueueJobMonitorDashboard extends Component {
    static template = "queue_job_monitor.Dashboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ data: null, window: "1h", error: null, loading: false });
        this.formatSeconds = formatSeconds;
        this.formatRate = formatRate;
        this.formatPerMinute = formatPerMinute;
        this.onVisibilityChange = () => {
            if (document.visibilityState === "visible") {
                this.load();
            }
        };
        onWillStart(() => this.load());
        onMounted(() => {
            this.timer = setInterval(() => this.poll(), POLL_MS);
            document.addEventListener("visibilitychange", this.onVisibilityChange);
        });
        onWillUnmount(() => {
            clearInterval(this.timer);
            document.removeEventListener("visibilitychange", this.onVisibilityChange);
        });
    }

    poll() {
        // A hidden tab costs the server nothing; it catches up when shown again.
        if (document.visibilityState !== "hidden" && !this.state.loading) {
            this.load();
        }
    }

    async load() {
        this.state.loading = true;
        try {
            this.state.data = await this.orm.call("queue.job.monitor", "dashboard_data", [this.state.window]);
            this.state.error = null;
        } catch (error) {
            this.state.error = error.data?.message || error.message || _t("The monitor could not be loaded.");
        } finally {
            this.state.loading = false;
        }
    }

    /** Pause or resume a channel, as its form's buttons do; the runners follow within seconds. */
    async togglePause(row) {
        const method = row.paused_here ? "action_resume" : "action_pause";
        await this.orm.call("queue.job.channel", method, [[row.channel_id]]);
        await this.load();
    }

    setWindow(window) {
        this.state.window = window;
        this.load();
    }

    /** Open the job list on the jobs behind a figure. */
    openJobs(title, domain) {
        this.action.doAction({
            type: "ir.actions.act_window",
            name: title,
            res_model: "queue.job",
            views: [
                [false, "list"],
                [false, "form"],
            ],
            domain,
            context: { search_default_group_by_state: 0 },
        });
    }

    channelDomain(channel, figure) {
        const data = this.state.data;
        const base = [["channel", "=", channel]];
        const domains = {
            running: [["state", "in", ["enqueued", "started"]]],
            ready: [["state", "=", "pending"], "|", ["eta", "=", false], ["eta", "<=", data.now]],
            scheduled: [["state", "=", "pending"], ["eta", ">", data.now]],
            waiting: [["state", "=", "wait_dependencies"]],
            failed: [["state", "=", "failed"]],
            done_5m: [["state", "=", "done"], ["date_done", ">=", data.since["5m"]]],
            done_1h: [["state", "=", "done"], ["date_done", ">=", data.since["1h"]]],
        };
        return [...base, ...domains[figure]];
    }

    openChannel(row, figure) {
        const labels = {
            running: _t("running"),
            ready: _t("ready"),
            scheduled: _t("scheduled"),
            waiting: _t("waiting for dependencies"),
            failed: _t("failed"),
            done_5m: _t("done in the last 5 minutes"),
            done_1h: _t("done in the last hour"),
        };
        this.openJobs(`${row.channel}: ${labels[figure]}`, this.channelDomain(row.channel, figure));
    }

    openFunction(row, figure) {
        const func = [["channel_method_name", "=", row.function]];
        const since = this.state.data.since.window;
        const domains = {
            jobs: ["|", ["state", "=", "failed"], "&", ["state", "=", "done"], ["date_done", ">=", since]],
            done: [["state", "=", "done"], ["date_done", ">=", since]],
            failed: [["state", "=", "failed"]],
        };
        this.openJobs(`${row.function}: ${figure}`, [...func, ...domains[figure]]);
    }

    openRunning() {
        this.openJobs(_t("Jobs in flight"), [["state", "in", ["enqueued", "started"]]]);
    }
}

registry.category("actions").add("queue_job_monitor.dashboard", QueueJobMonitorDashboard);
