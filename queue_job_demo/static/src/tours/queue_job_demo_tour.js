import { registry } from "@web/core/registry";

// A user imports contacts from the sample CSV file, renders a PDF report of
// contacts, then runs the workflow, and sees each result on its page.
registry.category("web_tour.tours").add("queue_job_demo_tour", {
    url: "/odoo/action-queue_job_demo.queue_job_demo_import_action",
    steps: () => [
        { content: "Create an import", trigger: ".o_list_button_add", run: "click" },
        { trigger: "div[name=name] input", run: "edit Tour import" },
        { trigger: "div[name=sample_rows] input", run: "edit 1000" },
        { content: "Generate the sample file", trigger: "button[name=action_generate_sample]", run: "click" },
        { content: "The file is attached", trigger: "div[name=file] .o_download_file_button" },
        { content: "Import it", trigger: "button[name=action_start]", run: "click" },
        { content: "The page says what was imported", trigger: ".alert-success:contains(998 contacts created)" },
        { content: "The bad rows can be downloaded", trigger: "button[name=action_download_result]" },
        { content: "Open the PDF report page", trigger: ".o_menu_sections :contains(PDF report)", run: "click" },
        { trigger: ".o_list_button_add", run: "click" },
        { trigger: "div[name=name] input", run: "edit Tour report" },
        { trigger: "div[name=contact_count] input", run: "edit 40" },
        { content: "Render it", trigger: "button[name=action_start]", run: "click" },
        { content: "The report is offered", trigger: ".alert-success:contains(40 contacts in Tour report.pdf)" },
        { trigger: ".alert-success button[name=action_download_result]" },
        { content: "Open the workflow page", trigger: ".o_menu_sections :contains(Workflow)", run: "click" },
        { trigger: ".o_list_button_add", run: "click" },
        { trigger: "div[name=name] input", run: "edit Tour workflow" },
        { trigger: "div[name=contact_count] input", run: "edit 20" },
        { content: "The steps are listed once it starts", trigger: ".o_notebook th:contains(Description)" },
        { content: "Start it", trigger: "button[name=action_start]", run: "click" },
        {
            content: "The summary of the import and its checks",
            trigger: ".alert-success:contains(20 contacts imported and checked: 9 problems)",
        },
    ],
});
