import { registry } from "@web/core/registry";

// Batches and recurring jobs in the Job Queue menu: counts shown, and a
// cron expression that does not parse refused with the reason.
registry.category("web_tour.tours").add("queue_job_batch_schedule_tour", {
    url: "/odoo/action-queue_job.queue_job_batch_action",
    steps: () => [
        {
            content: "The batch is listed",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(Tour batch)",
            run: "click",
        },
        {
            content: "Its counts by state show",
            trigger: ".o_form_view .o_field_widget[name=failed_job_count]:contains(1)",
        },
        {
            content: "Its completion shows",
            trigger: ".o_form_view .o_field_widget[name=completion_rate] .o_progressbar",
        },
        {
            content: "Open the Queue menu",
            trigger: ".o_main_navbar button.dropdown-toggle:contains(Queue)",
            run: "click",
        },
        {
            content: "Open the recurring jobs",
            trigger: ".dropdown-menu .dropdown-item:contains(Recurring jobs)",
            run: "click",
        },
        {
            content: "The schedule is listed with its skipped ticks",
            trigger: ".o_list_view .o_data_row:contains(Tour schedule) td[name=skipped_count]:contains(3)",
        },
        {
            content: "New recurring job",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Tour nightly",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=job_function_id] input",
            run: "edit search_count",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(search_count)",
            run: "click",
        },
        {
            content: "A cron expression that does not parse",
            trigger: ".o_form_view .o_field_widget[name=cron_expression] input",
            run: "edit 61 * * * *",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Refused, saying why",
            trigger: ".modal:contains(does not parse), .o_notification:contains(does not parse)",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "A good one",
            trigger: ".o_form_view .o_field_widget[name=cron_expression] input",
            run: "edit 0 2 * * *",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved, with its next tick",
            trigger: ".o_form_view .o_form_saved .o_field_widget[name=next_call]:not(:empty), .o_form_view .o_field_widget[name=next_call] span:not(:empty)",
        },
    ],
});
