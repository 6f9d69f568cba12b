/** @odoo-module */
/**
 * Live job updates from the bus (see queue_job/progress.py):
 * - "queue_job/progress": a job's progress or state changed; re-broadcast on
 *   env.bus so that job views (and forms showing a record's jobs) reload;
 * - "queue_job/notice": the job the user asked to hear about ended; shown as
 *   a notification with a link to the record and to the result file.
 */
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";

export const JOB_UPDATE_EVENT = "QUEUE_JOB:UPDATE";

export const jobUpdatesService = {
    dependencies: ["bus_service", "notification"],
    start(env, { bus_service, notification }) {
        bus_service.subscribe("queue_job/progress", (payload) => {
            // One job, or the jobs a worker's slot ended ({jobs: [...]}).
            for (const job of payload.jobs || [payload]) {
                env.bus.trigger(JOB_UPDATE_EVENT, job);
            }
        });
        bus_service.subscribe("queue_job/notice", (payload) => {
            const buttons = [];
            if (payload.record_url) {
                buttons.push({
                    name: _t("Open the record"),
                    onClick: () => window.location.assign(payload.record_url),
                });
            }
            if (payload.file_url) {
                buttons.push({
                    name: _t("Download %s", payload.file_name || _t("the result")),
                    primary: true,
                    onClick: () => window.location.assign(payload.file_url),
                });
            }
            notification.add(payload.message, {
                title: payload.title,
                type: payload.state === "done" ? "success" : "danger",
                sticky: payload.state !== "done" || buttons.length > 0,
                buttons,
                className: "o_queue_job_notice",
            });
        });
        bus_service.start();
    },
};

registry.category("services").add("queue_job_updates", jobUpdatesService);
