/** @odoo-module */
/**
 * Job lists and forms reload when one of their jobs changes; a form of a
 * record whose jobs changed (the "Jobs" smart button) reloads too.
 * At most one reload per second per view, never over unsaved changes.
 */
import { useBus } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";
import { FormController } from "@web/views/form/form_controller";
import { ListController } from "@web/views/list/list_controller";
import { JOB_UPDATE_EVENT } from "./job_updates_service";

const RELOAD_INTERVAL = 1000;

function useJobReload(controller, isConcerned, reload) {
    let timer = null;
    useBus(controller.env.bus, JOB_UPDATE_EVENT, ({ detail }) => {
        if (timer || !isConcerned(detail)) {
            return;
        }
        timer = setTimeout(async () => {
            timer = null;
            await reload();
        }, RELOAD_INTERVAL);
    });
}

patch(ListController.prototype, {
    setup() {
        super.setup(...arguments);
        if (this.props.resModel === "queue.job") {
            useJobReload(
                this,
                () => true,
                async () => {
                    if (!this.model.root.editedRecord) {
                        await this.model.load();
                    }
                }
            );
        }
    },
});

patch(FormController.prototype, {
    setup() {
        super.setup(...arguments);
        const resModel = this.props.resModel;
        const fields = this.props.fields || {};
        if (resModel !== "queue.job" && !("job_count" in fields)) {
            return;
        }
        useJobReload(
            this,
            (job) => {
                const root = this.model.root;
                if (!root || !root.resId) {
                    return false;
                }
                if (resModel === "queue.job") {
                    return job.id === root.resId;
                }
                return (job.records || []).includes(`${resModel},${root.resId}`);
            },
            async () => {
                const root = this.model.root;
                if (root && !(await root.isDirty())) {
                    await root.load();
                }
            }
        );
    },
});
