import { registry } from "@web/core/registry";

// The import and the report with their jobs run in the background by a live
// server's job runner, the page staying open: the progress bar moves and the
// end notice arrives over the bus, with no reload. Run by
// tests/e2e/test_e2e_16_demo_live.py, which slows each chunk down
// (queue_job_demo.step_delay) so that the bar has time to move.

const TIMEOUT = 60000; // a job's run on a busy machine; the most a step may wait

/** Start noting the values the page's progress bar shows between 0 and 100 %. */
function watchProgress() {
    const watch = { values: new Set() };
    watch.timer = setInterval(() => {
        const bar = document.querySelector("div[name=progress] .o_progress");
        if (bar && bar.offsetParent !== null) {
            const value = Number(bar.getAttribute("aria-valuenow"));
            if (value > 0 && value < 100) {
                watch.values.add(value);
            }
        }
    }, 50);
    window.queueJobDemoLiveWatch = watch; // gone if the page reloads
}

/** Fail unless the bar showed two values or more before the end, on this very page. */
function checkProgressMoved(what) {
    const watch = window.queueJobDemoLiveWatch;
    if (!watch) {
        throw new Error(`${what}: the page was reloaded; it must follow its job without a reload`);
    }
    clearInterval(watch.timer);
    const values = [...watch.values];
    if (values.length < 2) {
        throw new Error(
            `${what}: the progress bar showed [${values.join(", ")}] before the end; ` +
                "expected two values between 0 and 100 at least"
        );
    }
    console.log(`${what}: the progress bar showed ${values.join(", ")}`);
}

function followed(what, title, file) {
    return [
        {
            content: `${what}: the bar moved while the job ran`,
            trigger: ".o_form_view .alert-success",
            timeout: TIMEOUT,
            run: () => checkProgressMoved(what),
        },
        {
            content: `${what}: the end notice arrived, with the result file`,
            trigger: `.o_queue_job_notice:contains(${title}) button:contains(Download ${file})`,
            timeout: TIMEOUT,
            run() {
                if (!window.queueJobDemoLiveWatch) {
                    throw new Error(`${what}: the notice arrived on a reloaded page`);
                }
            },
        },
    ];
}

registry.category("web_tour.tours").add("queue_job_demo_live_tour", {
    url: "/odoo/action-queue_job_demo.queue_job_demo_import_action",
    steps: () => [
        { content: "Create an import", trigger: ".o_list_button_add", run: "click" },
        { trigger: "div[name=name] input", run: "edit Live import" },
        { trigger: "div[name=sample_rows] input", run: "edit 600" },
        { trigger: "div[name=chunk_size] input", run: "edit 50" },
        { content: "Generate the sample file", trigger: "button[name=action_generate_sample]", run: "click" },
        {
            content: "Import it in the background",
            trigger: "div[name=file] .o_download_file_button",
            run: () => {
                watchProgress();
                document.querySelector("button[name=action_start]").click();
            },
        },
        ...followed("import", "Done: Import contacts from contacts-600.csv", "bad_rows.csv"),
        { trigger: ".o_form_view .alert-success:contains(contacts created)" },
        { content: "Open the PDF report page", trigger: ".o_menu_sections :contains(PDF report)", run: "click" },
        { trigger: ".o_list_button_add", run: "click" },
        { trigger: "div[name=name] input", run: "edit Live report" },
        { trigger: "div[name=contact_count] input", run: "edit 40" },
        { trigger: "div[name=batch_size] input", run: "edit 5" },
        {
            content: "Render it in the background",
            trigger: "button[name=action_start]",
            run() {
                watchProgress();
                this.anchor.click();
            },
        },
        ...followed("report", "Done: Render Live report", "Live report"),
        { trigger: ".o_form_view .alert-success:contains(40 contacts in Live report)" },
    ],
});
