/**
 * Tour of a channel's form: the configured value beside the own settings,
 * a rate limit refused with its reason, pause and resume. The channel is
 * made by queue_job/tests/test_channel_settings_tour.py.
 */
import { registry } from "@web/core/registry";

const FORM = ".o_form_view";

/** A step the Python test answers with a screenshot (when asked to), then marks the page. */
function screenshot(name, trigger) {
    return [
        {
            trigger,
            content: `screenshot ${name}`,
            run() {
                console.log(`queue_job_channel_screenshot:${name}`);
            },
        },
        { trigger: `body.o_queue_job_channel_screenshot_${name}`, content: `screenshot ${name} taken` },
    ];
}

registry.category("web_tour.tours").add("queue_job_channel_settings_tour", {
    steps: () => [
        { trigger: `${FORM} .oe_title:contains("root.tour_sync")` },
        { trigger: `${FORM} .o_field_widget[name=configured]:contains("runs in root")` },
        // A rate limit that does not parse is refused, saying how to write one.
        { trigger: `${FORM} .o_field_widget[name=rate_limit] input`, run: "edit lots" },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: ".modal:contains('is not understood: write N per period')" },
        ...screenshot("channel_bad_rate_limit", ".modal:contains('e.g. 100/min')"),
        { trigger: ".modal .btn-primary", run: "click" },
        { trigger: `${FORM} .o_field_widget[name=rate_limit] input`, run: "edit 100/min" },
        // Own settings: the capacity starts from the configured value.
        { trigger: `${FORM} .o_field_widget[name=own_settings] input`, run: "click" },
        { trigger: `${FORM} .o_field_widget[name=capacity] input:value(2)` },
        { trigger: `${FORM} .o_field_widget[name=capacity] input`, run: "edit 3" },
        { trigger: ".o_form_button_save", run: "click" },
        { trigger: `${FORM} .o_form_saved` },
        // Pause, then resume.
        { trigger: `${FORM} button[name=action_pause]`, run: "click" },
        { trigger: `${FORM} .alert-warning:contains("Paused: no new job")` },
        ...screenshot("channel_paused", `${FORM} button[name=action_resume]`),
        { trigger: `${FORM} button[name=action_resume]`, run: "click" },
        { trigger: `${FORM} button[name=action_pause]` },
        { trigger: `${FORM}:not(:has(.alert-warning:visible))` },
    ],
});
