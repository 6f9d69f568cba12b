/** @odoo-module */
/* The job form as a non-technical user sees it: state in words, record, progress, result, error. */
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("queue_job_form_for_people", {
    steps: () => [
        {
            content: "The summary says what happened, in words",
            trigger: ".o_queue_job_summary:contains('Failed'):contains('on Follow-me Ltd')",
        },
        {
            content: "The progress the job reached before failing",
            trigger: ".o_queue_job_summary .o_progressbar:contains('75')",
        },
        {
            content: "The error in one sentence",
            trigger: ".o_queue_job_summary .alert-danger:contains(\"The file has no 'email' column\")",
        },
        {
            content: "The result file can be downloaded",
            trigger: ".o_queue_job_summary button[name=action_download_result]",
        },
        {
            content: "No traceback for a user without technical features",
            trigger: "body:not(:has(.o_field_widget[name=exc_info])):not(:has(.o_field_widget[name=exc_name]))",
        },
        {
            content: "A bus update of this job reloads the form (the reload must not break it)",
            trigger: ".o_form_view .o_queue_job_summary",
            run: async () => {
                const jobId = Number(window.location.pathname.split("/").pop());
                odoo.__WOWL_DEBUG__.root.env.bus.trigger("QUEUE_JOB:UPDATE", { id: jobId, state: "failed" });
                await new Promise((resolve) => setTimeout(resolve, 1500));
            },
        },
        {
            content: "Still the same job after the reload",
            trigger: ".o_queue_job_summary .alert-danger:contains(\"The file has no 'email' column\")",
        },
    ],
});

registry.category("web_tour.tours").add("queue_job_list_progress", {
    steps: () => [
        {
            content: "The job list shows a progress bar per job",
            trigger: ".o_list_view .o_data_row .o_progressbar",
        },
        {
            content: "A bus update reloads the list",
            trigger: ".o_list_view",
            run: async () => {
                odoo.__WOWL_DEBUG__.root.env.bus.trigger("QUEUE_JOB:UPDATE", { id: 0, state: "started" });
                await new Promise((resolve) => setTimeout(resolve, 1500));
            },
        },
        {
            content: "The list is still there after the reload",
            trigger: ".o_list_view .o_data_row .o_progressbar",
        },
    ],
});
